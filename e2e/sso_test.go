package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // the token cache's file name, as the AWS CLI names it
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testtool"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

// ssoEnv is the environment of a client signing in through the
// sandbox's IAM Identity Center: the env file's (its AWS config with the
// sso-session "sandbox" and profile "sso", the SSO endpoints), no access
// keys, AWS_PROFILE=sso.
type ssoEnv struct {
	*env
	vars    []string
	envFile string
}

func newSSOEnv(t *testing.T) *ssoEnv {
	t.Helper()
	e := newEnv(t, sshd.Embedded)
	envFile := filepath.Join(t.TempDir(), "env")
	if err := e.sb.WriteFiles(envFile); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, kv := range e.vars {
		if !strings.HasPrefix(kv, "AWS_") {
			vars = append(vars, kv)
		}
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		kv, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "JITSSH_STATE_DIR" {
			continue // the ssh config newEnv installed names the default paths
		}
		v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'"), `'\''`, "'")
		vars = append(vars, k+"="+v)
	}
	vars = append(vars, "AWS_PROFILE=sso")
	if !strings.Contains(readFile(t, envValue(vars, "AWS_CONFIG_FILE")), "[sso-session sandbox]") {
		t.Fatalf("the sandbox's AWS config has no sso-session:\n%s", readFile(t, envValue(vars, "AWS_CONFIG_FILE")))
	}
	return &ssoEnv{env: e, vars: vars, envFile: envFile}
}

func envValue(vars []string, key string) string {
	v := ""
	for _, kv := range vars {
		if k, val, _ := strings.Cut(kv, "="); k == key {
			v = val
		}
	}
	return v
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// command is name with args in the SSO environment (and extra), in a
// session of its own: no controlling terminal, as under a CI runner or a
// ProxyCommand started without one.
func (e *ssoEnv) command(ctx context.Context, extra []string, name string, args ...string) *exec.Cmd {
	if strings.HasPrefix(name, "jitssh") {
		name = filepath.Join(binDir, name)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append([]string(nil), e.vars...), extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// run runs a command to its end and returns stdout and stderr.
func (e *ssoEnv) run(extra []string, name string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.command(ctx, extra, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// ctl runs `jitssh-sandbox ctl --env-file F ARGS`.
func (e *ssoEnv) ctl(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := e.run(nil, "jitssh-sandbox", append([]string{"ctl", "--env-file", e.envFile}, args...)...)
	if err != nil {
		t.Fatalf("jitssh-sandbox ctl %v: %v\n%s%s", args, err, out, stderr)
	}
	return out
}

// tokenPath is the token cache file of the sso-session "sandbox":
// ~/.aws/sso/cache/<sha1("sandbox")>.json, where the AWS CLI reads it.
func (e *ssoEnv) tokenPath() string {
	sum := sha1.Sum([]byte("sandbox")) //nolint:gosec // see import
	return filepath.Join(e.home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
}

func (e *ssoEnv) token(t *testing.T) map[string]any {
	t.Helper()
	var tok map[string]any
	if err := json.Unmarshal([]byte(readFile(t, e.tokenPath())), &tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

var userCodeRe = regexp.MustCompile(`\b[A-Z]{4}-[A-Z]{4}\b`)

// deviceLogin runs `jitssh login --profile sso --use-device-code` in the
// background, reads the user code it prints and approves it with
// `jitssh-sandbox ctl sso approve CODE`.
func (e *ssoEnv) deviceLogin(t *testing.T, approveArgs ...string) string {
	t.Helper()
	return e.approveLogin(t, []string{"login", "--profile", "sso", "--use-device-code"}, approveArgs...)
}

// approveLogin runs jitssh with loginArgs (a sign-in that shows a device
// code) in the background, with no browser to open, reads the user code
// it prints and approves it with `jitssh-sandbox ctl sso approve CODE`.
func (e *ssoEnv) approveLogin(t *testing.T, loginArgs []string, approveArgs ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.command(ctx, []string{"BROWSER=", "DISPLAY=", "WAYLAND_DISPLAY="}, "jitssh", loginArgs...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var printed strings.Builder
	sc := bufio.NewScanner(stderr)
	code := ""
	for code == "" && sc.Scan() {
		printed.WriteString(sc.Text() + "\n")
		code = userCodeRe.FindString(sc.Text())
	}
	if code == "" {
		cmd.Wait()
		t.Fatalf("no user code in jitssh login's output:\n%s", printed.String())
	}
	e.ctl(t, append([]string{"sso", "approve", code}, approveArgs...)...)
	rest, _ := io.ReadAll(stderr)
	printed.Write(rest)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("jitssh login: %v\n%s", err, printed.String())
	}
	return printed.String() + stdout.String()
}

// TestSSODeviceCodeLogin is issue 12's SSO acceptance: jitssh signs in
// with the device code (approved as a person would, through ctl sso
// approve), then jitssh ssh works with AWS_PROFILE=sso, the AWS CLI uses
// the token cache jitssh wrote, an expired access token is refreshed
// without a question, and a revoked sign-in makes jitssh say (with no
// terminal) the exact command that signs in again.
func TestSSODeviceCodeLogin(t *testing.T) {
	e := newSSOEnv(t)
	// Signed out: no question without a terminal, the command to run.
	_, stderr, err := e.run(nil, "jitssh", "ls")
	if code := exitCodeOf(err); code != 255 || !strings.Contains(stderr, "sign in with `jitssh login --profile sso`") {
		t.Fatalf("jitssh ls signed out: exit %d, stderr:\n%s", code, stderr)
	}

	out := e.deviceLogin(t)
	if !strings.Contains(out, "signed in to SSO session 'sandbox' (profile sso)") || !strings.Contains(out, "signed in as arn:aws:sts::") {
		t.Errorf("jitssh login said:\n%s", out)
	}
	fi, err := os.Stat(e.tokenPath())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token cache %s: %v, %v", e.tokenPath(), fi, err)
	}
	tok := e.token(t)
	for _, k := range []string{"accessToken", "expiresAt", "refreshToken", "clientId", "clientSecret", "registrationExpiresAt", "region", "startUrl"} {
		if s, _ := tok[k].(string); s == "" {
			t.Errorf("token cache lacks %s: %v", k, tok)
		}
	}
	if s, _ := tok["expiresAt"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(s) {
		t.Errorf("expiresAt %q is not the AWS CLI's form", s)
	}

	// doctor's line for the session.
	if out, stderr, err := e.run(nil, "jitssh", "doctor"); !strings.Contains(out, "sso session") || !strings.Contains(out, "token valid until") {
		t.Errorf("jitssh doctor: %v\n%s%s", err, out, stderr)
	}

	// jitssh ssh with the SSO role's credentials.
	sshOut, sshErr, err := e.run(nil, "jitssh", append(append([]string{"ssh"}, userArgs(t)...), "web-1", "--", "id")...)
	if err != nil || !strings.Contains(sshOut, "uid=") {
		t.Fatalf("jitssh ssh web-1 -- id: %v\n%s%s", err, sshOut, sshErr)
	}
	if n := e.cloudTrailCount("SendSSHPublicKey", "AWSReservedSSO_"); n != 1 {
		t.Errorf("%d key pushes by an AWSReservedSSO_ role session, want 1", n)
	}

	// The AWS CLI (pip's v1, botocore) signs its calls with the token
	// jitssh cached.
	awsOut, awsErr, err := e.run(nil, testtool.Need(t, "aws", "pip install awscli"), "sts", "get-caller-identity", "--profile", "sso", "--output", "json")
	if err != nil || !strings.Contains(awsOut, "assumed-role/AWSReservedSSO_") {
		t.Fatalf("aws sts get-caller-identity --profile sso: %v\n%s%s", err, awsOut, awsErr)
	}

	// An expired access token is refreshed, no question asked.
	old := e.expireToken(t)
	if out, stderr, err := e.run(nil, "jitssh", "ls"); err != nil || !strings.Contains(out, "web-1") {
		t.Fatalf("jitssh ls with an expired token: %v\n%s%s", err, out, stderr)
	}
	if now := e.token(t); now["accessToken"] == old || now["expiresAt"].(string) < time.Now().UTC().Format(time.RFC3339) {
		t.Errorf("the token was not refreshed: %v", now)
	}

	// Revoked: without a terminal, the command that signs in again.
	e.ctl(t, "sso", "revoke")
	_, stderr, err = e.run(nil, "jitssh", append(append([]string{"ssh"}, userArgs(t)...), "web-1", "--", "id")...)
	if code := exitCodeOf(err); code != 255 || !strings.Contains(stderr, "sign in with `jitssh login --profile sso`") {
		t.Fatalf("jitssh ssh after revoke: exit %d, stderr:\n%s", code, stderr)
	}

	// jitssh logout removes the token cache.
	if _, stderr, err := e.run(nil, "jitssh", "logout", "--profile", "sso"); err != nil || !strings.Contains(stderr, "removed "+e.tokenPath()) {
		t.Fatalf("jitssh logout: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(e.tokenPath()); err == nil {
		t.Error("the token cache is still there after logout")
	}
	out, _, _ = e.run(nil, "jitssh", "doctor")
	if !regexp.MustCompile(`FAIL\s+sso session\s+SSO session 'sandbox' \(.*\): not signed in`).MatchString(out) || !strings.Contains(out, "fix: `jitssh login --profile sso`") {
		t.Errorf("jitssh doctor signed out:\n%s", out)
	}
}

// TestSSOLegacyProfileLogin: the legacy form (sso_start_url in the
// profile, no sso-session: the sandbox's profile sso-legacy). jitssh login
// (no --use-device-code; no browser to open here) signs in with the device
// code, writes the token cache keyed by the start URL
// (~/.aws/sso/cache/<sha1(start URL)>.json, no refresh token), which jitssh
// and the AWS CLI then use; once the token expires it is not refreshed:
// without a terminal jitssh names the command that signs in again; jitssh
// logout removes it.
func TestSSOLegacyProfileLogin(t *testing.T) {
	e := newSSOEnv(t)
	legacy := []string{"AWS_PROFILE=sso-legacy"}
	sum := sha1.Sum([]byte(e.sb.SSO.StartURL())) //nolint:gosec // see import
	path := filepath.Join(e.home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")

	out := e.approveLogin(t, []string{"login", "--profile", "sso-legacy"})
	if !strings.Contains(out, "signed in to SSO start URL "+e.sb.SSO.StartURL()+" (profile sso-legacy)") || !strings.Contains(out, "(sign in again then)") ||
		!strings.Contains(out, "signed in as arn:aws:sts::") {
		t.Errorf("jitssh login --profile sso-legacy said:\n%s", out)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("legacy token cache %s: %v, %v", path, fi, err)
	}
	var tok map[string]any
	if err := json.Unmarshal([]byte(readFile(t, path)), &tok); err != nil {
		t.Fatal(err)
	}
	if s, _ := tok["accessToken"].(string); s == "" || tok["startUrl"] != e.sb.SSO.StartURL() || tok["refreshToken"] != nil {
		t.Errorf("legacy token cache: %v (want an access token, the start URL, no refresh token)", tok)
	}
	if _, err := os.Stat(e.tokenPath()); err == nil {
		t.Errorf("the legacy sign-in wrote the sso-session's token cache %s", e.tokenPath())
	}

	if out, stderr, err := e.run(legacy, "jitssh", "ls"); err != nil || !strings.Contains(out, "web-1") {
		t.Fatalf("AWS_PROFILE=sso-legacy jitssh ls: %v\n%s%s", err, out, stderr)
	}
	aws := testtool.Need(t, "aws", "pip install awscli")
	if out, stderr, err := e.run(nil, aws, "sts", "get-caller-identity", "--profile", "sso-legacy", "--output", "json"); err != nil || !strings.Contains(out, "assumed-role/AWSReservedSSO_") {
		t.Fatalf("aws sts get-caller-identity --profile sso-legacy on jitssh's token: %v\n%s%s", err, out, stderr)
	}

	// Expired: not refreshed (no refresh token), the command to sign in again.
	tok["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05Z")
	b, _ := json.Marshal(tok)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := e.run(legacy, "jitssh", "ls")
	if code := exitCodeOf(err); code != 255 || !strings.Contains(stderr, "sign in with `jitssh login --profile sso-legacy`") {
		t.Fatalf("jitssh ls with an expired legacy token: exit %d, stderr:\n%s", code, stderr)
	}

	if _, stderr, err := e.run(nil, "jitssh", "logout", "--profile", "sso-legacy"); err != nil || !strings.Contains(stderr, "removed "+path) {
		t.Fatalf("jitssh logout --profile sso-legacy: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("the legacy token cache is still there after logout")
	}
}

// expireToken rewrites the cached token's expiresAt into the past and
// returns its access token.
func (e *ssoEnv) expireToken(t *testing.T) any {
	t.Helper()
	tok := e.token(t)
	tok["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05Z")
	b, _ := json.Marshal(tok)
	if err := os.WriteFile(e.tokenPath(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return tok["accessToken"]
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// TestSSOAuthCodeLogin: the authorization code with PKCE end to end. The
// "browser" ($BROWSER, which jitssh runs with the URL) hands the URL to
// the test, which follows it as a browser would: the sandbox's sign-in
// page, its Allow form, and the redirect to jitssh's listener on
// 127.0.0.1.
func TestSSOAuthCodeLogin(t *testing.T) {
	e := newSSOEnv(t)
	urlFile := filepath.Join(t.TempDir(), "url")
	browser := filepath.Join(t.TempDir(), "browser")
	if err := os.WriteFile(browser, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+urlFile+".tmp && mv "+urlFile+".tmp "+urlFile+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.command(ctx, []string{"BROWSER=" + browser}, "jitssh", "login", "--profile", "sso")
	var stdout, stderr lockedBuffer // read while jitssh writes
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var authURL string
	for deadline := time.Now().Add(20 * time.Second); authURL == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(urlFile)
		authURL = string(b)
	}
	if authURL == "" {
		cancel()
		cmd.Wait()
		t.Fatalf("jitssh did not open the browser:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), authURL) {
		t.Errorf("the URL opened is not printed too:\n%s", stderr.String())
	}
	page := browse(t, sandboxenv.HTTPClient(t, e.sb), authURL)
	if !strings.Contains(page, "Signed in") {
		t.Errorf("jitssh's listener answered:\n%s", page)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("jitssh login: %v\n%s", err, stderr.String())
	}
	if tok := e.token(t); tok["refreshToken"] == "" || tok["accessToken"] == "" {
		t.Errorf("token cache %v", tok)
	}
	if out, stderr, err := e.run(nil, "jitssh", "ls"); err != nil || !strings.Contains(out, "web-1") {
		t.Fatalf("jitssh ls after the browser sign-in: %v\n%s%s", err, out, stderr)
	}
	// $BROWSER as a command with arguments: the sandbox's own browser,
	// pressing Deny, then Allow.
	ctlBrowse := filepath.Join(binDir, "jitssh-sandbox") + " ctl --env-file " + e.envFile + " sso browse"
	_, stderr2, err := e.run([]string{"BROWSER=" + ctlBrowse + " --deny"}, "jitssh", "login", "--profile", "sso")
	if code := exitCodeOf(err); code != 255 || !strings.Contains(stderr2, "the sign-in was denied") {
		t.Fatalf("jitssh login denied in the browser: exit %d\n%s", code, stderr2)
	}
	if _, stderr, err := e.run([]string{"BROWSER=" + ctlBrowse}, "jitssh", "login", "--profile", "sso"); err != nil {
		t.Fatalf("jitssh login with BROWSER=%s: %v\n%s", ctlBrowse, err, stderr)
	}
}

var (
	requestRe = regexp.MustCompile(`name="request" value="([^"]+)"`)
	userRe    = regexp.MustCompile(`<option value="([^"]+)"`)
)

// browse does what a person does in a browser: open the sign-in page,
// press Allow as the first user, follow the redirect (to jitssh's
// loopback listener); it returns the last page. c trusts the sandbox's
// CA (sandboxenv.HTTPClient).
func browse(t *testing.T, c *http.Client, authURL string) string {
	t.Helper()
	c.Timeout = 20 * time.Second
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	req, user := requestRe.FindSubmatch(body), userRe.FindSubmatch(body)
	if resp.StatusCode != 200 || req == nil || user == nil {
		t.Fatalf("sign-in page (%s):\n%s", resp.Status, body)
	}
	u, _ := url.Parse(authURL)
	form := url.Values{"request": {string(req[1])}, "user": {string(user[1])}, "action": {"allow"}}
	resp, err = c.PostForm(fmt.Sprintf("%s://%s/authorize", u.Scheme, u.Host), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	if resp.Request.URL.Host == u.Host || !strings.HasPrefix(resp.Request.URL.Host, "127.0.0.1:") {
		t.Fatalf("the Allow form did not lead to jitssh's listener (%s):\n%s", resp.Request.URL, body)
	}
	return string(body)
}

// tmux is a terminal for a test: a tmux server of its own running one
// shell script, whose screen the test reads and types into.
type tmux struct {
	t    *testing.T
	bin  string
	sock string
	env  []string
}

func startTmux(t *testing.T, env []string, script string) *tmux {
	t.Helper()
	dir := t.TempDir()
	tm := &tmux{t: t, bin: testtool.Need(t, "tmux", "apt-get install tmux"), sock: filepath.Join(dir, "sock"), env: env}
	path := filepath.Join(dir, "script")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tm.run("-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50", "sh "+path)
	t.Cleanup(func() { exec.Command(tm.bin, "-S", tm.sock, "kill-server").Run() })
	return tm
}

func (tm *tmux) run(args ...string) string {
	tm.t.Helper()
	cmd := exec.Command(tm.bin, append([]string{"-S", tm.sock}, args...)...)
	cmd.Env = append(append([]string(nil), tm.env...), "TERM=xterm", "TMUX_TMPDIR="+filepath.Dir(tm.sock))
	out, err := cmd.CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// screen is what the terminal shows (with its history).
func (tm *tmux) screen() string { return tm.run("capture-pane", "-p", "-J", "-S", "-200") }

// waitFor waits until the screen matches re, and returns the match.
func (tm *tmux) waitFor(re *regexp.Regexp, within time.Duration) []string {
	tm.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := tm.screen()
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the terminal does not show %s within %v:\n%s", re, within, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shellScript is a script exporting vars and then running cmd.
func shellScript(vars []string, cmd string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" || strings.ContainsAny(k, " ()") {
			continue
		}
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
	b.WriteString(cmd + "\n")
	return b.String()
}

// TestSSOSignInOfferOnTerminal: plain ssh through the config block, with
// a sign-in the portal revoked: the proxy (whose stdin and stdout are
// ssh's connection) asks on the terminal whether to sign in, shows the
// device code there (no browser here), and once it is approved the
// connection goes on. The SSH stream is untouched by the question.
func TestSSOSignInOfferOnTerminal(t *testing.T) {
	e := newSSOEnv(t)
	e.deviceLogin(t)
	e.ctl(t, "sso", "revoke")
	id := e.sb.Instances[0].ID
	tm := startTmux(t, e.vars, shellScript(e.vars, fmt.Sprintf("ssh -F %s %s 'echo remote-$((6*7))'; echo \"ssh-exit=$?\"; sleep 60", e.sshCf, id)))
	tm.waitFor(regexp.MustCompile(`Sign in to SSO session 'sandbox' now\? \[Y/n\]`), 30*time.Second)
	tm.run("send-keys", "y", "Enter")
	code := tm.waitFor(regexp.MustCompile(`shows the code\s+([A-Z]{4}-[A-Z]{4})`), 30*time.Second)[1]
	e.ctl(t, "sso", "approve", code)
	tm.waitFor(regexp.MustCompile(`(?m)^remote-42\s*$`), 30*time.Second)
	tm.waitFor(regexp.MustCompile(`ssh-exit=0`), 10*time.Second)
	if s := tm.screen(); !strings.Contains(s, "signed in to SSO session 'sandbox'; continuing") {
		t.Errorf("terminal:\n%s", s)
	}
}

// TestSSOShortTokenLifetime: access tokens that the sandbox makes last
// 2 seconds. Once one has expired at the service, jitssh refreshes it
// with no question; the AWS CLI refreshes the token jitssh wrote (with
// the client registration and refresh token jitssh cached), and jitssh
// goes on with the one the AWS CLI wrote. A device code nobody approves
// expires: jitssh login says so.
func TestSSOShortTokenLifetime(t *testing.T) {
	e := newSSOEnv(t)
	e.ctl(t, "sso", "ttl", "2s", "--device-code", "3s")
	_, stderr, err := e.run(nil, "jitssh", "login", "--profile", "sso", "--use-device-code")
	if code := exitCodeOf(err); code != 255 || !strings.Contains(stderr, "the sign-in request expired before it was approved") {
		t.Fatalf("jitssh login nobody approved: exit %d\n%s", code, stderr)
	}
	e.ctl(t, "sso", "ttl", "2s", "--device-code", "10m")
	e.deviceLogin(t)
	first := e.token(t)["accessToken"]
	time.Sleep(2500 * time.Millisecond)
	if out, stderr, err := e.run(nil, "jitssh", "ls"); err != nil || !strings.Contains(out, "web-1") {
		t.Fatalf("jitssh ls after the token expired: %v\n%s%s", err, out, stderr)
	}
	second := e.token(t)["accessToken"]
	if second == first {
		t.Fatal("the expired token was not refreshed")
	}
	time.Sleep(2500 * time.Millisecond)
	aws := testtool.Need(t, "aws", "pip install awscli")
	if out, stderr, err := e.run(nil, aws, "sts", "get-caller-identity", "--profile", "sso"); err != nil || !strings.Contains(out, "AWSReservedSSO_") {
		t.Fatalf("aws sts get-caller-identity after the token expired: %v\n%s%s", err, out, stderr)
	}
	third := e.token(t)["accessToken"]
	if third == second {
		t.Fatal("the AWS CLI did not refresh the token jitssh wrote")
	}
	time.Sleep(2500 * time.Millisecond)
	if out, stderr, err := e.run(nil, "jitssh", "ls"); err != nil || !strings.Contains(out, "web-1") {
		t.Fatalf("jitssh ls after the AWS CLI's refresh: %v\n%s%s", err, out, stderr)
	}
}

// TestSSODefaultOSUser: signed in as the Identity Center user dave, jitssh
// logs in as the OS user dave (the role session's name, which is also
// his userName tag: the impersonation SCP lets him push a key for dave
// only), and asking for another user is refused by the SCP.
func TestSSODefaultOSUser(t *testing.T) {
	e := newSSOEnv(t)
	e.deviceLogin(t, "--user", "dave")
	// dave has no account on web-1: the push is what this checks.
	e.run(nil, "jitssh", "ssh", "web-1", "--", "true")
	if n := e.pushedKeys("dave"); n != 1 {
		t.Errorf("%d keys pushed for dave, want 1", n)
	}
	if n := e.cloudTrailCount("SendSSHPublicKey", "AWSReservedSSO_JitsshUser_"); n != 1 {
		t.Errorf("%d pushes by dave's SSO role session, want 1", n)
	}
	_, stderr, err := e.run(nil, "jitssh", "ssh", "bob@web-1", "--", "true")
	if err == nil || !strings.Contains(stderr, "service control policy") || e.pushedKeys("bob") != 0 {
		t.Errorf("dave as bob: %v\n%s", err, stderr)
	}
}

// TestLoginLogoutMFAProfile: for a profile without SSO, jitssh login
// retrieves the credentials once (an MFA role here, its code given with
// --mfa-code as a script would) and says who that is; later commands
// without a terminal use the cached session; jitssh logout removes it,
// and the next command without a terminal needs the code again.
func TestLoginLogoutMFAProfile(t *testing.T) {
	e := mfaEnv(t)
	vars, envFile := e.sandboxProfiles(t, "mfa")
	s := &ssoEnv{env: e, vars: vars, envFile: envFile}
	code := mfaCode(t, vars, envFile, "mfa")
	out, stderr, err := s.run(nil, "jitssh", "login", "--profile", "mfa", "--mfa-code", code)
	if err != nil || !strings.HasPrefix(out, "signed in as arn:aws:sts::") || !strings.Contains(out, "credentials valid until") {
		t.Fatalf("jitssh login --profile mfa --mfa-code: %v\n%s%s", err, out, stderr)
	}
	if out, stderr, err := s.run(nil, "jitssh", "ls"); err != nil || !strings.Contains(out, "web-1") {
		t.Fatalf("jitssh ls on the cached session: %v\n%s%s", err, out, stderr)
	}
	_, stderr, err = s.run(nil, "jitssh", "logout", "--profile", "mfa")
	if err != nil || !strings.Contains(stderr, "jitssh: removed ") {
		t.Fatalf("jitssh logout --profile mfa: %v\n%s", err, stderr)
	}
	if _, stderr, err := s.run(nil, "jitssh", "ls"); exitCodeOf(err) != 255 || !strings.Contains(stderr, "needs an MFA code") {
		t.Fatalf("jitssh ls after logout: %v\n%s", err, stderr)
	}
}
