package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/audit"
	"github.com/jitssh/jitssh/internal/scope"
)

// TestAuditFlags: audit's flags → auditOptions.
func TestAuditFlags(t *testing.T) {
	var got *auditOptions
	cmd := newAuditCmd(&globals{}, func(_ context.Context, o *auditOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--user", "alice", "--principal", "arn:aws:iam::1:user/a", "--instance", "i-1", "--since", "2h", "--until", "1h", "-o", "json", "--log-group", "g"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := audit.Filter{User: "alice", Principal: "arn:aws:iam::1:user/a", Instance: "i-1"}
	if got.Filter != want || got.Since != "2h" || got.Until != "1h" || got.Output != "json" || got.LogGroup != "g" || got.Scopes == nil {
		t.Fatalf("options %+v", *got)
	}
	cmd = newAuditCmd(&globals{}, func(_ context.Context, o *auditOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"extra"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err == nil {
		t.Fatal("an argument was accepted")
	}
}

type auditFakeTrail struct{ evs []audit.TrailEvent }

func (f auditFakeTrail) LookupPage(context.Context, audit.LookupQuery, string) ([]audit.TrailEvent, string, error) {
	return f.evs, "", nil
}

type auditFakeLogs struct{ err error }

func (f auditFakeLogs) FilterPage(context.Context, audit.LogQuery, string) ([]audit.HostEvent, string, error) {
	return nil, "", f.err
}

// TestRunAudit: bad times and outputs are usage errors naming the flag; a
// failing source is a warning saying what the caller needs, and the
// table shows a denied push and its gap words.
func TestRunAudit(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	push := audit.TrailEvent{Time: now.Add(-time.Hour), Name: "SendSSHPublicKey", Principal: "arn:aws:sts::123456789012:assumed-role/Dev/alice",
		RequestID: "r1", Instance: "i-1", OSUser: "root", ErrorCode: "AccessDeniedException", ErrorMsg: "not authorized"}
	run := func(since, until, output string) (string, string, error) {
		var out, errb bytes.Buffer
		o := &auditOptions{IO: IOStreams{Out: &out, Err: &errb}, Since: since, Until: until, Output: output, LogGroup: "/jitssh/instances",
			Filter: audit.Filter{User: "alice"}, now: func() time.Time { return now },
			Scopes: func(context.Context) (*auditSources, error) {
				return &auditSources{scopes: []audit.Scope{{Name: "profile default, us-east-1", Trail: auditFakeTrail{[]audit.TrailEvent{push}},
					Logs: auditFakeLogs{errors.New("logs:FilterLogEvents failed: AccessDeniedException: no")}, Limiter: audit.NewLimiter(100)}},
					where: map[string]scope.Location{"profile default, us-east-1": {Profile: "default", Region: "us-east-1"}}}, nil
			}}
		err := runAudit(context.Background(), o)
		return out.String(), errb.String(), err
	}
	for _, c := range []struct{ since, until, output, err string }{
		{"yesterday", "", "table", "--since \"yesterday\""},
		{"24h", "soon", "table", "--until \"soon\""},
		{"1h", "2h", "table", "is after --until"},
		{"24h", "", "yaml", "--output \"yaml\""},
	} {
		if _, _, err := run(c.since, c.until, c.output); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: err %v, want %q", c, err, c.err)
		}
	}
	out, stderr, err := run("2026-12-01", "", "table")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "push DENIED ") || !strings.Contains(out, "error=AccessDeniedException: not authorized") || !strings.Contains(out, "root@i-1") {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(stderr, "profile default, us-east-1: CloudWatch Logs:") || !strings.Contains(stderr, "logs:FilterLogEvents on the log group of --log-group") ||
		!strings.Contains(stderr, "jitssh policy auditor") {
		t.Errorf("warning: %q", stderr)
	}
}

type auditDeniedTrail struct{}

func (auditDeniedTrail) LookupPage(context.Context, audit.LookupQuery, string) ([]audit.TrailEvent, string, error) {
	return nil, "", errors.New("cloudtrail:LookupEvents failed: AccessDeniedException: no")
}

// TestRunAuditNothingRead: every source failing is the command's error,
// naming each with its fix; one location failing is a warning.
func TestRunAuditNothingRead(t *testing.T) {
	l := scope.Location{Profile: "dev", Account: "111111111111", Region: "eu-west-1"}
	denied := audit.Scope{Name: l.String(), Trail: auditDeniedTrail{}, Logs: auditFakeLogs{errors.New("logs:FilterLogEvents failed: AccessDeniedException: no")}, Limiter: audit.NewLimiter(100)}
	var out, errb bytes.Buffer
	o := &auditOptions{IO: IOStreams{Out: &out, Err: &errb}, Since: "1h", Output: "table", LogGroup: "g", now: time.Now,
		Scopes: func(context.Context) (*auditSources, error) {
			return &auditSources{scopes: []audit.Scope{denied}, where: map[string]scope.Location{denied.Name: l},
				failures: []scope.Failure{{Location: scope.Location{Profile: "dev", Account: "111111111111", Region: "ap-east-1"}, Err: errors.New("disabled")}}}, nil
		}}
	err := runAudit(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "no source could be read") || !strings.Contains(err.Error(), "account 111111111111, eu-west-1 (profile dev): CloudTrail:") ||
		!strings.Contains(err.Error(), "account 111111111111, ap-east-1 (profile dev): disabled") || !strings.Contains(err.Error(), "`jitssh policy auditor`") {
		t.Fatalf("err %v", err)
	}
}
