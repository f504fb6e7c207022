//go:build unix

package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awscreds"
)

func callerOf(t *testing.T, opts Options) (*Caller, error) {
	t.Helper()
	opts.Region = "us-east-1"
	c, err := New(context.Background(), opts)
	if err != nil {
		return nil, err
	}
	return c.CallerIdentity(context.Background())
}

// TestMFARoleProfile: the profile mfa (role_arn, source_profile,
// mfa_serial) assumes its role with the code, caches the session (0600
// in 0700, at botocore's key), and the next process uses the cache: no
// code asked, no second AssumeRole.
func TestMFARoleProfile(t *testing.T) {
	s := newCompatSandbox(t, "")
	caller, err := callerOf(t, Options{Profile: "mfa", MFACode: s.code(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(caller.ARN, "arn:aws:sts::"+compatAccount+":assumed-role/Admin/") {
		t.Fatalf("caller %s", caller.ARN)
	}
	file := s.cache().Path(awscreds.RoleArgs{RoleARN: compatRole, SerialNumber: compatSerial}.CacheKey())
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache file %s: %v %v", file, st, err)
	}
	if dst, _ := os.Stat(filepath.Dir(file)); dst.Mode().Perm() != 0o700 {
		t.Errorf("cache directory mode %v", dst.Mode().Perm())
	}
	// the session lasts STS's default hour, not the Go SDK's 15 minutes
	e, _ := s.cache().Load(filepath.Base(strings.TrimSuffix(file, ".json")), compatRole)
	if e == nil || e.Expiration.Before(time.Now().Add(55*time.Minute)) {
		t.Errorf("cached session %+v: want about an hour", e)
	}
	again, err := callerOf(t, Options{Profile: "mfa", MFACode: "not-a-code"})
	if err != nil || again.ARN != caller.ARN {
		t.Fatalf("second process: %+v %v", again, err)
	}
	if n := s.calls.count("AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole calls, want 1", n)
	}
}

// TestMFARoleWrongCode: a refused code is AWS's error as an
// *awscreds.AssumeRoleError (not mistaken for a refusal of the call the
// credentials were for), and nothing is cached.
func TestMFARoleWrongCode(t *testing.T) {
	s := newCompatSandbox(t, "")
	code := s.code(t)
	wrong := string(rune('0'+(code[0]-'0'+5)%10)) + code[1:]
	_, err := callerOf(t, Options{Profile: "mfa", MFACode: wrong})
	var ae *awscreds.AssumeRoleError
	if !errors.As(err, &ae) || !ae.MFARejected() {
		t.Fatalf("err %v", err)
	}
	var api *APIError
	if errors.As(err, &api) {
		t.Errorf("a refused MFA code reads as sts:GetCallerIdentity refused: %v", api)
	}
	if entries, _ := filepath.Glob(filepath.Join(s.cache().Dir, "*.json")); len(entries) != 0 {
		t.Errorf("cached after a refusal: %v", entries)
	}
}

// TestJitsshUsesSessionCLICached: the AWS CLI v1 asks for the code
// (answered on its stdin) and caches the session; jitssh then uses that
// session without a prompt.
func TestJitsshUsesSessionCLICached(t *testing.T) {
	s := newCompatSandbox(t, "")
	out, stderr, code := s.awsCLIInput(t, s.code(t)+"\n", "sts", "get-caller-identity", "--profile", "mfa")
	if code != 0 {
		t.Fatalf("aws: exit %d\n%s%s", code, out, stderr)
	}
	var cli struct{ Arn string }
	if err := json.Unmarshal([]byte(out), &cli); err != nil || !strings.Contains(cli.Arn, ":assumed-role/Admin/botocore-session-") {
		t.Fatalf("aws CLI caller %q %v", cli.Arn, err)
	}
	caller, err := callerOf(t, Options{Profile: "mfa", MFACode: "not-a-code"})
	if err != nil || caller.ARN != cli.Arn {
		t.Fatalf("jitssh: %+v %v; want the CLI's session %s", caller, err, cli.Arn)
	}
	if n := s.calls.count("AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole calls, want 1 (the CLI's)", n)
	}
}

// TestMFARoleNoPrompt: with NoPrompt (shell completion) and nothing
// cached, an MFA profile fails at once with NoTerminalError, calling
// nothing.
func TestMFARoleNoPrompt(t *testing.T) {
	s := newCompatSandbox(t, "")
	_, err := callerOf(t, Options{Profile: "mfa", NoPrompt: true})
	var nt *awscreds.NoTerminalError
	if !errors.As(err, &nt) || nt.Profile != "mfa" {
		t.Fatalf("err %v", err)
	}
	if n := s.calls.count("AssumeRole"); n != 0 {
		t.Errorf("%d AssumeRole calls", n)
	}
}

// TestForgetCredentials: the cached session of an MFA profile is removed,
// and the next process asks for a code again.
func TestForgetCredentials(t *testing.T) {
	s := newCompatSandbox(t, "")
	if _, err := callerOf(t, Options{Profile: "mfa", MFACode: s.code(t)}); err != nil {
		t.Fatal(err)
	}
	removed, err := ForgetCredentials(context.Background(), Options{Profile: "mfa"})
	if err != nil || len(removed) != 1 || !strings.HasSuffix(removed[0], awscreds.RoleArgs{RoleARN: compatRole, SerialNumber: compatSerial}.CacheKey()+".json") {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if _, err := callerOf(t, Options{Profile: "mfa", NoPrompt: true}); err == nil {
		t.Error("the session is still cached")
	}
}

// TestResumeSessionDoesNotPromptForMFA: an MFA role's session that
// expires under an SSM session is not renewed by ResumeSession with a
// prompt (ssh holds the terminal then): the call fails with
// awscreds.NoTerminalError (MidSession) and no AssumeRole is made,
// although a code could be had; StartSession, which runs before ssh
// takes the terminal, may still prompt.
func TestResumeSessionDoesNotPromptForMFA(t *testing.T) {
	s := newCompatSandbox(t, "")
	if err := s.w.SetCredentialLifetime(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), Options{Region: "us-east-1", Profile: "mfa", MFACode: s.code(t)})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.calls.count("AssumeRole"); n != 1 {
		t.Fatalf("%d AssumeRole calls, want 1", n)
	}
	time.Sleep(2500 * time.Millisecond) // the role session expires
	_, err = c.ResumeSession(context.Background(), "carol-0123456789abcdef0")
	var nt *awscreds.NoTerminalError
	if !errors.As(err, &nt) || !nt.MidSession {
		t.Fatalf("ResumeSession with the role session expired: %v, want a mid-session NoTerminalError", err)
	}
	if n := s.calls.count("AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole calls, want still 1", n)
	}
}
