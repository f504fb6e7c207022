package audit

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

const adminARN = "arn:aws:sts::123456789012:assumed-role/Admin/admin"

// queryTrail answers each LookupEvents stream by its attribute and value.
type queryTrail struct {
	by      map[string][]TrailEvent
	queries []LookupQuery
}

func (q *queryTrail) LookupPage(_ context.Context, lq LookupQuery, _ string) ([]TrailEvent, string, error) {
	q.queries = append(q.queries, lq)
	var out []TrailEvent
	for _, e := range q.by[lq.Attr+"="+lq.Value] {
		if !e.Time.Before(lq.Start) && !e.Time.After(lq.End) {
			out = append(out, e)
		}
	}
	slices.Reverse(out) // newest first, as LookupEvents
	return out, "", nil
}

type hostLogs struct{ evs []HostEvent }

func (h hostLogs) FilterPage(context.Context, LogQuery, string) ([]HostEvent, string, error) {
	return h.evs, "", nil
}

// TestRevocationInTimeline: alice's timeline has the administrator's
// revocation of her (the SCP created and attached, her SSM session
// terminated, the Run Command that blocked and killed her, and the undo's
// detach and delete), found from the instance's block/kill events; the
// instance events carry the SendCommand's request and command ids; the
// administrator's other calls, and the revocation of bob, are not in it.
func TestRevocationInTimeline(t *testing.T) {
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	start := TrailEvent{Time: at(0), Name: "StartSession", Principal: aliceARN, Username: "alice", Instance: "i-1", SessionID: "alice-s1", EventID: "e1"}
	cmd := TrailEvent{Time: at(time.Hour + 2*time.Second), Name: "SendCommand", Principal: adminARN, Username: "admin", RequestID: "r-cmd", EventID: "e2",
		Instances: []string{"i-1", "i-2"}, Instance: "i-1", Document: "AWS-RunShellScript", Comment: "jitssh: revoke alice", CommandID: "c-1"}
	bobCmd := TrailEvent{Time: at(time.Hour + 3*time.Second), Name: "SendCommand", Principal: adminARN, Username: "admin", RequestID: "r-bob", EventID: "e3",
		Instances: []string{"i-9"}, Document: "AWS-RunShellScript", Comment: "jitssh: revoke bob", CommandID: "c-2"}
	create := TrailEvent{Time: at(time.Hour), Name: "CreatePolicy", Principal: adminARN, Username: "admin", EventID: "e4", PolicyName: "jitssh-revoke-alice", PolicyID: "p-1"}
	attach := TrailEvent{Time: at(time.Hour), Name: "AttachPolicy", Principal: adminARN, Username: "admin", EventID: "e5", PolicyID: "p-1"}
	term := TrailEvent{Time: at(time.Hour + time.Second), Name: "TerminateSession", Principal: adminARN, Username: "admin", EventID: "e6", SessionID: "alice-s1"}
	list := TrailEvent{Time: at(time.Hour), Name: "ListPolicies", Principal: adminARN, Username: "admin", EventID: "e7"}
	other := TrailEvent{Time: at(time.Hour), Name: "PutRolePolicy", Principal: adminARN, Username: "admin", EventID: "e8", PolicyName: "jitssh-revoke-bob", Role: "Dev"}
	undoCmd := TrailEvent{Time: at(2 * time.Hour), Name: "SendCommand", Principal: adminARN, Username: "admin", RequestID: "r-undo", EventID: "e9",
		Instances: []string{"i-1"}, Document: "AWS-RunShellScript", Comment: "jitssh: undo the revocation of alice", CommandID: "c-3"}
	detach := TrailEvent{Time: at(2*time.Hour - time.Second), Name: "DetachPolicy", Principal: adminARN, Username: "admin", EventID: "e10", PolicyID: "p-1"}
	del := TrailEvent{Time: at(2*time.Hour - time.Second), Name: "DeletePolicy", Principal: adminARN, Username: "admin", EventID: "e11", PolicyID: "p-1"}
	tr := &queryTrail{by: map[string][]TrailEvent{
		"Username=alice":          {start},
		"EventName=SendCommand":   {cmd, bobCmd, undoCmd},
		"Username=admin":          {create, attach, list, other, term, cmd, bobCmd, detach, del, undoCmd},
		"ResourceName=alice-s1":   {term},
		"EventName=StartSession":  nil,
		"EventName=CreatePolicy":  nil,
		"EventName=PutRolePolicy": nil,
	}}
	hosts := hostLogs{[]HostEvent{
		{ID: "h1", Time: at(time.Hour + 3*time.Second), Event: "user-blocked", Source: "cli", Instance: "i-1", OSUser: "alice"},
		{ID: "h2", Time: at(time.Hour + 3*time.Second), Event: "sessions-killed", Source: "cli", Instance: "i-1", OSUser: "alice", Detail: "2 processes"},
		{ID: "h3", Time: at(2*time.Hour + time.Second), Event: "user-unblocked", Source: "cli", Instance: "i-1", OSUser: "alice"},
	}}
	f := Filter{User: "alice", Since: t0.Add(-time.Hour), Until: t0.Add(3 * time.Hour)}
	res, err := Collect(context.Background(), []Scope{{Name: "s", Trail: tr, Logs: hosts, Limiter: NewLimiter(1000)}}, Request{Filter: f, LogGroup: "g"})
	if err != nil || len(res.Errors) > 0 {
		t.Fatal(err, res.Errors)
	}
	var got []string
	for _, e := range res.Entries {
		got = append(got, string(e.Kind)+":"+e.Event+":"+e.RequestID+":"+e.CommandID+":"+e.Subject)
	}
	want := []string{
		"start-session::::", // her session
		"revoke:AttachPolicy:::alice", "revoke:CreatePolicy:::alice",
		"terminate-session::::alice",
		"send-command::r-cmd:c-1:alice",
		"instance-event:user-blocked:r-cmd:c-1:alice", "instance-event:sessions-killed:r-cmd:c-1:alice",
		"revoke:DetachPolicy:::alice", "revoke:DeletePolicy:::alice",
		"send-command::r-undo:c-3:alice",
		"instance-event:user-unblocked:r-undo:c-3:alice",
	}
	sortSame := func(l []string) []string { l = slices.Clone(l); slices.Sort(l); return l }
	if !slices.Equal(sortSame(got), sortSame(want)) {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The administrators' calls were asked for around the block (by
	// EventName=SendCommand, then Username=admin), not over the whole range.
	for _, q := range tr.queries {
		if q.Attr == "Username" && q.Value == "admin" && (q.Start.Before(at(time.Hour-RevokeWindow)) || q.End.After(at(2*time.Hour+RevokeWindow+time.Second))) {
			t.Errorf("admin's calls asked over %v–%v", q.Start, q.End)
		}
	}
	// Without the instance's events nothing of the administrator is asked.
	tr.queries = nil
	if _, err := Collect(context.Background(), []Scope{{Name: "s", Trail: tr, Logs: hostLogs{}, Limiter: NewLimiter(1000)}}, Request{Filter: f, LogGroup: "g"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range tr.queries {
		if q.Value == "admin" || q.Value == "SendCommand" {
			t.Errorf("asked %s=%s without a sign of a revocation", q.Attr, q.Value)
		}
	}
}

// TestParseRevocationRecords: the fields a revocation's records are
// joined by, as CloudTrail writes them.
func TestParseRevocationRecords(t *testing.T) {
	e, err := ParseTrailEvent(`{"eventTime":"2026-12-01T09:00:00Z","eventName":"SendCommand","eventSource":"ssm.amazonaws.com","requestID":"r1",
		"userIdentity":{"type":"AssumedRole","arn":"` + adminARN + `"},
		"requestParameters":{"instanceIds":["i-1","i-2"],"documentName":"AWS-RunShellScript","comment":"jitssh: revoke alice"},
		"responseElements":{"command":{"commandId":"c-1"}}}`)
	if err != nil || e.CommandID != "c-1" || !slices.Equal(e.Instances, []string{"i-1", "i-2"}) || e.Comment != "jitssh: revoke alice" || e.Document != "AWS-RunShellScript" || e.Username != "admin" {
		t.Fatalf("%+v %v", e, err)
	}
	e, err = ParseTrailEvent(`{"eventName":"CreatePolicy","requestParameters":{"name":"jitssh-revoke-alice","type":"SERVICE_CONTROL_POLICY"},
		"responseElements":{"policy":{"policySummary":{"id":"p-abc","name":"jitssh-revoke-alice"}}}}`)
	if err != nil || e.PolicyName != "jitssh-revoke-alice" || e.PolicyID != "p-abc" {
		t.Fatalf("%+v %v", e, err)
	}
	e, err = ParseTrailEvent(`{"eventName":"PutRolePolicy","requestParameters":{"roleName":"Dev","policyName":"jitssh-revoke-alice","policyDocument":"{}"}}`)
	if err != nil || e.PolicyName != "jitssh-revoke-alice" || e.Role != "Dev" {
		t.Fatalf("%+v %v", e, err)
	}
}

// TestCommandJoinerSkipsSilentCommands: three revocations in a row, the
// second finding alice already blocked (no event on the instance), and an
// undo, all within two seconds (CloudTrail's whole seconds): each event
// joins the command that ran it.
func TestCommandJoinerSkipsSilentCommands(t *testing.T) {
	cmd := func(req string, at time.Duration, comment string) *Entry {
		return &Entry{Time: t0.Add(at).Truncate(time.Second), Kind: KindSendCommand, RequestID: req, CommandID: "c-" + req, Subject: "alice",
			Detail: `document=AWS-RunShellScript comment="` + comment + `"`, instances: []string{"i-1"}}
	}
	j := &commandJoiner{commands: []*Entry{
		cmd("r1", 100*time.Millisecond, "jitssh: revoke alice"),
		cmd("r2", 1100*time.Millisecond, "jitssh: undo the revocation of alice"),
		cmd("r3", 1300*time.Millisecond, "jitssh: revoke alice"), // already blocked: nothing recorded
		cmd("r4", 1500*time.Millisecond, "jitssh: undo the revocation of alice"),
		cmd("r5", 2100*time.Millisecond, "jitssh: revoke alice"),
	}}
	ev := func(at time.Duration, name string) *Entry {
		e := &Entry{Time: t0.Add(at), Kind: KindInstanceEvent, Event: name, Instance: "i-1"}
		j.join(e)
		return e
	}
	for _, c := range []struct {
		e    *Entry
		want string
	}{
		{ev(200*time.Millisecond, "user-blocked"), "r1"},
		{ev(1200*time.Millisecond, "user-unblocked"), "r2"},
		{ev(1600*time.Millisecond, "user-unblocked"), "r4"},
		{ev(2200*time.Millisecond, "user-blocked"), "r5"},
		{&Entry{}, ""},
	} {
		if c.e.RequestID != c.want {
			t.Errorf("%s at %v joined %q, want %q", c.e.Event, c.e.Time.Sub(t0), c.e.RequestID, c.want)
		}
	}
}

// TestSecondLoginOfOnePush: a push's key used for two logins within its
// 60 s (served twice): both logins are accesses of that push, neither a
// gap.
func TestSecondLoginOfOnePush(t *testing.T) {
	fp := Fingerprint(keyLine)
	got := Join([]TrailEvent{push(0, "r1", "alice", "i-1", "")}, []HostEvent{
		host(time.Second, "h1", HostKeyServed, "alice", "i-1", "r1", fp, ""),
		host(2*time.Second, "h2", HostSessionOpened, "alice", "i-1", "", fp, "sshd_pid=1"),
		host(3*time.Second, "h3", HostSessionClosed, "alice", "i-1", "", "", "sshd_pid=1"),
		host(20*time.Second, "h4", HostKeyServed, "alice", "i-1", "r1", fp, ""),
		host(21*time.Second, "h5", HostSessionOpened, "alice", "i-1", "", fp, "sshd_pid=2"),
	}, Filter{User: "alice"})
	if len(got) != 2 || got[0].RequestID != "r1" || got[1].RequestID != "r1" || got[0].Login == nil || got[1].Login == nil ||
		len(got[0].Gaps)+len(got[1].Gaps) != 0 || got[1].Logout != nil || !strings.HasSuffix(got[1].Principal, "/alice") {
		t.Fatalf("timeline %+v", got)
	}
}
