package trail

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// Attribute is a LookupEvents lookup attribute key.
type Attribute int

// The lookup attributes of LookupEvents, in AWS's spelling (AttributeNames).
const (
	AttrEventID Attribute = iota
	AttrEventName
	AttrReadOnly
	AttrUsername
	AttrResourceType
	AttrResourceName
	AttrEventSource
	AttrAccessKeyID
	numAttrs
)

// AttributeNames are the attribute keys as LookupEvents spells them.
var AttributeNames = [numAttrs]string{"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"}

// ParseAttribute returns the attribute named s, as LookupEvents spells it.
func ParseAttribute(s string) (Attribute, bool) {
	for i, n := range AttributeNames {
		if n == s {
			return Attribute(i), true
		}
	}
	return 0, false
}

// Resource is one resource an event names (LookupEvents' Resources).
type Resource struct {
	Type string `json:"ResourceType"`
	Name string `json:"ResourceName"`
}

// Found is one event a lookup returns: its indexed attributes and the
// record as written (CloudTrail's CloudTrailEvent string).
type Found struct {
	Time        time.Time
	EventID     string
	EventName   string
	EventSource string
	ReadOnly    bool
	Username    string
	AccessKeyID string
	Resources   []Resource
	JSON        string
}

// rec locates one record in the file and keeps its attributes.
type rec struct {
	t   int64 // eventTime, Unix seconds
	off int64
	n   int32
	// attrs are the record's attribute values (resources excepted), for
	// the answer without reading the file.
	id, name, source, user, akid string
	ro                           bool
	res                          []Resource
}

// posting lists record numbers in (time, number) order.
type posting []int32

// index is the in-memory index of a CloudTrail log: every record's offset
// and attributes, and per attribute value the records that have it, so a
// lookup reads only the records it returns.
type index struct {
	recs []rec
	// all and by are per account and region (scopeKey): LookupEvents
	// answers for the caller's; by's keys are the scope, a NUL, the value.
	all  map[string]posting
	by   [numAttrs]map[string]posting
	size int64 // bytes indexed
}

func newIndex() *index {
	ix := &index{all: map[string]posting{}}
	for i := range ix.by {
		ix.by[i] = map[string]posting{}
	}
	return ix
}

// add indexes the record e written at off (n bytes).
func (ix *index) add(e *Event, off int64, n int) {
	t, err := time.Parse(time.RFC3339, e.EventTime)
	if err != nil {
		t = time.Unix(0, 0)
	}
	r := rec{t: t.Unix(), off: off, n: int32(n), id: e.EventID, name: e.EventName, source: e.EventSource,
		user: usernameOf(e.UserIdentity), akid: e.UserIdentity.AccessKeyID, ro: e.ReadOnly, res: resourcesOf(e)}
	num := int32(len(ix.recs))
	ix.recs = append(ix.recs, r)
	scope := ScopeKey(e.RecipientAccountID, e.AWSRegion)
	ix.all[scope] = ix.insert(ix.all[scope], num)
	vals := [numAttrs][]string{
		AttrEventID: {r.id}, AttrEventName: {r.name}, AttrReadOnly: {fmt.Sprint(r.ro)}, AttrUsername: {r.user},
		AttrEventSource: {r.source}, AttrAccessKeyID: {r.akid},
	}
	for _, res := range r.res {
		vals[AttrResourceType] = append(vals[AttrResourceType], res.Type)
		vals[AttrResourceName] = append(vals[AttrResourceName], res.Name)
	}
	for a, vs := range vals {
		seen := map[string]bool{}
		for _, v := range vs {
			if v == "" || seen[v] {
				continue
			}
			seen[v] = true
			ix.by[a][scope+"\x00"+v] = ix.insert(ix.by[a][scope+"\x00"+v], num)
		}
	}
	ix.size = off + int64(n)
}

// insert adds num to p in time order; records mostly arrive in order, so
// the search from the end is short.
func (ix *index) insert(p posting, num int32) posting {
	t := ix.recs[num].t
	i := len(p)
	for i > 0 && ix.recs[p[i-1]].t > t {
		i--
	}
	return slices.Insert(p, i, num)
}

// ScopeKey names an account and region's part of the log.
func ScopeKey(account, region string) string { return account + "/" + region }

// usernameOf is LookupEvents' Username: an IAM user's name, a role
// session's name, root.
func usernameOf(u UserIdentity) string {
	switch {
	case u.UserName != "":
		return u.UserName
	case u.Type == "AssumedRole":
		return u.ARN[strings.LastIndex(u.ARN, "/")+1:]
	case u.Type == "Root":
		return "root"
	}
	return ""
}

// resourcesOf lists the resources a record's request parameters name.
func resourcesOf(e *Event) []Resource {
	p, _ := e.RequestParameters.(map[string]any)
	if p == nil {
		return nil
	}
	var out []Resource
	instance := func(id string) {
		if strings.HasPrefix(id, "mi-") {
			out = append(out, Resource{"AWS::SSM::ManagedInstance", id})
		} else if strings.HasPrefix(id, "i-") {
			out = append(out, Resource{"AWS::EC2::Instance", id})
		}
	}
	str := func(k string) string { s, _ := p[k].(string); return s }
	instance(str("instanceId"))
	instance(str("target"))
	if ids, ok := p["instanceIds"].([]any); ok {
		for _, v := range ids {
			s, _ := v.(string)
			instance(s)
		}
	}
	if s := str("sessionId"); s != "" {
		out = append(out, Resource{"AWS::SSM::Session", s})
	}
	if s := str("documentName"); s != "" {
		out = append(out, Resource{"AWS::SSM::Document", s})
	}
	if s := str("instanceConnectEndpointId"); s != "" {
		out = append(out, Resource{"AWS::EC2::InstanceConnectEndpoint", s})
	}
	if s := str("roleArn"); s != "" {
		out = append(out, Resource{"AWS::IAM::Role", s})
	}
	return out
}

// Query is one LookupEvents request, validated.
type Query struct {
	// Scope is the account and region (ScopeKey) whose events to return.
	Scope string
	// Attr and Value are the one lookup attribute; HasAttr false means
	// every event.
	HasAttr    bool
	Attr       Attribute
	Value      string
	Start, End time.Time // zero: unbounded
	Max        int       // 1 to 50
	Token      string
}

// ErrBadToken is returned for a NextToken this log did not issue for the
// same query.
var ErrBadToken = errors.New("invalid next token")

// fingerprint identifies the query a token belongs to.
func (q Query) fingerprint() []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%v|%d|%s|%d|%d", q.Scope, q.HasAttr, q.Attr, q.Value, q.Start.Unix(), q.End.Unix()))
	return h[:8]
}

// Lookup returns the events matching q, newest first, at most q.Max, and
// the token of the next page ("" when there is none).
func (l *Log) Lookup(q Query) ([]Found, string, error) {
	if l == nil {
		return nil, "", nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ix := l.ix
	p := ix.all[q.Scope]
	if q.HasAttr {
		p = ix.by[q.Attr][q.Scope+"\x00"+q.Value]
	}
	// the window [lo, hi) of p inside the time range
	lo, hi := 0, len(p)
	if !q.Start.IsZero() {
		s := q.Start.Unix()
		lo = sort.Search(len(p), func(i int) bool { return ix.recs[p[i]].t >= s })
	}
	if !q.End.IsZero() {
		e := q.End.Unix()
		hi = sort.Search(len(p), func(i int) bool { return ix.recs[p[i]].t > e })
	}
	if q.Token != "" {
		t, num, err := decodeToken(q.Token, q.fingerprint())
		if err != nil {
			return nil, "", err
		}
		// records before (t, num) in the list's order
		hi = min(hi, sort.Search(len(p), func(i int) bool {
			r := ix.recs[p[i]]
			return r.t > t || r.t == t && p[i] >= num
		}))
	}
	var out []Found
	i := hi - 1
	for ; i >= lo && len(out) < q.Max; i-- {
		f, err := l.found(p[i])
		if err != nil {
			return nil, "", err
		}
		out = append(out, f)
	}
	next := ""
	if i >= lo && len(out) > 0 {
		last := p[i+1]
		next = encodeToken(ix.recs[last].t, last, q.fingerprint())
	}
	return out, next, nil
}

// found reads record num from the file.
func (l *Log) found(num int32) (Found, error) {
	r := l.ix.recs[num]
	b := make([]byte, r.n)
	if _, err := l.rf.ReadAt(b, r.off); err != nil {
		return Found{}, fmt.Errorf("read CloudTrail log: %w", err)
	}
	return Found{Time: time.Unix(r.t, 0).UTC(), EventID: r.id, EventName: r.name, EventSource: r.source, ReadOnly: r.ro,
		Username: r.user, AccessKeyID: r.akid, Resources: r.res, JSON: strings.TrimSuffix(string(b), "\n")}, nil
}

func encodeToken(t int64, num int32, fp []byte) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(t))
	b = binary.BigEndian.AppendUint32(b, uint32(num))
	b = append(b, fp...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string, fp []byte) (int64, int32, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 12+len(fp) || string(b[12:]) != string(fp) {
		return 0, 0, ErrBadToken
	}
	return int64(binary.BigEndian.Uint64(b)), int32(binary.BigEndian.Uint32(b[8:])), nil
}

// Len returns how many records the log holds.
func (l *Log) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ix.recs)
}

// load indexes the records already in the file (a sandbox restarted on its
// state directory); a torn last line is ignored.
func (l *Log) load() error {
	rd := bufio.NewReaderSize(io.NewSectionReader(l.rf, 0, 1<<62), 1<<20)
	var off int64
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var e Event
			if json.Unmarshal(line, &e) == nil {
				l.ix.add(&e, off, len(line))
			}
			off += int64(len(line))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read CloudTrail log: %w", err)
		}
	}
	l.ix.size = off
	return nil
}

// openRead opens the log's file for reading and indexes it.
func (l *Log) openRead() error {
	rf, err := os.Open(l.path)
	if err != nil {
		return fmt.Errorf("open CloudTrail log: %w", err)
	}
	l.rf = rf
	l.ix = newIndex()
	return l.load()
}
