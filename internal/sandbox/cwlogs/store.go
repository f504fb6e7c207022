// Package cwlogs is the sandbox's CloudWatch Logs: log groups, log
// streams and their events in memory, and the operations jitssh uses
// (CreateLogGroup, CreateLogStream, DescribeLogGroups, DescribeLogStreams,
// PutLogEvents, FilterLogEvents, GetLogEvents) with AWS's parameters,
// limits and errors. The API handler (package apis) authenticates,
// applies the knobs and dispatches here through Serve; IAM authorization
// is asked of the caller-supplied Authorizer with the logs: action and the
// resource ARN AWS evaluates (see docs/sandbox.md, "CloudWatch Logs").
package cwlogs

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// PutLogEvents limits, as documented by AWS.
const (
	MaxBatchBytes    = 1_048_576 // sum of UTF-8 message bytes + EventOverhead per event
	EventOverhead    = 26
	MaxEventBytes    = 1_048_576 // one event, message + EventOverhead (256 KB until AWS raised it)
	MaxBatchEvents   = 10_000
	MaxBatchSpan     = 24 * time.Hour
	MaxEventAge      = 14 * 24 * time.Hour
	MaxEventFuture   = 2 * time.Hour
	MaxFilterLimit   = 10_000
	MaxDescribeLimit = 50
	MaxResponseBytes = 1_048_576 // FilterLogEvents and GetLogEvents pages
)

// Event is one stored log event.
type Event struct {
	Stream    string
	Timestamp int64 // ms since the epoch, as given
	Ingestion int64 // ms since the epoch, when stored
	Message   string
	seq       uint64
}

// ID is the event's id as FilterLogEvents returns it (unique in the
// store, stable).
func (e Event) ID() string { return fmt.Sprintf("%020d%016d", e.Timestamp, e.seq) }

type group struct {
	name    string
	created int64
	streams map[string]*stream
}

type stream struct {
	name       string
	created    int64
	events     []Event // by (Timestamp, seq)
	lastIngest int64
	token      uint64
	bytes      int64
}

// Store holds the account's log groups. It is safe for concurrent use.
type Store struct {
	// Region and Account name the ARNs.
	Region, Account string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	groups map[string]*group
	seq    uint64
}

// New returns an empty store for region and account.
func New(region, account string, now func() time.Time) *Store {
	return &Store{Region: region, Account: account, Now: now}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// GroupARN returns the ARN IAM evaluates group-level actions on.
func (s *Store) GroupARN(name string) string {
	return "arn:aws:logs:" + s.Region + ":" + s.Account + ":log-group:" + name + ":*"
}

// StreamARN returns the ARN IAM evaluates stream-level actions on.
func (s *Store) StreamARN(groupName, streamName string) string {
	return "arn:aws:logs:" + s.Region + ":" + s.Account + ":log-group:" + groupName + ":log-stream:" + streamName
}

// CreateGroup creates a log group (the sandbox's configured ones), if it
// does not exist yet.
func (s *Store) CreateGroup(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[string]*group{}
	}
	if s.groups[name] == nil {
		s.groups[name] = &group{name: name, created: s.now().UnixMilli(), streams: map[string]*stream{}}
	}
}

// Events returns a copy of every event of a group, ordered by timestamp
// (for tests and the sandbox's own checks); nil when there is no group.
func (s *Store) Events(groupName string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupName]
	if g == nil {
		return nil
	}
	var out []Event
	for _, st := range g.streams {
		out = append(out, st.events...)
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}

func less(a, b Event) bool {
	if a.Timestamp != b.Timestamp {
		return a.Timestamp < b.Timestamp
	}
	return a.seq < b.seq
}

// insert adds events (already validated) to st at ingestion time now.
func (s *Store) insert(st *stream, msgs []inputEvent, now int64) {
	sorted := len(st.events) == 0 || len(msgs) == 0 || st.events[len(st.events)-1].Timestamp <= msgs[0].Timestamp
	for _, m := range msgs {
		s.seq++
		st.events = append(st.events, Event{Stream: st.name, Timestamp: m.Timestamp, Ingestion: now, Message: m.Message, seq: s.seq})
		st.bytes += int64(len(m.Message))
	}
	if !sorted {
		sort.SliceStable(st.events, func(i, j int) bool { return less(st.events[i], st.events[j]) })
	}
	st.lastIngest = now
	st.token++
}
