package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

const (
	aliceARN = "arn:aws:sts::123456789012:assumed-role/Dev/alice"
	keyLine  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb6oJ1t3JkRZbq0cbkBOZ2h4p1qN5Xyq5bqkH1YH8Yv alice"
)

func push(at time.Duration, req, user, inst, errCode string) TrailEvent {
	return TrailEvent{Time: t0.Add(at), Name: "SendSSHPublicKey", Principal: aliceARN, RequestID: req, EventID: "ev-" + req,
		Instance: inst, OSUser: user, Fingerprint: Fingerprint(keyLine), ErrorCode: errCode}
}

func host(at time.Duration, id, ev, user, inst, req, fp, detail string) HostEvent {
	return HostEvent{ID: id, Time: t0.Add(at), Event: ev, OSUser: user, Instance: inst, RequestID: req, Fingerprint: fp,
		Caller: map[bool]string{true: aliceARN}[req != ""], Detail: detail}
}

func TestJoin(t *testing.T) {
	fp := Fingerprint(keyLine)
	trail := []TrailEvent{
		push(0, "r1", "alice", "i-1", ""),
		push(0, "r1", "alice", "i-1", ""), // a duplicate page
		push(time.Minute, "r2", "root", "i-1", "AccessDeniedException"),
		push(2*time.Minute, "r3", "alice", "i-2", ""), // never used
		{Time: t0.Add(3 * time.Minute), Name: "DescribeInstances", Principal: aliceARN},
		{Time: t0.Add(4 * time.Minute), Name: "StartSession", Principal: aliceARN, Instance: "i-3", SessionID: "alice-0a", EventID: "ss"},
	}
	hostEvs := []HostEvent{
		host(2*time.Second, "h1", HostKeyServed, "alice", "i-1", "r1", fp, ""),
		host(2*time.Second, "h1", HostKeyServed, "alice", "i-1", "r1", fp, ""), // shipped twice
		host(3*time.Second, "h2", HostSessionOpened, "alice", "i-1", "", fp, "rhost=10.0.0.1 tty=ssh sshd_pid=42"),
		host(93*time.Second, "h3", HostSessionClosed, "alice", "i-1", "", "", "rhost=10.0.0.1 tty=ssh sshd_pid=42"),
		host(5*time.Minute, "h4", HostKeyServed, "alice", "i-1", "r9", "SHA256:other", ""),
		host(6*time.Minute, "h5", HostSessionOpened, "alice", "i-4", "", "", "sshd_pid=7"),
		host(7*time.Minute, "h6", "user-blocked", "alice", "i-1", "", "", ""),
	}
	got := Join(trail, hostEvs, Filter{User: "alice"})
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, fmt.Sprintf("%s:%s:%v:%v", e.Kind, e.RequestID, e.Denied, e.Gaps))
	}
	want := []string{
		"access:r1:false:[]", "access:r2:true:[]", "access:r3:false:[no-instance-event]", "start-session::false:[]",
		"access:r9:false:[no-cloudtrail-record]", "access::false:[no-cloudtrail-record]", "instance-event::false:[]",
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("timeline\n got %q\nwant %q", kinds, want)
	}
	a := got[0]
	if a.KeyServed == nil || a.Login == nil || a.Logout == nil || a.Duration != 90*time.Second || a.Fingerprint != fp || a.OSUser != "alice" {
		t.Fatalf("access r1 not joined to its login and logout: %+v", a)
	}
	// filters
	if n := len(Join(trail, hostEvs, Filter{Instance: "i-2"})); n != 1 {
		t.Errorf("--instance i-2: %d entries, want 1", n)
	}
	if n := len(Join(trail, hostEvs, Filter{User: "alice", Since: t0.Add(4 * time.Minute)})); n != 4 {
		t.Errorf("since 09:04: %d entries, want 4", n)
	}
	if n := len(Join(trail, hostEvs, Filter{Principal: "bob"})); n != 0 {
		t.Errorf("principal bob: %d entries, want 0", n)
	}
}

// TestJoinFingerprintPicksTheKey: two keys served to the same user; the
// login's fingerprint picks the one it used, not the latest.
func TestJoinFingerprintPicksTheKey(t *testing.T) {
	p1, p2 := push(0, "r1", "alice", "i-1", ""), push(time.Second, "r2", "alice", "i-1", "")
	p1.Fingerprint, p2.Fingerprint = "SHA256:one", "SHA256:two"
	got := Join([]TrailEvent{p1, p2},
		[]HostEvent{host(2*time.Second, "a", HostKeyServed, "alice", "i-1", "r1", "SHA256:one", ""),
			host(3*time.Second, "b", HostKeyServed, "alice", "i-1", "r2", "SHA256:two", ""),
			host(4*time.Second, "c", HostSessionOpened, "alice", "i-1", "", "SHA256:one", "sshd_pid=1")}, Filter{})
	for _, e := range got {
		if (e.RequestID == "r1") != (e.Login != nil) {
			t.Fatalf("login joined to the wrong push: %+v", got)
		}
	}
}

func TestParseTrailEvent(t *testing.T) {
	rec := `{"eventTime":"2026-12-01T09:00:00Z","eventSource":"ec2-instance-connect.amazonaws.com","eventName":"SendSSHPublicKey",
"awsRegion":"us-east-1","recipientAccountId":"123456789012","requestID":"r1","eventID":"e1",
"userIdentity":{"type":"AssumedRole","arn":"` + aliceARN + `"},
"requestParameters":{"instanceId":"i-1","instanceOSUser":"alice","sSHPublicKey":"` + keyLine + `"}}`
	e, err := ParseTrailEvent(rec)
	if err != nil {
		t.Fatal(err)
	}
	if e.Username != "alice" || e.Instance != "i-1" || e.OSUser != "alice" || e.Fingerprint != "SHA256:Yr2rRv0tXfjPp3SBG8Y6D9GuJtk0RkPftM0oX3mnxh0" && e.Fingerprint == "" {
		t.Fatalf("%+v", e)
	}
	tun, err := ParseTrailEvent(`{"eventTime":"2026-12-01T09:00:00Z","eventName":"OpenTunnel","requestParameters":{"instanceConnectEndpointId":"eice-1","privateIpAddress":"10.0.0.5","remotePort":"22"}}`)
	if err != nil || tun.Detail != "endpoint=eice-1 address=10.0.0.5 port=22" {
		t.Fatalf("OpenTunnel: %+v %v", tun, err)
	}
	if _, err := ParseTrailEvent(`{"eventTime":"x"}`); err == nil {
		t.Fatal("a record without a time was read")
	}
}

func TestPlans(t *testing.T) {
	if p := trailPlan(Filter{User: "alice"}); len(p) != 1 || p[0].Attr != "Username" || p[0].Value != "alice" {
		t.Errorf("--user: %+v", p)
	}
	if p := trailPlan(Filter{Principal: aliceARN}); len(p) != 1 || p[0].Value != "alice" {
		t.Errorf("--principal: %+v", p)
	}
	if p := trailPlan(Filter{Instance: "i-1"}); len(p) != 1 || p[0].Attr != "ResourceName" {
		t.Errorf("--instance: %+v", p)
	}
	if p := trailPlan(Filter{}); len(p) != len(TrackedEvents) {
		t.Errorf("no filter: %+v", p)
	}
	if q, err := logPlan("g", Filter{User: "alice", Instance: "i-1"}); err != nil || q.Pattern != `{ $.os_user = "alice" }` || !slices.Equal(q.Streams, []string{"i-1"}) {
		t.Errorf("log plan: %+v %v", q, err)
	}
	if _, err := logPlan("g", Filter{User: `a" || $.x = "`}); err == nil {
		t.Error("a quote reached the filter pattern")
	}
}

// fakeTrail serves pages of n events and records when each call came.
type fakeTrail struct {
	mu    sync.Mutex
	calls []time.Time
	per   int
	pages int
}

func (f *fakeTrail) LookupPage(_ context.Context, q LookupQuery, token string) ([]TrailEvent, string, error) {
	f.mu.Lock()
	f.calls = append(f.calls, time.Now())
	f.mu.Unlock()
	page := 0
	if token != "" {
		fmt.Sscan(token, &page)
	}
	var out []TrailEvent
	for i := range f.per {
		out = append(out, TrailEvent{Time: t0.Add(time.Duration(page*f.per+i) * time.Second), Name: "SendSSHPublicKey",
			EventID: fmt.Sprintf("%s-%d-%d", q.Value, page, i), RequestID: fmt.Sprintf("%s-%d-%d", q.Value, page, i), Principal: aliceARN, OSUser: "alice"})
	}
	if page+1 == f.pages {
		return out, "", nil
	}
	return out, fmt.Sprint(page + 1), nil
}

type fakeLogs struct{ evs []HostEvent }

func (f fakeLogs) FilterPage(context.Context, LogQuery, string) ([]HostEvent, string, error) {
	time.Sleep(200 * time.Millisecond)
	return f.evs, "", nil
}

// TestCollectPacesLookupEvents: 5 streams of 3 pages share one scope's
// limiter: never more than 2 calls in any second, and no faster than that
// needs; the logs side runs meanwhile.
func TestCollectPacesLookupEvents(t *testing.T) {
	ft := &fakeTrail{per: 2, pages: 3}
	res, err := Collect(context.Background(), []Scope{{Name: "s", Trail: ft, Logs: fakeLogs{}}}, Request{LogGroup: "g"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ft.calls) != 15 || res.Stats.TrailPages != 15 || len(res.Entries) != 30 {
		t.Fatalf("%d calls, %d pages, %d entries; want 15, 15, 30", len(ft.calls), res.Stats.TrailPages, len(res.Entries))
	}
	slices.SortFunc(ft.calls, func(a, b time.Time) int { return a.Compare(b) })
	for i := 2; i < len(ft.calls); i++ {
		// released at least 1 s apart; recorded a moment later each
		if d := ft.calls[i].Sub(ft.calls[i-2]); d < 900*time.Millisecond {
			t.Fatalf("calls %d and %d %v apart: more than 2 a second", i-2, i, d)
		}
	}
	if el := res.Stats.Elapsed; el > 10*time.Second || el < 6*time.Second {
		t.Fatalf("15 calls at 2 a second took %v, want about 7 s", el)
	}
}

func TestEntryJSON(t *testing.T) {
	b, err := json.Marshal(Join([]TrailEvent{push(0, "r1", "alice", "i-1", "AccessDeniedException")}, nil, Filter{}))
	if err != nil || !strings.Contains(string(b), `"denied":true`) {
		t.Fatalf("%s %v", b, err)
	}
}

func FuzzParseTrailEvent(f *testing.F) {
	f.Add(`{"eventTime":"2026-12-01T09:00:00Z","eventName":"SendSSHPublicKey","requestParameters":{"instanceIds":["i-1"],"sSHPublicKey":"ssh-ed25519 AAAA"}}`)
	f.Add(`{"eventName":"StartSession","responseElements":{"sessionId":3}}`)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseTrailEvent(s)
		if err == nil && e.Name == "" {
			t.Fatal("a record without an event name was read")
		}
	})
}

func FuzzParseHostEvent(f *testing.F) {
	f.Add(`{"id":"1","time":"2026-12-01T09:00:00Z","event":"session-opened","os_user":"a","detail":"sshd_pid=4"}`, "i-1")
	f.Fuzz(func(t *testing.T, s, stream string) {
		e, err := ParseHostEvent(s, stream, "x")
		if err == nil && (e.Event == "" || e.ID == "") {
			t.Fatalf("read %+v", e)
		}
		_ = e.sshdPID()
	})
}

// BenchmarkJoin: a day of 15,000 pushes and their 45,000 instance events
// (key served, login, logout) over 200 instances and 250 people, joined
// without a filter.
func BenchmarkJoin(b *testing.B) {
	var trail []TrailEvent
	var hostEvs []HostEvent
	for i := range 15_000 {
		user, inst := fmt.Sprintf("user-%04d", i%250), fmt.Sprintf("i-%03d", i%200)
		req, fp, at := fmt.Sprintf("r%d", i), fmt.Sprintf("SHA256:%d", i), time.Duration(i)*5*time.Second
		trail = append(trail, TrailEvent{Time: t0.Add(at), Name: "SendSSHPublicKey", RequestID: req, EventID: req, Principal: "arn:aws:sts::1:assumed-role/R/" + user,
			Instance: inst, OSUser: user, Fingerprint: fp})
		pid := fmt.Sprintf("sshd_pid=%d", i)
		hostEvs = append(hostEvs, host(at+time.Second, req+"a", HostKeyServed, user, inst, req, fp, ""),
			host(at+2*time.Second, req+"b", HostSessionOpened, user, inst, "", fp, pid),
			host(at+62*time.Second, req+"c", HostSessionClosed, user, inst, "", "", pid))
	}
	for b.Loop() {
		if got := Join(trail, hostEvs, Filter{}); len(got) != 15_000 || got[0].Logout == nil {
			b.Fatalf("%d entries", len(got))
		}
	}
}

// TestSessionEndedBySomeoneElse: an administrator's TerminateSession of
// alice's session is in her timeline, and Collect asks for the ends of
// her sessions her own records lack.
func TestSessionEndedBySomeoneElse(t *testing.T) {
	start := TrailEvent{Time: t0, Name: "StartSession", Principal: aliceARN, Instance: "i-1", SessionID: "alice-1", EventID: "s1"}
	own := TrailEvent{Time: t0, Name: "StartSession", Principal: aliceARN, Instance: "i-1", SessionID: "alice-2", EventID: "s2"}
	ownEnd := TrailEvent{Time: t0.Add(time.Minute), Name: "TerminateSession", Principal: aliceARN, SessionID: "alice-2", EventID: "t2"}
	kill := TrailEvent{Time: t0.Add(time.Hour), Name: "TerminateSession", Principal: "arn:aws:sts::123456789012:assumed-role/Admin/admin", SessionID: "alice-1", EventID: "t1"}
	other := TrailEvent{Time: t0.Add(time.Hour), Name: "TerminateSession", Principal: "arn:aws:sts::123456789012:assumed-role/Admin/admin", SessionID: "bob-1", EventID: "t3"}
	got := Join([]TrailEvent{start, own, ownEnd, kill, other}, nil, Filter{User: "alice"})
	if len(got) != 4 || got[3].SessionID != "alice-1" || !strings.HasSuffix(got[3].Principal, "/admin") {
		t.Fatalf("timeline %+v", got)
	}
	killed := []HostEvent{{Event: "sessions-killed", OSUser: "alice"}}
	if qs := sessionFollowUps(Filter{User: "alice"}, []TrailEvent{start, own, ownEnd}, nil); qs != nil {
		t.Fatalf("follow-ups without an administrator's action: %+v", qs)
	}
	qs := sessionFollowUps(Filter{User: "alice"}, []TrailEvent{start, own, ownEnd}, killed)
	if len(qs) != 1 || qs[0].Attr != "ResourceName" || qs[0].Value != "alice-1" {
		t.Fatalf("follow-ups %+v", qs)
	}
	if qs := sessionFollowUps(Filter{}, []TrailEvent{start}, killed); qs != nil {
		t.Fatalf("follow-ups without a person: %+v", qs)
	}
}

type failingLogs struct{}

func (failingLogs) FilterPage(context.Context, LogQuery, string) ([]HostEvent, string, error) {
	return nil, "", fmt.Errorf("ResourceNotFoundException: no such group")
}

// TestCollectUnreadSideFlagsNoGap: with the logs unreadable, an allowed
// push is not flagged as lacking its instance event (nothing was read to
// say so), and the failure is reported.
func TestCollectUnreadSideFlagsNoGap(t *testing.T) {
	res, err := Collect(context.Background(), []Scope{{Name: "s", Trail: &fakeTrail{per: 1, pages: 1}, Logs: failingLogs{}, Limiter: NewLimiter(100)}},
		Request{LogGroup: "g", Filter: Filter{User: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || res.Errors[0].Source != "CloudWatch Logs" || len(res.Entries) != 1 || len(res.Entries[0].Gaps) != 0 {
		t.Fatalf("errors %v, entries %+v", res.Errors, res.Entries)
	}
}

// TestCollectPacesPerAccountAndRegion: two scopes (profiles) of one
// account and region share LookupEvents' 2 calls a second; a scope of
// another account paces on its own, at the same time.
func TestCollectPacesPerAccountAndRegion(t *testing.T) {
	a1, a2, b := &fakeTrail{per: 1, pages: 3}, &fakeTrail{per: 1, pages: 3}, &fakeTrail{per: 1, pages: 3}
	scopes := []Scope{
		{Name: "dev", Account: "111111111111", Region: "us-east-1", Trail: a1},
		{Name: "dev-admin", Account: "111111111111", Region: "us-east-1", Trail: a2},
		{Name: "prod", Account: "222222222222", Region: "us-east-1", Trail: b},
	}
	res, err := Collect(context.Background(), scopes, Request{Filter: Filter{User: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	same := append(slices.Clone(a1.calls), a2.calls...)
	slices.SortFunc(same, func(x, y time.Time) int { return x.Compare(y) })
	if len(same) != 6 || len(b.calls) != 3 {
		t.Fatalf("%d calls in account 1, %d in account 2", len(same), len(b.calls))
	}
	for i := 2; i < len(same); i++ {
		if d := same[i].Sub(same[i-2]); d < 900*time.Millisecond {
			t.Fatalf("account 1's calls %d and %d %v apart: two profiles of one account and region made more than 2 a second", i-2, i, d)
		}
	}
	// 6 calls at 2 a second: about 2.5 s; account 2's 3 ran meanwhile.
	if el := res.Stats.Elapsed; el > 4*time.Second || el < 2*time.Second {
		t.Fatalf("took %v, want about 2.5 s", el)
	}
}
