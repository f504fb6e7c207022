package cwlogs

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
)

// Authorizer decides one IAM action (logs:…) on resource for the caller,
// returning the service's AccessDeniedException when it is denied.
type Authorizer func(action, resource string) error

// Operations the store serves.
var Operations = []string{"CreateLogGroup", "CreateLogStream", "DescribeLogGroups", "DescribeLogStreams",
	"PutLogEvents", "FilterLogEvents", "GetLogEvents"}

// Traced reports whether CloudTrail records op: CloudWatch Logs'
// data-plane reads and writes are not recorded.
func Traced(op string) bool {
	return op != "PutLogEvents" && op != "FilterLogEvents" && op != "GetLogEvents"
}

// Serve decodes one JSON 1.1 request body of op, authorizes it and runs
// it, returning the value to encode as the response or an *awsproto.Error.
func (s *Store) Serve(op string, body []byte, authz Authorizer) (any, error) {
	switch op {
	case "CreateLogGroup":
		return s.createLogGroup(body, authz)
	case "CreateLogStream":
		return s.createLogStream(body, authz)
	case "DescribeLogGroups":
		return s.describeLogGroups(body, authz)
	case "DescribeLogStreams":
		return s.describeLogStreams(body, authz)
	case "PutLogEvents":
		return s.putLogEvents(body, authz)
	case "FilterLogEvents":
		return s.filterLogEvents(body, authz)
	case "GetLogEvents":
		return s.getLogEvents(body, authz)
	}
	return nil, awsproto.Errorf("UnknownOperationException", "Unknown operation Logs_20140328.%s", op)
}

func invalid(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf("InvalidParameterException", format, args...)
}

var (
	errNoGroup  = awsproto.Errorf("ResourceNotFoundException", "The specified log group does not exist.")
	errNoStream = awsproto.Errorf("ResourceNotFoundException", "The specified log stream does not exist.")
)

// decode reads body into v (a struct of pointers): a member of the wrong
// JSON type is a SerializationException, as on AWS.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &awsproto.Error{Code: "SerializationException", Message: "Request body does not match the operation's input: " + firstLine(err.Error())}
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// checks collects model constraint violations, worded as AWS's front end.
type checks []string

func (c *checks) fail(value *string, member, constraint string) {
	val := "null"
	if value != nil {
		val = "'" + *value + "'"
	}
	*c = append(*c, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: Member must %s", val, member, constraint))
}

var (
	groupNameRE  = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)
	streamNameRE = regexp.MustCompile(`^[^:*]*$`)
)

func (c *checks) name(v *string, member string, required bool, re *regexp.Regexp, reText string) {
	if v == nil {
		if required {
			c.fail(nil, member, "not be null")
		}
		return
	}
	switch n := utf8.RuneCountInString(*v); {
	case n < 1:
		c.fail(v, member, "have length greater than or equal to 1")
	case n > 512:
		c.fail(v, member, "have length less than or equal to 512")
	}
	if re != nil && !re.MatchString(*v) {
		c.fail(v, member, "satisfy regular expression pattern: "+reText)
	}
}

func (c *checks) limit(v *int64, member string, maxN int64) {
	if v == nil {
		return
	}
	s := strconv.FormatInt(*v, 10)
	if *v < 1 {
		c.fail(&s, member, "have value greater than or equal to 1")
	}
	if *v > maxN {
		c.fail(&s, member, fmt.Sprintf("have value less than or equal to %d", maxN))
	}
}

func (c checks) err() error {
	if len(c) == 0 {
		return nil
	}
	noun := "error"
	if len(c) > 1 {
		noun = "errors"
	}
	return invalid("%d validation %s detected: %s", len(c), noun, strings.Join(c, "; "))
}

const groupRE, streamRE = `[\.\-_/#A-Za-z0-9]+`, `[^:*]*`

// groupName resolves logGroupName or logGroupIdentifier (a name or an ARN).
func groupName(name, ident *string, c *checks) string {
	if name != nil && ident != nil {
		*c = append(*c, "LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	}
	if ident != nil {
		id := *ident
		if strings.HasPrefix(id, "arn:") {
			if _, rest, ok := strings.Cut(id, ":log-group:"); ok {
				id = strings.TrimSuffix(rest, ":*")
			}
		}
		c.name(&id, "logGroupIdentifier", true, groupNameRE, groupRE)
		return id
	}
	c.name(name, "logGroupName", true, groupNameRE, groupRE)
	if name == nil {
		return ""
	}
	return *name
}

type createGroupIn struct {
	LogGroupName *string `json:"logGroupName"`
}

func (s *Store) createLogGroup(body []byte, authz Authorizer) (any, error) {
	var in createGroupIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checks
	c.name(in.LogGroupName, "logGroupName", true, groupNameRE, groupRE)
	if err := c.err(); err != nil {
		return nil, err
	}
	if err := authz("logs:CreateLogGroup", s.GroupARN(*in.LogGroupName)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[string]*group{}
	}
	if s.groups[*in.LogGroupName] != nil {
		return nil, awsproto.Errorf("ResourceAlreadyExistsException", "The specified log group already exists")
	}
	s.groups[*in.LogGroupName] = &group{name: *in.LogGroupName, created: s.now().UnixMilli(), streams: map[string]*stream{}}
	return struct{}{}, nil
}

type createStreamIn struct {
	LogGroupName  *string `json:"logGroupName"`
	LogStreamName *string `json:"logStreamName"`
}

func (s *Store) createLogStream(body []byte, authz Authorizer) (any, error) {
	var in createStreamIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checks
	c.name(in.LogGroupName, "logGroupName", true, groupNameRE, groupRE)
	c.name(in.LogStreamName, "logStreamName", true, streamNameRE, streamRE)
	if err := c.err(); err != nil {
		return nil, err
	}
	if err := authz("logs:CreateLogStream", s.StreamARN(*in.LogGroupName, *in.LogStreamName)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[*in.LogGroupName]
	if g == nil {
		return nil, errNoGroup
	}
	if g.streams[*in.LogStreamName] != nil {
		return nil, awsproto.Errorf("ResourceAlreadyExistsException", "The specified log stream already exists")
	}
	g.streams[*in.LogStreamName] = &stream{name: *in.LogStreamName, created: s.now().UnixMilli()}
	return struct{}{}, nil
}

type describeGroupsIn struct {
	LogGroupNamePrefix *string `json:"logGroupNamePrefix"`
	NextToken          *string `json:"nextToken"`
	Limit              *int64  `json:"limit"`
}

type logGroupOut struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	LogGroupArn       string `json:"logGroupArn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
}

func (s *Store) describeLogGroups(body []byte, authz Authorizer) (any, error) {
	var in describeGroupsIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checks
	c.name(in.LogGroupNamePrefix, "logGroupNamePrefix", false, groupNameRE, groupRE)
	c.limit(in.Limit, "limit", MaxDescribeLimit)
	if err := c.err(); err != nil {
		return nil, err
	}
	if err := authz("logs:DescribeLogGroups", "arn:aws:logs:"+s.Region+":"+s.Account+":log-group:*"); err != nil {
		return nil, err
	}
	after, err := nameToken(in.NextToken)
	if err != nil {
		return nil, err
	}
	limit := int64(MaxDescribeLimit)
	if in.Limit != nil {
		limit = *in.Limit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.groups))
	for n := range s.groups {
		if (in.LogGroupNamePrefix == nil || strings.HasPrefix(n, *in.LogGroupNamePrefix)) && n > after {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := struct {
		LogGroups []logGroupOut `json:"logGroups"`
		NextToken string        `json:"nextToken,omitempty"`
	}{LogGroups: []logGroupOut{}}
	for i, n := range names {
		if int64(i) == limit {
			out.NextToken = makeNameToken(out.LogGroups[len(out.LogGroups)-1].LogGroupName)
			break
		}
		g := s.groups[n]
		var stored int64
		for _, st := range g.streams {
			stored += st.bytes
		}
		arn := strings.TrimSuffix(s.GroupARN(n), ":*")
		out.LogGroups = append(out.LogGroups, logGroupOut{LogGroupName: n, CreationTime: g.created, Arn: arn + ":*", LogGroupArn: arn, StoredBytes: stored, LogGroupClass: "STANDARD"})
	}
	return out, nil
}

// nameToken decodes a Describe* page token: the last name returned.
func nameToken(tok *string) (string, error) {
	if tok == nil {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*tok)
	if err != nil || !strings.HasPrefix(string(b), "n/") {
		return "", invalid("The specified nextToken is invalid.")
	}
	return string(b[2:]), nil
}

func makeNameToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("n/" + last))
}

type describeStreamsIn struct {
	LogGroupName        *string `json:"logGroupName"`
	LogGroupIdentifier  *string `json:"logGroupIdentifier"`
	LogStreamNamePrefix *string `json:"logStreamNamePrefix"`
	OrderBy             *string `json:"orderBy"`
	Descending          *bool   `json:"descending"`
	NextToken           *string `json:"nextToken"`
	Limit               *int64  `json:"limit"`
}

type logStreamOut struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	UploadSequenceToken string `json:"uploadSequenceToken,omitempty"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

func (s *Store) describeLogStreams(body []byte, authz Authorizer) (any, error) {
	var in describeStreamsIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checks
	gname := groupName(in.LogGroupName, in.LogGroupIdentifier, &c)
	c.name(in.LogStreamNamePrefix, "logStreamNamePrefix", false, streamNameRE, streamRE)
	c.limit(in.Limit, "limit", MaxDescribeLimit)
	if in.OrderBy != nil && *in.OrderBy != "LogStreamName" && *in.OrderBy != "LastEventTime" {
		c.fail(in.OrderBy, "orderBy", "satisfy enum value set: [LogStreamName, LastEventTime]")
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	byTime := in.OrderBy != nil && *in.OrderBy == "LastEventTime"
	if byTime && in.LogStreamNamePrefix != nil {
		return nil, invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	if err := authz("logs:DescribeLogStreams", s.GroupARN(gname)); err != nil {
		return nil, err
	}
	offset := 0
	if in.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		n, perr := strconv.Atoi(strings.TrimPrefix(string(b), "o/"))
		if err != nil || perr != nil || n < 0 || !strings.HasPrefix(string(b), "o/") {
			return nil, invalid("The specified nextToken is invalid.")
		}
		offset = n
	}
	limit := MaxDescribeLimit
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[gname]
	if g == nil {
		return nil, errNoGroup
	}
	list := make([]*stream, 0, len(g.streams))
	for n, st := range g.streams {
		if in.LogStreamNamePrefix == nil || strings.HasPrefix(n, *in.LogStreamNamePrefix) {
			list = append(list, st)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if byTime {
			a, b := lastTS(list[i]), lastTS(list[j])
			if a != b {
				return a < b
			}
		}
		return list[i].name < list[j].name
	})
	if in.Descending != nil && *in.Descending {
		for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
			list[i], list[j] = list[j], list[i]
		}
	}
	out := struct {
		LogStreams []logStreamOut `json:"logStreams"`
		NextToken  string         `json:"nextToken,omitempty"`
	}{LogStreams: []logStreamOut{}}
	for i := offset; i < len(list); i++ {
		if i == offset+limit {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte("o/" + strconv.Itoa(i)))
			break
		}
		st := list[i]
		o := logStreamOut{LogStreamName: st.name, CreationTime: st.created, Arn: s.StreamARN(gname, st.name), StoredBytes: st.bytes,
			UploadSequenceToken: strconv.FormatUint(st.token+1, 10), LastIngestionTime: st.lastIngest}
		if len(st.events) > 0 {
			o.FirstEventTimestamp, o.LastEventTimestamp = st.events[0].Timestamp, st.events[len(st.events)-1].Timestamp
		}
		out.LogStreams = append(out.LogStreams, o)
	}
	return out, nil
}

func lastTS(st *stream) int64 {
	if len(st.events) == 0 {
		return 0
	}
	return st.events[len(st.events)-1].Timestamp
}

type inputEvent struct {
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

type putIn struct {
	LogGroupName  *string `json:"logGroupName"`
	LogStreamName *string `json:"logStreamName"`
	LogEvents     *[]struct {
		Timestamp *int64  `json:"timestamp"`
		Message   *string `json:"message"`
	} `json:"logEvents"`
	SequenceToken *string `json:"sequenceToken"`
}

type rejectedInfo struct {
	TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex,omitempty"`
	ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex,omitempty"`
}

type putOut struct {
	NextSequenceToken     string        `json:"nextSequenceToken,omitempty"`
	RejectedLogEventsInfo *rejectedInfo `json:"rejectedLogEventsInfo,omitempty"`
}

// putLogEvents stores a batch under AWS's rules: 1 to 10,000 events, at
// most 1,048,576 bytes counting 26 bytes per event (one event up to 1 MB
// since AWS raised it from 256 KB), in chronological order; events older
// than 14 days or more than 2 hours ahead are rejected by index
// (rejectedLogEventsInfo) while the rest, spanning at most 24 hours, are
// stored. The sequence token is ignored, as AWS has since 2023.
func (s *Store) putLogEvents(body []byte, authz Authorizer) (any, error) {
	var in putIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checks
	c.name(in.LogGroupName, "logGroupName", true, groupNameRE, groupRE)
	c.name(in.LogStreamName, "logStreamName", true, streamNameRE, streamRE)
	if in.LogEvents == nil {
		c.fail(nil, "logEvents", "not be null")
	} else if n := len(*in.LogEvents); n < 1 || n > MaxBatchEvents {
		v := "[...]"
		rel := "greater than or equal to 1"
		if n > MaxBatchEvents {
			rel = fmt.Sprintf("less than or equal to %d", MaxBatchEvents)
		}
		c.fail(&v, "logEvents", "have length "+rel)
	}
	events := make([]inputEvent, 0)
	if in.LogEvents != nil && len(c) == 0 {
		for i, e := range *in.LogEvents {
			member := fmt.Sprintf("logEvents.%d.member", i+1)
			if e.Timestamp == nil {
				c.fail(nil, member+".timestamp", "not be null")
			}
			if e.Message == nil {
				c.fail(nil, member+".message", "not be null")
			} else if *e.Message == "" {
				c.fail(e.Message, member+".message", "have length greater than or equal to 1")
			}
			if e.Timestamp != nil && e.Message != nil {
				events = append(events, inputEvent{Timestamp: *e.Timestamp, Message: *e.Message})
			}
		}
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	total := 0
	for i, e := range events {
		n := len(e.Message) + EventOverhead
		if n > MaxEventBytes {
			return nil, invalid("Log event too large: %d bytes exceeds limit of %d", n, MaxEventBytes)
		}
		total += n
		if i > 0 && e.Timestamp < events[i-1].Timestamp {
			return nil, invalid("Log events in a single PutLogEvents request must be in chronological order.")
		}
	}
	if total > MaxBatchBytes {
		return nil, invalid("Upload too large: %d bytes exceeds limit of %d", total, MaxBatchBytes)
	}
	if err := authz("logs:PutLogEvents", s.StreamARN(*in.LogGroupName, *in.LogStreamName)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[*in.LogGroupName]
	if g == nil {
		return nil, errNoGroup
	}
	st := g.streams[*in.LogStreamName]
	if st == nil {
		return nil, errNoStream
	}
	now := s.now()
	oldest, newest := now.Add(-MaxEventAge).UnixMilli(), now.Add(MaxEventFuture).UnixMilli()
	var rej rejectedInfo
	lo, hi := 0, len(events) // events[lo:hi] are stored
	for lo < hi && events[lo].Timestamp < oldest {
		lo++
	}
	if lo > 0 {
		i := lo - 1
		rej.TooOldLogEventEndIndex = &i
	}
	for hi > lo && events[hi-1].Timestamp > newest {
		hi--
	}
	if hi < len(events) {
		i := hi
		rej.TooNewLogEventStartIndex = &i
	}
	// The 24-hour span counts the valid events only (AWS's current rule).
	if lo < hi && events[hi-1].Timestamp-events[lo].Timestamp > MaxBatchSpan.Milliseconds() {
		return nil, invalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	s.insert(st, events[lo:hi], now.UnixMilli())
	out := putOut{NextSequenceToken: strconv.FormatUint(st.token+1, 10)}
	if rej != (rejectedInfo{}) {
		out.RejectedLogEventsInfo = &rej
	}
	return out, nil
}

type filterIn struct {
	LogGroupName        *string   `json:"logGroupName"`
	LogGroupIdentifier  *string   `json:"logGroupIdentifier"`
	LogStreamNames      *[]string `json:"logStreamNames"`
	LogStreamNamePrefix *string   `json:"logStreamNamePrefix"`
	StartTime           *int64    `json:"startTime"`
	EndTime             *int64    `json:"endTime"`
	FilterPattern       *string   `json:"filterPattern"`
	NextToken           *string   `json:"nextToken"`
	Limit               *int64    `json:"limit"`
	Interleaved         *bool     `json:"interleaved"`
	Unmask              *bool     `json:"unmask"`
}

type filteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type searchedStream struct {
	LogStreamName      string `json:"logStreamName"`
	SearchedCompletely bool   `json:"searchedCompletely"`
}

// filterLogEvents returns the group's events matching the pattern within
// [startTime, endTime] (ms; endTime inclusive as on AWS), ordered by
// timestamp across streams, at most limit (10,000) and 1 MB a page; the
// nextToken resumes after the last event returned and is bound to the
// query (another query's token is refused).
func (s *Store) filterLogEvents(body []byte, authz Authorizer) (any, error) {
	var in filterIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checks
	gname := groupName(in.LogGroupName, in.LogGroupIdentifier, &c)
	c.name(in.LogStreamNamePrefix, "logStreamNamePrefix", false, streamNameRE, streamRE)
	c.limit(in.Limit, "limit", MaxFilterLimit)
	if in.LogStreamNames != nil {
		if n := len(*in.LogStreamNames); n < 1 || n > 100 {
			v := "[...]"
			c.fail(&v, "logStreamNames", "have length between 1 and 100")
		}
	}
	if in.FilterPattern != nil && len(*in.FilterPattern) > MaxPatternLength {
		c.fail(in.FilterPattern, "filterPattern", fmt.Sprintf("have length less than or equal to %d", MaxPatternLength))
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	if in.LogStreamNames != nil && in.LogStreamNamePrefix != nil {
		return nil, invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	var pat *Pattern
	if in.FilterPattern != nil && strings.TrimSpace(*in.FilterPattern) != "" {
		p, err := ParsePattern(*in.FilterPattern)
		if err != nil {
			return nil, invalid("Invalid filter pattern")
		}
		pat = p
	}
	if err := authz("logs:FilterLogEvents", s.GroupARN(gname)); err != nil {
		return nil, err
	}
	qhash := queryHash(body)
	var after *Event
	if in.NextToken != nil {
		e, err := decodeEventToken(*in.NextToken, qhash)
		if err != nil {
			return nil, err
		}
		after = &e
	}
	limit := MaxFilterLimit
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	start, end := int64(-1<<63), int64(1<<63-1)
	if in.StartTime != nil {
		start = *in.StartTime
	}
	if in.EndTime != nil {
		end = *in.EndTime
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[gname]
	if g == nil {
		return nil, errNoGroup
	}
	var streams []*stream
	if in.LogStreamNames != nil {
		for _, n := range *in.LogStreamNames {
			if st := g.streams[n]; st != nil {
				streams = append(streams, st)
			}
		}
		if len(streams) == 0 {
			return nil, errNoStream
		}
	} else {
		for n, st := range g.streams {
			if in.LogStreamNamePrefix == nil || strings.HasPrefix(n, *in.LogStreamNamePrefix) {
				streams = append(streams, st)
			}
		}
	}
	var matched []Event
	for _, st := range streams {
		i := sort.Search(len(st.events), func(i int) bool { return st.events[i].Timestamp >= start })
		if after != nil {
			j := sort.Search(len(st.events), func(i int) bool { return less(*after, st.events[i]) })
			i = max(i, j)
		}
		for ; i < len(st.events) && st.events[i].Timestamp <= end; i++ {
			if pat.Match(st.events[i].Message) {
				matched = append(matched, st.events[i])
			}
		}
	}
	sort.Slice(matched, func(i, j int) bool { return less(matched[i], matched[j]) })
	out := struct {
		Events             []filteredEvent  `json:"events"`
		SearchedLogStreams []searchedStream `json:"searchedLogStreams"`
		NextToken          string           `json:"nextToken,omitempty"`
	}{Events: []filteredEvent{}, SearchedLogStreams: []searchedStream{}}
	size := 0
	for i, e := range matched {
		size += len(e.Message) + EventOverhead
		if i == limit || i > 0 && size > MaxResponseBytes {
			out.NextToken = makeEventToken(matched[i-1], qhash)
			break
		}
		out.Events = append(out.Events, filteredEvent{LogStreamName: e.Stream, Timestamp: e.Timestamp, Message: e.Message, IngestionTime: e.Ingestion, EventID: e.ID()})
	}
	for _, st := range streams {
		out.SearchedLogStreams = append(out.SearchedLogStreams, searchedStream{LogStreamName: st.name, SearchedCompletely: out.NextToken == ""})
	}
	sort.Slice(out.SearchedLogStreams, func(i, j int) bool {
		return out.SearchedLogStreams[i].LogStreamName < out.SearchedLogStreams[j].LogStreamName
	})
	return out, nil
}

// queryHash identifies a FilterLogEvents query without its page token and
// limit, binding tokens to the query they came from.
func queryHash(body []byte) uint32 {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	delete(m, "nextToken")
	delete(m, "limit")
	b, _ := json.Marshal(m) // sorted keys
	sum := sha256.Sum256(b)
	return binary.BigEndian.Uint32(sum[:4])
}

func makeEventToken(e Event, qhash uint32) string {
	b := binary.BigEndian.AppendUint32(nil, qhash)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Timestamp))
	b = binary.BigEndian.AppendUint64(b, e.seq)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeEventToken(tok string, qhash uint32) (Event, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 20 || binary.BigEndian.Uint32(b) != qhash {
		return Event{}, invalid("The specified nextToken is invalid.")
	}
	return Event{Timestamp: int64(binary.BigEndian.Uint64(b[4:])), seq: binary.BigEndian.Uint64(b[12:])}, nil
}

type getIn struct {
	LogGroupName       *string `json:"logGroupName"`
	LogGroupIdentifier *string `json:"logGroupIdentifier"`
	LogStreamName      *string `json:"logStreamName"`
	StartTime          *int64  `json:"startTime"`
	EndTime            *int64  `json:"endTime"`
	NextToken          *string `json:"nextToken"`
	Limit              *int64  `json:"limit"`
	StartFromHead      *bool   `json:"startFromHead"`
	Unmask             *bool   `json:"unmask"`
}

type outputEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

// getLogEvents pages through one stream: forward tokens "f/…" continue
// after the page's last event, backward tokens "b/…" before its first;
// without a token it starts at the head (startFromHead) or with the newest
// events. At the end the token given is returned again, as on AWS.
func (s *Store) getLogEvents(body []byte, authz Authorizer) (any, error) {
	var in getIn
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checks
	gname := groupName(in.LogGroupName, in.LogGroupIdentifier, &c)
	c.name(in.LogStreamName, "logStreamName", true, streamNameRE, streamRE)
	c.limit(in.Limit, "limit", MaxFilterLimit)
	if err := c.err(); err != nil {
		return nil, err
	}
	if err := authz("logs:GetLogEvents", s.StreamARN(gname, *in.LogStreamName)); err != nil {
		return nil, err
	}
	limit := MaxFilterLimit
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[gname]
	if g == nil {
		return nil, errNoGroup
	}
	st := g.streams[*in.LogStreamName]
	if st == nil {
		return nil, errNoStream
	}
	// The events in range, then the window of them this page shows.
	lo := 0
	if in.StartTime != nil {
		lo = sort.Search(len(st.events), func(i int) bool { return st.events[i].Timestamp >= *in.StartTime })
	}
	hi := len(st.events)
	if in.EndTime != nil {
		hi = sort.Search(len(st.events), func(i int) bool { return st.events[i].Timestamp >= *in.EndTime })
	}
	forward := in.StartFromHead != nil && *in.StartFromHead
	if in.NextToken != nil {
		dir, pos, err := positionToken(*in.NextToken, st)
		if err != nil {
			return nil, err
		}
		forward = dir == 'f'
		if forward {
			lo = max(lo, pos)
		} else {
			hi = min(hi, pos)
		}
	}
	if lo > hi {
		lo = hi
	}
	if hi-lo > limit {
		if forward {
			hi = lo + limit
		} else {
			lo = hi - limit
		}
	}
	out := struct {
		Events            []outputEvent `json:"events"`
		NextForwardToken  string        `json:"nextForwardToken"`
		NextBackwardToken string        `json:"nextBackwardToken"`
	}{Events: []outputEvent{}}
	for _, e := range st.events[lo:hi] {
		out.Events = append(out.Events, outputEvent{Timestamp: e.Timestamp, Message: e.Message, IngestionTime: e.Ingestion})
	}
	out.NextForwardToken = fmt.Sprintf("f/%d", posSeq(st, hi))
	out.NextBackwardToken = fmt.Sprintf("b/%d", posSeq(st, lo))
	return out, nil
}

// posSeq names the position before st.events[i] by the sequence number of
// the event there (1<<63 at the end), stable as later events arrive.
func posSeq(st *stream, i int) uint64 {
	if i >= len(st.events) {
		return st.seqEnd()
	}
	return st.events[i].seq
}

func (st *stream) seqEnd() uint64 { return 1<<63 + uint64(len(st.events)) }

func positionToken(tok string, st *stream) (byte, int, error) {
	bad := invalid("The specified nextToken is invalid.")
	if len(tok) < 3 || tok[1] != '/' || tok[0] != 'f' && tok[0] != 'b' {
		return 0, 0, bad
	}
	seq, err := strconv.ParseUint(tok[2:], 10, 64)
	if err != nil {
		return 0, 0, bad
	}
	if seq >= 1<<63 {
		return tok[0], min(int(seq-1<<63), len(st.events)), nil
	}
	for i, e := range st.events {
		if e.seq == seq {
			return tok[0], i, nil
		}
	}
	return 0, 0, bad
}

// HTTPStatus of the modeled server fault the fail knob answers with.
const serviceUnavailableStatus = http.StatusInternalServerError

// ServiceUnavailable is CloudWatch Logs' modeled server fault, which the
// SDKs and the aws CLI retry.
func ServiceUnavailable() *awsproto.Error {
	return &awsproto.Error{Code: "ServiceUnavailableException", Message: "The service cannot complete the request.", Status: serviceUnavailableStatus}
}
