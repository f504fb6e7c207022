package knobs

import (
	"strings"
	"testing"
	"time"
)

func TestSpecificRuleWins(t *testing.T) {
	var tb Table
	if err := tb.SetLatency(map[string]string{"*": "5ms", "ssm:*": "10ms", "ssm:StartSession": "200ms"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		svc, op string
		want    time.Duration
	}{
		{"ssm", "StartSession", 200 * time.Millisecond},
		{"ssm", "TerminateSession", 10 * time.Millisecond},
		{"ec2", "DescribeInstances", 5 * time.Millisecond},
	} {
		if d, thr := tb.Decide(c.svc, c.op); d != c.want || thr {
			t.Errorf("%s:%s: delay %v throttled %v, want %v and no throttling", c.svc, c.op, d, thr, c.want)
		}
	}
}

func TestThrottleForms(t *testing.T) {
	now := time.Unix(1000, 0)
	tb := Table{Now: func() time.Time { return now }}
	if err := tb.SetThrottle(map[string]string{
		"ec2:DescribeInstances": "next:2", "ssm:StartSession": "2/s", "sts:*": "100%", "ec2-instance-connect:*": "0",
	}); err != nil {
		t.Fatal(err)
	}
	count := func(svc, op string, n int) int {
		k := 0
		for range n {
			if _, thr := tb.Decide(svc, op); thr {
				k++
			}
		}
		return k
	}
	if k := count("ec2", "DescribeInstances", 5); k != 2 {
		t.Errorf("next:2 throttled %d of 5 calls", k)
	}
	if got := tb.Throttle()["ec2:DescribeInstances"]; got != "next:0" {
		t.Errorf("spent count rule shows %q", got)
	}
	if k := count("ssm", "StartSession", 5); k != 3 {
		t.Errorf("2/s with no time passing throttled %d of 5 calls, want 3 (a bucket of 2)", k)
	}
	now = now.Add(500 * time.Millisecond) // one token back
	if k := count("ssm", "StartSession", 2); k != 1 {
		t.Errorf("after 0.5 s at 2/s, %d of 2 calls throttled, want 1", k)
	}
	if k := count("sts", "GetCallerIdentity", 10); k != 10 {
		t.Errorf("100%% throttled %d of 10", k)
	}
	if k := count("ec2-instance-connect", "SendSSHPublicKey", 10); k != 0 {
		t.Errorf("0 throttled %d of 10", k)
	}
	if k := count("ssm", "TerminateSession", 10); k != 0 {
		t.Errorf("an API without a rule was throttled %d times", k)
	}
}

func TestBadRulesChangeNothing(t *testing.T) {
	var tb Table
	if err := tb.SetLatency(map[string]string{"ec2:DescribeInstances": "1s"}); err != nil {
		t.Fatal(err)
	}
	if err := tb.SetThrottle(map[string]string{"ssm:*": "10%"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]string{
		{"ec2:DescribeInstances": "soon"}, {"ec2:DescribeInstances": "-1s"}, {"ec2:DescribeInstances": "2m"},
		{"s3:GetObject": "1s"}, {"DescribeInstances": "1s"}, {"ec2:describe": "1s"}, {"ec2:": "1s"},
	} {
		if err := tb.SetLatency(bad); err == nil {
			t.Errorf("latency %v accepted", bad)
		}
	}
	for _, bad := range []string{"1", "2", "150%", "-1%", "0/s", "x/s", "next:0", "next:x", "1.5", "NaN", "often", ""} {
		if err := tb.SetThrottle(map[string]string{"ssm:*": bad}); err == nil {
			t.Errorf("throttle %q accepted", bad)
		} else if !strings.Contains(err.Error(), "ssm:*") {
			t.Errorf("error %q does not name the API", err)
		}
	}
	if got := tb.Latency()["ec2:DescribeInstances"]; got != "1s" {
		t.Errorf("latency after refused changes: %q", got)
	}
	if got := tb.Throttle()["ssm:*"]; got != "10%" {
		t.Errorf("throttle after refused changes: %q", got)
	}
}

func TestParseAssignments(t *testing.T) {
	m, err := ParseAssignments([]string{"ec2:DescribeInstances=200ms", "ssm:*=1s"})
	if err != nil || m["ec2:DescribeInstances"] != "200ms" || m["ssm:*"] != "1s" {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range [][]string{{"ec2:DescribeInstances"}, {"=1s"}, {"a=1s", "a=2s"}, {"ssm:*="}} {
		if _, err := ParseAssignments(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseThrottle(f *testing.F) {
	for _, s := range []string{"25%", "0.25", "5/s", "30/m", "next:3", "1e3/s", "0", "1.0", "next:-1", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseThrottle(s)
		if err != nil {
			return
		}
		if r.Probability < 0 || r.Probability > 1 || r.PerSecond < 0 || r.Count < 0 || r.PerSecond > 0 && r.Burst < 1 {
			t.Fatalf("%q parsed to %+v", s, r)
		}
		if r.String() != strings.TrimSpace(s) {
			t.Fatalf("%q prints as %q", s, r.String())
		}
	})
}

func FuzzParseAPI(f *testing.F) {
	for _, s := range []string{"*", "ssm:*", "ec2:DescribeInstances", "ec2:", ":x", "s3:Get"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ParseAPI(s) != nil || s == "*" {
			return
		}
		svc, op, _ := strings.Cut(s, ":")
		if svc == "" || op == "" || strings.ContainsAny(op, " \n=") {
			t.Fatalf("%q accepted", s)
		}
	})
}

func TestFailRules(t *testing.T) {
	var tb Table
	if err := tb.SetFail(map[string]string{"ssm:DescribeInstanceInformation": "next:2", "ec2:*": "100%"}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range 5 {
		if tb.Failed("ssm", "DescribeInstanceInformation") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("next:2 failed %d of 5 calls", n)
	}
	if !tb.Failed("ec2", "DescribeInstances") || tb.Failed("ssm", "StartSession") {
		t.Error("ec2:* 100% did not fail a call, or an API without a rule failed")
	}
	if got := tb.Fail(); got["ssm:DescribeInstanceInformation"] != "next:0" || got["ec2:*"] != "100%" {
		t.Errorf("rules: %v", got)
	}
	// Fail rules count apart from throttle rules.
	if _, thr := tb.Decide("ec2", "DescribeInstances"); thr {
		t.Error("a fail rule throttled")
	}
	if err := tb.SetFail(map[string]string{"ssm:*": "often"}); err == nil || !strings.Contains(err.Error(), `fail "often"`) {
		t.Errorf("bad fail rule: %v", err)
	}
	if got := tb.Fail(); got["ec2:*"] != "100%" {
		t.Errorf("fail rules after a refused change: %v", got)
	}
	var none *Table
	if none.Failed("ssm", "StartSession") {
		t.Error("a nil table failed a call")
	}
}

// TestThrottlePeriod checks the for:DURATION form: every call for the
// period from when the rule is set, then none (an outage).
func TestThrottlePeriod(t *testing.T) {
	now := time.Unix(1000, 0)
	tab := &Table{Now: func() time.Time { return now }}
	if err := tab.SetFail(map[string]string{"logs:*": "for:2m"}); err != nil {
		t.Fatal(err)
	}
	if !tab.Failed("logs", "PutLogEvents") || tab.Failed("ssm", "StartSession") {
		t.Fatal("for:2m should fail logs calls at once, and only them")
	}
	now = now.Add(119 * time.Second)
	if !tab.Failed("logs", "PutLogEvents") {
		t.Fatal("for:2m stopped before two minutes")
	}
	now = now.Add(time.Second)
	if tab.Failed("logs", "PutLogEvents") {
		t.Fatal("for:2m still failing after two minutes")
	}
	for _, bad := range []string{"for:", "for:0s", "for:-1s", "for:25h", "for:x"} {
		if _, err := ParseThrottle(bad); err == nil {
			t.Errorf("ParseThrottle(%q) accepted it", bad)
		}
	}
	if got := tab.Fail()["logs:*"]; got != "for:2m" {
		t.Errorf("Fail() shows %q", got)
	}
}

// TestRateRulesPerScope: a rate rule keeps a bucket per scope (account
// and region, as AWS's), so one scope's calls do not throttle another's;
// count rules stay shared.
func TestRateRulesPerScope(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tb := &Table{Now: func() time.Time { return now }}
	if err := tb.SetThrottle(map[string]string{"ec2:DescribeInstances": "1/s", "ssm:*": "next:1"}); err != nil {
		t.Fatal(err)
	}
	decide := func(scope, service, op string) bool {
		_, th := tb.DecideIn(scope, service, op)
		return th
	}
	if decide("A/us-east-1", "ec2", "DescribeInstances") || !decide("A/us-east-1", "ec2", "DescribeInstances") {
		t.Fatal("1/s: want the first call through and the second throttled in one scope")
	}
	if decide("A/us-west-2", "ec2", "DescribeInstances") || decide("B/us-east-1", "ec2", "DescribeInstances") || decide("", "ec2", "DescribeInstances") {
		t.Fatal("1/s: another scope's first call was throttled")
	}
	now = now.Add(time.Second)
	if decide("A/us-east-1", "ec2", "DescribeInstances") {
		t.Fatal("1/s: the bucket did not refill after a second")
	}
	if !decide("A/us-east-1", "ssm", "StartSession") || decide("B/us-east-1", "ssm", "StartSession") {
		t.Fatal("next:1: want one call throttled in all scopes together")
	}
}
