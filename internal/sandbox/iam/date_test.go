package iam

import (
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
)

// AWS's "revoke active sessions" policy (AWSRevokeOlderSessions): deny
// everything to credentials issued before a time.
func revokeOlder(before time.Time) policy.Document {
	return policy.Document{Version: policy.Version, Statement: []policy.Statement{{
		Effect: policy.Deny, Action: policy.Strings{"*"}, Resource: policy.Strings{"*"},
		Condition: policy.Condition{"DateLessThan": {"aws:TokenIssueTime": {before.UTC().Format(time.RFC3339)}}}}}}
}

func TestRevokeOlderSessions(t *testing.T) {
	cut := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	allow := policy.Document{Version: policy.Version, Statement: []policy.Statement{{
		Effect: policy.Allow, Action: policy.Strings{"*"}, Resource: policy.Strings{"*"}}}}
	pol := Policies{Identity: []policy.Document{allow, revokeOlder(cut)}}
	req := func(issued time.Time) Request {
		p := aliceP
		p.TokenIssueTime = issued
		return Request{Principal: p, Action: "ec2-instance-connect:SendSSHPublicKey", Resource: instARN, Time: cut.Add(time.Minute)}
	}
	for _, tc := range []struct {
		name   string
		issued time.Time
		want   Decision
	}{
		{"issued before the cut", cut.Add(-time.Second), ExplicitDenyIdentity},
		{"issued at the cut", cut, Allowed},
		{"issued after the cut", cut.Add(time.Second), Allowed},
		{"long-term keys: no aws:TokenIssueTime", time.Time{}, Allowed},
	} {
		if got := Evaluate(req(tc.issued), pol); got.Decision != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got.Decision, tc.want)
		}
	}
}

func TestDateOperators(t *testing.T) {
	ctx := &context{keys: map[string][]string{"aws:currenttime": {"2026-12-02T15:00:00Z"}, "aws:epochtime": {"1796223600"}}}
	for _, tc := range []struct {
		op, key, val string
		want         bool
	}{
		{"DateLessThan", "aws:CurrentTime", "2026-12-02T15:00:01Z", true},
		{"DateLessThan", "aws:CurrentTime", "2026-12-02T15:00:00Z", false},
		{"DateLessThanEquals", "aws:CurrentTime", "2026-12-02T15:00:00Z", true},
		{"DateGreaterThan", "aws:CurrentTime", "2026-12-02", true},
		{"DateGreaterThanEquals", "aws:CurrentTime", "2026-12-03", false},
		{"DateEquals", "aws:CurrentTime", "2026-12-02T16:00:00+01:00", true},
		{"DateNotEquals", "aws:CurrentTime", "2026-12-02T16:00:00+01:00", false},
		{"DateEquals", "aws:CurrentTime", "1796223600", true}, // epoch seconds
		{"DateLessThan", "aws:CurrentTime", "not a date", false},
		{"DateLessThan", "aws:TokenIssueTime", "2030-01-01T00:00:00Z", false},        // absent key
		{"DateLessThanIfExists", "aws:TokenIssueTime", "2030-01-01T00:00:00Z", true}, // absent key, IfExists
		{"DateNotEquals", "aws:TokenIssueTime", "2030-01-01T00:00:00Z", true},        // absent key, negated
	} {
		if got := ctx.condition(tc.op, tc.key, []string{tc.val}); got != tc.want {
			t.Errorf("%s %s %q: %v, want %v", tc.op, tc.key, tc.val, got, tc.want)
		}
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-12-02T15:00:00Z", "2026-12-02", "1796223600", "", "+1", "2026-12-02T15:00:00.123+02:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseDate(s)
		if !ok && !d.IsZero() {
			t.Fatalf("parseDate(%q) failed but returned %v", s, d)
		}
	})
}
