package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// mfaTerm is a real terminal (a tmux session on a server of its own)
// running a shell script, for prompts that must come from /dev/tty.
type mfaTerm struct {
	t    *testing.T
	sock string
	env  []string
}

// startMFATerm runs script under sh in a new tmux session with env.
func startMFATerm(t *testing.T, env []string, script string) *mfaTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed: the MFA prompt tests answer it on a real terminal (apt-get install tmux)")
	}
	dir := t.TempDir()
	m := &mfaTerm{t: t, sock: filepath.Join(dir, "tmux.sock"), env: env}
	sh := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(sh, []byte(script+"\necho JITSSH-SCRIPT-END $?\nsleep 3600\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	m.tmux("new-session", "-d", "-s", "t", "-x", "200", "-y", "50", "sh "+sh)
	m.tmux("set-option", "-t", "t", "history-limit", "100000")
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", m.sock, "kill-server").Run() })
	return m
}

func (m *mfaTerm) tmux(args ...string) string {
	m.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-S", m.sock, "-f", "/dev/null"}, args...)...)
	cmd.Env = m.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// screen is everything the terminal has shown (scrollback included).
func (m *mfaTerm) screen() string { return m.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "t") }

// waitFor waits until the screen matches re and returns the screen.
func (m *mfaTerm) waitFor(re string, timeout time.Duration) string {
	m.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		s := m.screen()
		if rx.MatchString(s) {
			return s
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("terminal never showed %q; it shows:\n%s", re, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// typeLine types s and Enter.
func (m *mfaTerm) typeLine(s string) {
	m.tmux("send-keys", "-t", "t", "-l", s)
	m.tmux("send-keys", "-t", "t", "Enter")
}

// sandboxProfiles writes the sandbox's env file and returns the
// environment of e with the env file's AWS config and credentials files
// (the profiles carol, mfa, …) and AWS_PROFILE=profile.
func (e *env) sandboxProfiles(t *testing.T, profile string) (vars []string, envFile string) {
	t.Helper()
	envFile = filepath.Join(t.TempDir(), "sandbox.env")
	if err := e.sb.WriteFiles(envFile); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(envFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok && (k == "AWS_CONFIG_FILE" || k == "AWS_SHARED_CREDENTIALS_FILE") {
			set[k] = strings.Trim(v, "'")
		}
	}
	for _, kv := range e.vars {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok && k != "AWS_PROFILE" && k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY" {
			vars = append(vars, kv)
		}
	}
	for k, v := range set {
		vars = append(vars, k+"="+v)
	}
	return append(vars, "AWS_PROFILE="+profile), envFile
}

// mfaCode asks the sandbox for the profile's current code, as a script
// would: jitssh-sandbox ctl mfa-code PROFILE with the env file sourced
// (extra: e.g. --next, the next window's code, for a second sign-in
// within 30 seconds: AWS takes each code once).
func mfaCode(t *testing.T, vars []string, envFile, profile string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", fmt.Sprintf(". %s && jitssh-sandbox ctl mfa-code %s %s", envFile, strings.Join(extra, " "), profile))
	cmd.Env = vars
	out, err := cmd.CombinedOutput()
	code := strings.TrimSpace(string(out))
	if err != nil || !regexp.MustCompile(`^[0-9]{6}$`).MatchString(code) {
		t.Fatalf("jitssh-sandbox ctl mfa-code %s: %v\n%s", profile, err, out)
	}
	return code
}

// assumeRoleCalls counts AssumeRole calls in the sandbox's CloudTrail
// log.
func (e *env) assumeRoleCalls(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(e.sb.CloudTrail)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), `"eventName":"AssumeRole"`)
}

// mfaEnv is the built-in sandbox with the MFA role's sessions tagged
// userName = the test's login user (the built-in tags carol, whom the
// instances have no account for), so that the impersonation SCP lets
// them push keys for it.
func mfaEnv(t *testing.T) *env {
	t.Helper()
	f := config.Builtin()
	found := false
	for i := range f.Roles {
		if f.Roles[i].Profile == "mfa" {
			f.Roles[i].Tags = map[string]string{"userName": currentUser(t)}
			found = true
		}
	}
	if !found {
		t.Fatal("the built-in sandbox has no role with the profile mfa")
	}
	acct, err := f.Resolve(currentUser(t))
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, sshd.Embedded, func(c *sandbox.Config) { c.Account = acct })
}

// TestMFAProfileOnePromptForManyConnections is issue 12's acceptance: real
// ssh through `jitssh config install`'s block with AWS_PROFILE=mfa on a
// real terminal (tmux): one prompt, answered with the code the sandbox
// gives, then 10 further connections and an scp -r of 20 files with no
// prompt, and one AssumeRole call in CloudTrail.
func TestMFAProfileOnePromptForManyConnections(t *testing.T) {
	e := mfaEnv(t)
	vars, envFile := e.sandboxProfiles(t, "mfa")
	id := e.sb.Instances[0].ID
	src := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		dir := src
		if i%2 == 1 {
			dir = filepath.Join(src, "sub")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := remoteDir(t)
	ssh := fmt.Sprintf("ssh -F %s -o BatchMode=yes", e.sshCf)
	script := fmt.Sprintf(`%[1]s %[2]s echo first-ok
for i in 1 2 3 4 5 6 7 8 9 10; do %[1]s %[2]s echo conn-$i-ok || echo conn-$i-FAILED; done
scp -q -r -F %[3]s -o BatchMode=yes %[4]s %[2]s:%[5]s/ && echo scp-ok
`, ssh, id, e.sshCf, src, dst)
	before := e.assumeRoleCalls(t)
	term := startMFATerm(t, vars, script)
	term.waitFor(`(?m)MFA code for arn:aws:iam::\d+:mfa/\S+ \(profile mfa\):\s*$`, 60*time.Second)
	term.typeLine(mfaCode(t, vars, envFile, "mfa"))
	screen := term.waitFor(`JITSSH-SCRIPT-END`, 3*time.Minute)
	t.Logf("the terminal:\n%s", strings.TrimRight(screen, "\n"))
	for _, want := range []string{"first-ok", "conn-10-ok", "scp-ok"} {
		if !strings.Contains(screen, want) {
			t.Errorf("no %q on the terminal:\n%s", want, screen)
		}
	}
	if n := strings.Count(screen, "MFA code for"); n != 1 {
		t.Errorf("%d prompts, want 1:\n%s", n, screen)
	}
	if strings.Contains(screen, "FAILED") {
		t.Errorf("a connection failed:\n%s", screen)
	}
	var copied int
	filepath.Walk(filepath.Join(dst, "tree"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			copied++
		}
		return nil
	})
	if copied != 20 {
		t.Errorf("scp -r copied %d files, want 20", copied)
	}
	if n := e.assumeRoleCalls(t) - before; n != 1 {
		t.Errorf("%d AssumeRole calls in CloudTrail, want 1", n)
	}
}

// TestMFAWrongCodeCachesNothing: a code AWS refuses ends the connection
// with AWS's error and jitssh's advice, asks nothing more, and leaves no
// cache entry.
func TestMFAWrongCodeCachesNothing(t *testing.T) {
	e := mfaEnv(t)
	vars, envFile := e.sandboxProfiles(t, "mfa")
	id := e.sb.Instances[0].ID
	term := startMFATerm(t, vars, fmt.Sprintf("ssh -F %s -o BatchMode=yes %s echo connected", e.sshCf, id))
	term.waitFor(`(?m)\(profile mfa\):\s*$`, 60*time.Second)
	code := mfaCode(t, vars, envFile, "mfa")
	wrong := fmt.Sprintf("%06d", (mfaAtoi(code)+500000)%1000000)
	term.typeLine(wrong)
	screen := term.waitFor(`JITSSH-SCRIPT-END`, 60*time.Second)
	t.Logf("the terminal:\n%s", strings.TrimRight(screen, "\n"))
	for _, want := range []string{"MultiFactorAuthentication failed", "nothing was cached"} {
		if !strings.Contains(screen, want) {
			t.Errorf("no %q on the terminal:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "connected") || strings.Count(screen, "MFA code for") != 1 {
		t.Errorf("connected, or asked again:\n%s", screen)
	}
	entries, _ := filepath.Glob(filepath.Join(e.home, ".aws", "cli", "cache", "*.json"))
	if len(entries) != 0 {
		t.Errorf("cache entries after a refused code: %v", entries)
	}
}

func mfaAtoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestMFAConcurrentProxiesOnePrompt: five ssh connections started at
// once (as scp -r, rsync or parallel scripts do), before any session is
// cached: one prompt (the others wait on the cache entry's lock), one
// AssumeRole, five connections.
func TestMFAConcurrentProxiesOnePrompt(t *testing.T) {
	e := mfaEnv(t)
	vars, envFile := e.sandboxProfiles(t, "mfa")
	id := e.sb.Instances[0].ID
	script := fmt.Sprintf(`for i in 1 2 3 4 5; do (ssh -F %s -o BatchMode=yes %s echo par-$i-ok || echo par-$i-FAILED) & done; wait`, e.sshCf, id)
	before := e.assumeRoleCalls(t)
	term := startMFATerm(t, vars, script)
	term.waitFor(`(?m)\(profile mfa\):\s*$`, 60*time.Second)
	time.Sleep(500 * time.Millisecond) // let the other four reach the lock
	term.typeLine(mfaCode(t, vars, envFile, "mfa"))
	screen := term.waitFor(`JITSSH-SCRIPT-END`, 2*time.Minute)
	t.Logf("the terminal:\n%s", strings.TrimRight(screen, "\n"))
	for i := 1; i <= 5; i++ {
		if !strings.Contains(screen, fmt.Sprintf("par-%d-ok", i)) {
			t.Errorf("connection %d did not succeed", i)
		}
	}
	if n := strings.Count(screen, "MFA code for"); n != 1 {
		t.Errorf("%d prompts, want 1", n)
	}
	if n := e.assumeRoleCalls(t) - before; n != 1 {
		t.Errorf("%d AssumeRole calls in CloudTrail, want 1", n)
	}
}

// TestSandboxWebIdentityAndDoctorChain: the sandbox's webid profile
// (web_identity_token_file, AssumeRoleWithWebIdentity at the sandbox)
// lists instances; doctor with the mfa profile asks for the code (the
// credentials are obtained first), then shows the chain and the session
// it cached, and the next run reuses it.
func TestSandboxWebIdentityAndDoctorChain(t *testing.T) {
	e := mfaEnv(t)
	run := func(vars []string, args ...string) string {
		t.Helper()
		saved := e.vars
		e.vars = vars
		defer func() { e.vars = saved }()
		out, err := e.run("jitssh", args...)
		if err != nil {
			t.Fatalf("jitssh %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	webid, _ := e.sandboxProfiles(t, "webid")
	if out := run(webid, "ls"); !strings.Contains(out, e.sb.Instances[0].ID) {
		t.Errorf("AWS_PROFILE=webid jitssh ls:\n%s", out)
	}
	vars, envFile := e.sandboxProfiles(t, "mfa")
	term := startMFATerm(t, vars, "jitssh doctor")
	term.waitFor(`(?m)\(profile mfa\):\s*$`, 60*time.Second)
	term.typeLine(mfaCode(t, vars, envFile, "mfa"))
	screen := term.waitFor(`JITSSH-SCRIPT-END`, time.Minute)
	t.Logf("the terminal:\n%s", strings.TrimRight(screen, "\n"))
	for _, want := range []string{"AWS profile", "mfa (role arn:aws:iam::123456789012:role/JitsshAdminMFA, MFA arn:aws:iam::123456789012:mfa/carol) → carol (static keys)",
		"MFA session", "cached until"} {
		if !strings.Contains(screen, want) {
			t.Errorf("doctor's first run lacks %q", want)
		}
	}
	out := run(vars, "doctor") // no terminal: a prompt would fail it
	if !strings.Contains(out, "cached until") || !strings.Contains(out, ".aws/cli/cache/") || strings.Contains(out, "MFA code for") {
		t.Errorf("doctor's second run does not show the cached session:\n%s", out)
	}
}

// TestMFANoTerminal: with no terminal to ask on (a session of its own,
// as under cron or CI) and nothing cached, jitssh fails at once with the
// command to run on a terminal, exit 255 as for any credential failure.
func TestMFANoTerminal(t *testing.T) {
	e := mfaEnv(t)
	vars, _ := e.sandboxProfiles(t, "mfa")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "ls")
	cmd.Env = vars
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 255 {
		t.Fatalf("exit %v, want 255\n%s", err, out)
	}
	want := `jitssh: profile "mfa" needs an MFA code and there is no terminal: run "jitssh login --profile mfa" on a terminal first` + "\n"
	if string(out) != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
}

// awsCLIMFA runs the pip aws CLI with vars, in a session of its own (no
// terminal: its getpass prompt reads stdin, here input).
func awsCLIMFA(t *testing.T, vars []string, input string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("the aws CLI is not installed (pip install awscli)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--output", "json")...)
	cmd.Env = append(vars, "AWS_PAGER=")
	cmd.Stdin = strings.NewReader(input)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestMFASessionSharedWithAWSCLI: with the sandbox env's config files and
// one HOME, the session jitssh cached after its prompt is what `aws sts
// get-caller-identity --profile mfa` uses without asking (stdin closed);
// and with a fresh HOME, the session the AWS CLI cached (its code typed
// on its stdin) is what jitssh uses without a terminal. One AssumeRole
// each way.
func TestMFASessionSharedWithAWSCLI(t *testing.T) {
	e := mfaEnv(t)
	vars, envFile := e.sandboxProfiles(t, "mfa")
	before := e.assumeRoleCalls(t)
	term := startMFATerm(t, vars, "jitssh ls >/dev/null && echo listed")
	term.waitFor(`(?m)\(profile mfa\):\s*$`, 60*time.Second)
	term.typeLine(mfaCode(t, vars, envFile, "mfa"))
	if s := term.waitFor(`JITSSH-SCRIPT-END`, time.Minute); !strings.Contains(s, "listed") {
		t.Fatalf("jitssh ls:\n%s", s)
	}
	out, err := awsCLIMFA(t, vars, "", "sts", "get-caller-identity", "--profile", "mfa")
	if err != nil || !strings.Contains(out, "assumed-role/JitsshAdminMFA/carol") {
		t.Fatalf("aws CLI on jitssh's cache: %v\n%s", err, out)
	}
	if n := e.assumeRoleCalls(t) - before; n != 1 {
		t.Errorf("%d AssumeRole calls, want 1 (jitssh's)", n)
	}

	// the other way round, in a fresh HOME
	home := t.TempDir()
	var fresh []string
	for _, kv := range vars {
		if !strings.HasPrefix(kv, "HOME=") {
			fresh = append(fresh, kv)
		}
	}
	fresh = append(fresh, "HOME="+home)
	out, err = awsCLIMFA(t, fresh, mfaCode(t, fresh, envFile, "mfa", "--next")+"\n", "sts", "get-caller-identity", "--profile", "mfa")
	if err != nil || !strings.Contains(out, "assumed-role/JitsshAdminMFA/carol") {
		t.Fatalf("aws CLI with its own prompt: %v\n%s", err, out)
	}
	cmd := exec.Command(filepath.Join(binDir, "jitssh"), "ls")
	cmd.Env = fresh
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), e.sb.Instances[0].ID) {
		t.Fatalf("jitssh ls on the AWS CLI's cache, without a terminal: %v\n%s", err, b)
	}
	if n := e.assumeRoleCalls(t) - before; n != 2 {
		t.Errorf("%d AssumeRole calls, want 2 (jitssh's, the AWS CLI's)", n)
	}
}

// TestMFABackgroundJob: jitssh started in the background of the terminal
// (a job with &) does not read the terminal, which would stop it
// (SIGTTIN) until brought to the foreground: it fails at once, saying so.
func TestMFABackgroundJob(t *testing.T) {
	e := mfaEnv(t)
	vars, _ := e.sandboxProfiles(t, "mfa")
	term := startMFATerm(t, vars, "set -m\njitssh ls & wait $!; echo job-exit-$?")
	screen := term.waitFor(`JITSSH-SCRIPT-END`, time.Minute)
	t.Logf("the terminal:\n%s", strings.TrimRight(screen, "\n"))
	want := `jitssh: profile "mfa" needs an MFA code and jitssh runs in the background of its terminal: run it in the foreground, or "jitssh login --profile mfa" first`
	if !strings.Contains(screen, want) || !strings.Contains(screen, "job-exit-255") || strings.Contains(screen, "MFA code for") {
		t.Errorf("want %q and exit 255, no prompt", want)
	}
}
