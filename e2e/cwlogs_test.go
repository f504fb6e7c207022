package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// cwEnv is the built-in sandbox with just-in-time users on, where web-2's
// jitssh-host ships its audit events to CloudWatch Logs /jitssh/instances
// with its instance role, and alice's credentials for logging in.
type cwEnv struct {
	*env
	web2  sandbox.InstanceInfo
	alice []string // env for jitssh as alice
	admin []string // env for the aws CLI as the sandbox's administrator
}

func newCWEnv(t *testing.T) *cwEnv {
	t.Helper()
	stateDir := jitAliceState(t, "jitssh-e2e-cw-")
	e := &cwEnv{env: newEnv(t, sshd.OpenSSH, func(c *sandbox.Config) { c.JIT, c.StateDir = sandbox.JITOn, stateDir })}
	for _, in := range e.sb.Instances {
		if in.Name == "web-2" {
			e.web2 = in
		}
	}
	if e.web2.JITService == "" {
		t.Fatalf("web-2 runs no userdb service: %+v", e.web2)
	}
	as := func(name string) []string {
		for _, id := range e.sb.World.Identities() {
			if id.Name == name {
				out := []string{"AWS_ACCESS_KEY_ID=" + id.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + id.SecretAccessKey}
				for _, kv := range e.vars {
					if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") && !strings.HasPrefix(kv, "AWS_PROFILE=") {
						out = append(out, kv)
					}
				}
				return out
			}
		}
		t.Fatalf("the built-in account has no %s identity", name)
		return nil
	}
	e.alice, e.admin = as("alice"), as("admin")
	return e
}

// cwEvent is a shipped audit event as jitssh-host writes it.
type cwEvent struct {
	ID          string `json:"id"`
	Event       string `json:"event"`
	OSUser      string `json:"os_user"`
	Fingerprint string `json:"fingerprint"`
	RequestID   string `json:"request_id"`
	Detail      string `json:"detail"`
}

// filterEvents reads web-2's stream with the pip aws CLI (it follows
// nextToken itself) and returns the events and how often each id occurs.
func (e *cwEnv) filterEvents(t *testing.T, pattern string) ([]cwEvent, map[string]int) {
	t.Helper()
	evs, count, err := e.tryFilterEvents(t, pattern)
	if err != nil {
		t.Fatal(err)
	}
	return evs, count
}

// tryFilterEvents is filterEvents with the aws CLI's failure returned.
func (e *cwEnv) tryFilterEvents(t *testing.T, pattern string) ([]cwEvent, map[string]int, error) {
	t.Helper()
	args := []string{"logs", "filter-log-events", "--log-group-name", "/jitssh/instances", "--log-stream-names", e.web2.ID}
	if pattern != "" {
		args = append(args, "--filter-pattern", pattern)
	}
	out, err := awsCLIMFA(t, e.admin, "", args...)
	if err != nil {
		return nil, nil, fmt.Errorf("aws logs filter-log-events: %w\n%s", err, out)
	}
	var res struct {
		Events []struct {
			Message string `json:"message"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("filter-log-events printed %s: %v", out, err)
	}
	var evs []cwEvent
	count := map[string]int{}
	for _, m := range res.Events {
		var ev cwEvent
		if err := json.Unmarshal([]byte(m.Message), &ev); err != nil || ev.ID == "" {
			t.Fatalf("shipped message %q is not an audit event with an id", m.Message)
		}
		if count[ev.ID]++; count[ev.ID] == 1 {
			evs = append(evs, ev)
		}
	}
	return evs, count, nil
}

// TestLoginEventsInCloudWatch: alice's login to web-2 with the real sshd
// produces key-served, session-opened and session-closed events in the
// log group, found with the aws CLI by a JSON filter pattern; the session
// events carry the login key's fingerprint, joining them to key-served and
// its CloudTrail request id.
func TestLoginEventsInCloudWatch(t *testing.T) {
	e := newCWEnv(t)
	e.vars = e.alice
	if out, err := e.run("jitssh", "ssh", "web-2", "--", "echo logged-in"); err != nil || !strings.Contains(string(out), "logged-in") {
		t.Fatalf("alice's login to web-2: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	var evs []cwEvent
	for {
		evs, _ = e.filterEvents(t, `{ $.os_user = "alice" }`)
		kinds := map[string]bool{}
		for _, ev := range evs {
			kinds[ev.Event] = true
		}
		if kinds["key-served"] && kinds["session-opened"] && kinds["session-closed"] {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(e.web2.AuditLog)
			t.Fatalf("events of alice in CloudWatch Logs: %+v\nwant key-served, session-opened, session-closed; audit file:\n%s", evs, log)
		}
		time.Sleep(300 * time.Millisecond)
	}
	var served, opened cwEvent
	for _, ev := range evs {
		switch ev.Event {
		case "key-served":
			served = ev
		case "session-opened":
			opened = ev
		}
	}
	if served.RequestID == "" || served.Fingerprint == "" {
		t.Errorf("key-served lacks the request id or fingerprint: %+v", served)
	}
	if opened.Fingerprint != served.Fingerprint {
		t.Errorf("session-opened fingerprint %q, key-served %q: the join by key fails", opened.Fingerprint, served.Fingerprint)
	}
	if !strings.Contains(opened.Detail, "sshd_pid=") {
		t.Errorf("session-opened detail %q", opened.Detail)
	}
	if n := e.cloudTrailCount("PutLogEvents", ""); n != 0 {
		t.Errorf("%d PutLogEvents records in CloudTrail; AWS records none", n)
	}
}

// TestShippingSurvivesOutageE2E is the fault acceptance with the real
// sshd and daemon, scaled down (the full two minutes: cwship's
// TestShipperSurvivesFaults with JITSSH_CW_OUTAGE=2m, bench/): CloudWatch
// Logs throttles and then fails for a while, alice logs in meanwhile, the
// userdb service (the shipper) is restarted once; afterwards every event
// of web-2's audit file is in the log group, exactly once after
// deduplication by event id.
func TestShippingSurvivesOutageE2E(t *testing.T) {
	outage := 8 * time.Second
	if s := os.Getenv("JITSSH_CW_OUTAGE"); s != "" { // bench/cwlogs-outage.sh: 2m
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("JITSSH_CW_OUTAGE=%q: %v", s, err)
		}
		outage = d
	}
	e := newCWEnv(t)
	e.vars = e.alice
	start := time.Now()
	if err := e.sb.SetThrottle(map[string]string{"logs:*": "for:" + (outage / 2).String()}); err != nil {
		t.Fatal(err)
	}
	if err := e.sb.SetFail(map[string]string{"logs:*": "for:" + outage.String()}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if out, err := e.run("jitssh", "ssh", "web-2", "--", "true"); err != nil {
			t.Fatalf("login %d during the outage: %v\n%s", i, err, out)
		}
		if i == 1 {
			if err := e.sb.RestartHostService(e.web2.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(time.Until(start.Add(outage + time.Second))) // the outage ends by itself
	want := auditIDs(t, e.web2.AuditLog)
	if len(want) < 9 {
		t.Fatalf("only %d events in web-2's audit file after three logins", len(want))
	}
	deadline := time.Now().Add(60 * time.Second) // the shipper's backoff tops at 30 s
	for {
		_, count, err := e.tryFilterEvents(t, "")
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			t.Log(err)
			time.Sleep(time.Second)
			continue
		}
		missing := 0
		for id := range want {
			if count[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			dups := 0
			for _, n := range count {
				dups += n - 1
			}
			t.Logf("%d events shipped through the outage and a restart; %d duplicates dropped by id", len(want), dups)
			log, _ := os.ReadFile(filepath.Join(e.sb.StateDir, e.web2.ID, "userdb.log"))
			for _, s := range []string{"ThrottlingException", "ServiceUnavailableException", "cloudwatch: shipping audit events"} {
				if n := strings.Count(string(log), s); (s == "cloudwatch: shipping audit events" && n != 2) || n == 0 {
					t.Errorf("the userdb service's log has %q %d times: the outage or the restart did not happen:\n%s", s, n, log)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(e.web2.AuditLog)
			t.Fatalf("%d of %d events missing from CloudWatch Logs after the outage; audit file:\n%s", missing, len(want), log)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// auditIDs returns the event ids of an audit file.
func auditIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev cwEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.ID != "" {
			ids[ev.ID] = true
		}
	}
	return ids
}
