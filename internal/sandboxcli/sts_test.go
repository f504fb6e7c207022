package sandboxcli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMFAAndWebIdentityWithTheAWSCLI runs the real aws CLI (v1) against
// `up`'s built-in account: carol assumes the MFA role with a code from
// `ctl mfa-code` (a reused code gets AWS's error, `--next` a fresh one),
// the CLI's own prompt for the mfa profile takes one, the webid profile signs in with the token
// file the sandbox keeps fresh, a token of another subject is refused, and
// CloudTrail has one AssumeRole record per call.
// awsStdin runs the aws CLI with args, the sandbox's config files, HOME
// (its ~/.aws/cli/cache) and stdin.
func awsStdin(t *testing.T, vars map[string]string, home, stdin string, args ...string) (string, string, int) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("aws CLI not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--output", "json"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_CONFIG_FILE=" + vars["JITSSH_SANDBOX_AWS_CONFIG"], "AWS_SHARED_CREDENTIALS_FILE=" + vars["JITSSH_SANDBOX_AWS_CREDENTIALS"],
		"AWS_ENDPOINT_URL=" + vars["AWS_ENDPOINT_URL"], "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYENV_") || strings.HasPrefix(kv, "LANG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestMFAAndWebIdentityWithTheAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox and runs the aws CLI")
	}
	t.Parallel()
	vars, envFile := upFile(t)
	const (
		role   = "arn:aws:iam::123456789012:role/JitsshAdminMFA"
		serial = "arn:aws:iam::123456789012:mfa/carol"
	)
	cfg, err := os.ReadFile(vars["JITSSH_SANDBOX_AWS_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[profile mfa]", "role_arn = " + role, "source_profile = carol", "role_session_name = carol", "mfa_serial = " + serial,
		"[profile webid]", "role_arn = arn:aws:iam::123456789012:role/JitsshWebIdentity", "web_identity_token_file = "} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("AWS config lacks %q:\n%s", want, cfg)
		}
	}
	code := func(args ...string) string {
		t.Helper()
		out, stderr, rc := ctl(t, envFile, append([]string{"mfa-code"}, args...)...)
		c := strings.TrimSpace(out)
		if rc != 0 || !regexp.MustCompile(`^\d{6}$`).MatchString(c) {
			t.Fatalf("ctl mfa-code %v: exit %d %q %s", args, rc, out, stderr)
		}
		return c
	}
	if out, stderr, rc := ctl(t, envFile, "mfa-code", "alice"); rc == 0 || !strings.Contains(stderr, "alice names no MFA device") {
		t.Errorf("ctl mfa-code alice: exit %d %q %s", rc, out, stderr)
	}
	first := code("mfa")
	if again := code("carol"); again != first {
		t.Logf("the window turned between two calls (%s, %s)", first, again)
	}
	assume := func(c string) (string, string, int) {
		return awsProfile(t, vars, "carol", "sts", "assume-role", "--role-arn", role, "--role-session-name", "carol",
			"--serial-number", serial, "--token-code", c)
	}
	out, stderr, rc := assume(first)
	if rc != 0 || !strings.Contains(out, `"Arn": "arn:aws:sts::123456789012:assumed-role/JitsshAdminMFA/carol"`) || !strings.Contains(out, `"AccessKeyId": "ASIA`) {
		t.Fatalf("assume-role with MFA: exit %d\n%s%s", rc, out, stderr)
	}
	_, stderr, rc = assume(first)
	if rc == 0 || !strings.Contains(stderr, "An error occurred (AccessDenied) when calling the AssumeRole operation: MultiFactorAuthentication failed with invalid MFA one time pass code.") {
		t.Errorf("the same code again: exit %d\n%s", rc, stderr)
	}
	_, stderr, rc = awsProfile(t, vars, "carol", "sts", "assume-role", "--role-arn", role, "--role-session-name", "carol")
	if rc == 0 || !strings.Contains(stderr, "(AccessDenied) when calling the AssumeRole operation: User: arn:aws:iam::123456789012:user/carol is not authorized to perform: sts:AssumeRole on resource: "+role) {
		t.Errorf("without MFA: exit %d\n%s", rc, stderr)
	}
	out, stderr, rc = awsProfile(t, vars, "carol", "sts", "get-session-token", "--duration-seconds", "900")
	if rc != 0 || !strings.Contains(out, `"SessionToken"`) {
		t.Errorf("get-session-token: exit %d\n%s%s", rc, out, stderr)
	}

	// The CLI's own MFA prompt of the mfa profile (getpass reads stdin
	// without a terminal) answered with the next window's code (the
	// current one was used above), and its cache of the role's
	// credentials.
	home := t.TempDir()
	out, stderr, rc = awsStdin(t, vars, home, code("--next", "mfa")+"\n", "--profile", "mfa", "sts", "get-caller-identity")
	if rc != 0 || !strings.Contains(out, `"arn:aws:sts::123456789012:assumed-role/JitsshAdminMFA/`) || !strings.Contains(stderr, "Enter MFA code for "+serial) {
		t.Errorf("aws --profile mfa with the code on its prompt: exit %d\n%s%s", rc, out, stderr)
	}
	out, stderr, rc = awsStdin(t, vars, home, "", "--profile", "mfa", "sts", "get-caller-identity")
	if rc != 0 || strings.Contains(stderr, "Enter MFA code") {
		t.Errorf("the CLI's cached role credentials: exit %d\n%s%s", rc, out, stderr)
	}

	out, stderr, rc = awsProfile(t, vars, "webid", "sts", "get-caller-identity")
	if rc != 0 || !strings.Contains(out, `"arn:aws:sts::123456789012:assumed-role/JitsshWebIdentity/webid"`) {
		t.Errorf("webid profile: exit %d\n%s%s", rc, out, stderr)
	}
	tok, stderr, rc := ctl(t, envFile, "web-identity-token", "--sub", "someone-else")
	if rc != 0 {
		t.Fatalf("ctl web-identity-token: %s", stderr)
	}
	_, stderr, rc = awsProfile(t, vars, "default", "sts", "assume-role-with-web-identity", "--role-arn", "arn:aws:iam::123456789012:role/JitsshWebIdentity",
		"--role-session-name", "x1", "--web-identity-token", strings.TrimSpace(tok))
	if rc == 0 || !strings.Contains(stderr, "(AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity") {
		t.Errorf("another subject's token: exit %d\n%s", rc, stderr)
	}

	f, err := os.Open(vars["JITSSH_SANDBOX_CLOUDTRAIL"])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ok, failed int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			EventName, ErrorCode string
		}
		json.Unmarshal(sc.Bytes(), &ev)
		if ev.EventName == "AssumeRole" {
			if ev.ErrorCode == "" {
				ok++
			} else {
				failed++
			}
		}
		if strings.Contains(sc.Text(), first) && strings.Contains(sc.Text(), "tokenCode") {
			t.Errorf("CloudTrail records the MFA code: %s", sc.Text())
		}
	}
	if ok != 2 || failed != 2 {
		t.Errorf("CloudTrail: %d successful and %d failed AssumeRole records, want 2 (assume-role, the mfa profile once) and 2", ok, failed)
	}
}

// TestCtlCredentialLifetime: `ctl credential-lifetime 10s` caps what STS
// issues from then on, as the real aws CLI sees in the Expiration of a
// role session it asks an hour of; bad values are refused and change
// nothing; 0s lifts the cap.
func TestCtlCredentialLifetime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox and runs the aws CLI")
	}
	t.Parallel()
	vars, envFile := upFile(t)
	if out, errOut, code := ctl(t, envFile, "credential-lifetime"); code != 0 || out != "0s\n" {
		t.Fatalf("ctl credential-lifetime: exit %d %q %s", code, out, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"soon"}, "is not a duration"},
		{[]string{"1ms"}, "want 1s to 12h0m0s, or 0 for no cap"},
		{[]string{"13h"}, "want 1s to 12h0m0s"},
		{[]string{"--", "-5s"}, "want 1s to 12h0m0s"},
	} {
		if out, errOut, code := ctl(t, envFile, append([]string{"credential-lifetime"}, c.args...)...); code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("ctl credential-lifetime %s: exit %d %q %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
	if out, _, _ := ctl(t, envFile, "credential-lifetime"); out != "0s\n" {
		t.Errorf("refused values changed the cap: %q", out)
	}
	if out, errOut, code := ctl(t, envFile, "credential-lifetime", "10s"); code != 0 || out != "10s\n" {
		t.Fatalf("ctl credential-lifetime 10s: exit %d %q %s", code, out, errOut)
	}
	home := t.TempDir()
	token, _, code := ctl(t, envFile, "web-identity-token")
	if code != 0 {
		t.Fatal("ctl web-identity-token failed")
	}
	before := time.Now()
	out, errOut, rc := awsStdin(t, vars, home, "", "sts", "assume-role-with-web-identity", "--role-arn", "arn:aws:iam::123456789012:role/JitsshWebIdentity",
		"--role-session-name", "short", "--duration-seconds", "3600", "--web-identity-token", strings.TrimSpace(token))
	if rc != 0 {
		t.Fatalf("aws sts assume-role-with-web-identity: %d %s %s", rc, out, errOut)
	}
	after := time.Now() // the aws CLI may take seconds to start under load
	var got struct {
		Credentials struct{ Expiration time.Time }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if exp := got.Credentials.Expiration; exp.Before(before.Add(8*time.Second)) || exp.After(after.Add(12*time.Second)) {
		t.Errorf("Expiration %s, want about 10 s after the call (between %s and %s)", exp, before.UTC(), after.UTC())
	}
	if out, _, code := ctl(t, envFile, "credential-lifetime", "0s"); code != 0 || out != "0s\n" {
		t.Errorf("ctl credential-lifetime 0s: %d %q", code, out)
	}
}
