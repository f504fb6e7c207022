package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/fault"
)

// TestLongSessionResumesWithRefreshedCredentials is the two-hour session,
// accelerated: temporary credentials (the sandbox's web identity profile,
// AssumeRoleWithWebIdentity) that last 3 seconds instead of an hour
// (`jitssh-sandbox ctl credential-lifetime 3s`), and a data channel whose
// websocket the service closes every 5 seconds instead of about hourly.
// An interactive ssh over SSM must keep working across drops that come
// after its credentials expired: each ResumeSession is signed with
// refreshed credentials (a client that kept the credentials it started
// with gets ExpiredToken, as AWS's plugin gets 403 after an hour), and
// each re-dialled data channel presents the token that ResumeSession
// returned (the sandbox refuses a resumed channel with any other).
func TestLongSessionResumesWithRefreshedCredentials(t *testing.T) {
	e := newLongSessionEnv(t)
	vars, envFile := e.sandboxProfiles(t, "webid")
	ctl := exec.Command("sh", "-c", ". "+envFile+" && jitssh-sandbox ctl credential-lifetime 3s")
	ctl.Env = vars
	if out, err := ctl.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "3s" {
		t.Fatalf("jitssh-sandbox ctl credential-lifetime 3s: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", "-F", e.sshCf, e.sb.Instances[0].ID, "cat")
	cmd.Env = vars
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewReader(stdout)
	echo := func(s string) {
		t.Helper()
		if _, err := io.WriteString(stdin, s+"\n"); err != nil {
			t.Fatalf("write %q: %v\n%s", s, err, stderr.String())
		}
		got, err := lines.ReadString('\n')
		if err != nil || got != s+"\n" {
			t.Fatalf("echo of %q = %q, %v\nssh stderr: %s", s, got, err, stderr.String())
		}
	}
	echo("before the credentials expire")
	start := time.Now()
	// Two service-side closes, each long after the credentials of the
	// connection before it expired; bytes go both ways after each.
	for i := 1; i <= 2; i++ {
		time.Sleep(5500 * time.Millisecond)
		echo(fmt.Sprintf("after drop %d", i))
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ssh: %v\n%s", err, stderr.String())
	}
	if _, resumes := e.sb.FaultStats(); resumes < 2 {
		t.Fatalf("%d resumes in %s, want at least 2 (the service closed the websocket every 5 s)", resumes, time.Since(start).Round(time.Second))
	}
	starts, resumes := trailKeys(t, e.sb.CloudTrail, "StartSession"), trailKeys(t, e.sb.CloudTrail, "ResumeSession")
	// (two starts: the session and the one that learned the host key)
	if len(starts) == 0 || len(resumes) < 2 {
		t.Fatalf("StartSession by %q, ResumeSession by %q: want a start and at least 2 resumes, all successful", starts, resumes)
	}
	// Each resume came more than the credentials' lifetime after the
	// one before: signed with keys the start did not use, and not all
	// with the same (a resume retried at once may share its key).
	started, resumeKeys := map[string]bool{}, map[string]bool{}
	for _, s := range starts {
		started[s.key] = true
	}
	for _, r := range resumes {
		if !strings.Contains(r.arn, "assumed-role/JitsshWebIdentity/") {
			t.Errorf("ResumeSession by %s, want the web identity role session", r.arn)
		}
		if started[r.key] {
			t.Errorf("ResumeSession signed with access key %s, which started the session: the credentials were not refreshed", r.key)
		}
		resumeKeys[r.key] = true
	}
	if len(resumeKeys) < 2 {
		t.Errorf("%d resumes signed with %d access keys, want a new key after each expiry", len(resumes), len(resumeKeys))
	}
	if n := e.cloudTrailCount("AssumeRoleWithWebIdentity", "JitsshWebIdentity"); n < 3 {
		t.Errorf("%d AssumeRoleWithWebIdentity calls, want one per expired set of credentials (at least 3)", n)
	}
}

// TestLongSessionWithExportedTemporaryCredentials is AWS's plugin's
// failure (aws/session-manager-plugin issue 136: ResumeSession refused
// with 403 an hour in): temporary credentials exported in the
// environment (AWS_SESSION_TOKEN) expire and nothing can refresh them.
// The first drop after they expired ends the session; jitssh says so at
// once, with AWS's answer and what to do, instead of retrying for a
// minute.
func TestLongSessionWithExportedTemporaryCredentials(t *testing.T) {
	e := newLongSessionEnv(t)
	r, ok := e.sb.World.Role("JitsshWebIdentity")
	if !ok {
		t.Fatal("the sandbox has no JitsshWebIdentity role")
	}
	creds := e.sb.World.IssueSession(e.sb.World.RoleSession(r, "exported", nil), 3*time.Second)
	var vars []string
	for _, kv := range e.vars {
		if k, _, _ := strings.Cut(kv, "="); k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY" && k != "AWS_PROFILE" {
			vars = append(vars, kv)
		}
	}
	vars = append(vars, "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey, "AWS_SESSION_TOKEN="+creds.SessionToken)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", "-F", e.sshCf, e.sb.Instances[0].ID, "cat")
	cmd.Env = vars
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewReader(stdout)
	if _, err := io.WriteString(stdin, "before\n"); err != nil {
		t.Fatal(err)
	}
	if got, err := lines.ReadString('\n'); got != "before\n" {
		t.Fatalf("echo = %q, %v\n%s", got, err, stderr.String())
	}
	start := time.Now()
	err := cmd.Wait() // the service closes the websocket 5 s after it opened
	took := time.Since(start)
	if err == nil {
		t.Fatalf("ssh succeeded on expired credentials:\n%s", stderr.String())
	}
	for _, want := range []string{"cannot be resumed", "ssm:ResumeSession failed: ExpiredToken", "exported in AWS_SESSION_TOKEN have expired"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	t.Logf("ssh ended %s after the echo:\n%s", took.Round(100*time.Millisecond), stderr.String())
	if took > 15*time.Second {
		t.Errorf("the session ended %s after the last echo, want at the drop (about 5 s), not after a minute of retries", took.Round(time.Second))
	}
}

// newLongSessionEnv is a sandbox whose service closes every data-channel
// websocket 5 seconds after it opened (AWS: about hourly), and whose web
// identity role's sessions log in as the sandbox's default OS user (the
// impersonation SCP follows the role's userName tag), which every
// instance has.
func newLongSessionEnv(t *testing.T) *env {
	return newEnv(t, bestMode(t), func(c *sandbox.Config) {
		c.Faults = fault.Config{CloseAfter: fault.Duration(5 * time.Second)}
		acct, err := config.Builtin().Resolve(sandbox.LocalUser())
		if err != nil {
			t.Fatal(err)
		}
		for i := range acct.Roles {
			if acct.Roles[i].Name == "JitsshWebIdentity" {
				acct.Roles[i].Tags = map[string]string{"userName": sandbox.LocalUser()}
			}
		}
		c.Account = acct
	})
}

// trailCall is who made a successful call, from its CloudTrail record.
type trailCall struct{ key, arn string }

// trailKeys returns the access keys and identities of the successful
// eventName calls in the sandbox's CloudTrail file, in order.
func trailKeys(t *testing.T, path, eventName string) []trailCall {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []trailCall
	for _, line := range strings.Split(string(b), "\n") {
		var ev struct {
			EventName    string `json:"eventName"`
			ErrorCode    string `json:"errorCode"`
			UserIdentity struct {
				ARN         string `json:"arn"`
				AccessKeyID string `json:"accessKeyId"`
			} `json:"userIdentity"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.EventName == eventName && ev.ErrorCode == "" {
			out = append(out, trailCall{ev.UserIdentity.AccessKeyID, ev.UserIdentity.ARN})
		}
	}
	return out
}
