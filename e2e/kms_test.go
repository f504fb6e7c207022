package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/kms"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

const kmsE2EKey = "0b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40"

// kmsAccount is the built-in account whose Session Manager preferences
// encrypt shell sessions with alias/ssm-sessions (KMS's default key
// policy: identity policies decide), run shells as runAs (Run As on,
// nobody tagged) and type a shell profile; with grant, the default
// identity's policies allow kms:GenerateDataKey on the key.
func kmsAccount(t *testing.T, grant bool, runAs string) func(*sandbox.Config) {
	return func(c *sandbox.Config) {
		a, err := config.Builtin().Resolve(sandbox.LocalUser())
		if err != nil {
			t.Fatal(err)
		}
		a.KMSKeys = []kms.Key{{ID: kmsE2EKey, Alias: "alias/ssm-sessions", Policy: kms.DefaultPolicy(a.Account)}}
		a.SessionKMSKey = "alias/ssm-sessions"
		a.RunAs = config.RunAs{Enabled: runAs != "", DefaultUser: runAs}
		a.ShellProfile = "export JITSSH_PROFILE=loaded-$((40+2))"
		ids := append([]world.Identity(nil), a.Identities...)
		if grant {
			ids[0].Policies = append(append([]policy.Document{}, ids[0].Policies...), policy.Document{Version: policy.Version, Statement: []policy.Statement{{
				Sid: "SessionKey", Effect: policy.Allow, Action: policy.Strings{"kms:GenerateDataKey"},
				Resource: policy.Strings{"arn:aws:kms:" + a.Region + ":" + a.Account + ":key/" + kmsE2EKey},
			}}})
		}
		a.Identities = ids
		c.Account = a
	}
}

// shellRunAs is the user an encrypted shell runs as: nobody as root
// (Run As switches users), else this user (whom the sandbox can be).
func shellRunAs(t *testing.T) string {
	if os.Geteuid() == 0 {
		return "nobody"
	}
	return currentUser(t)
}

// TestShellKMSEncrypted: with the account's preferences naming a KMS key,
// `jitssh shell` does the KMS handshake (GenerateDataKey with the
// session's encryption context, in CloudTrail; the agent's Decrypt too),
// and typed input, the remote output and the exit status go through the
// encrypted stream; the shell runs as the Run As user and was given the
// shell profile first.
func TestShellKMSEncrypted(t *testing.T) {
	user := shellRunAs(t)
	e := newEnv(t, sshd.Embedded, kmsAccount(t, true, user))
	in := e.sb.Instances[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "-v", "shell", in.Name)
	cmd.Env = e.vars
	cmd.Stdin = strings.NewReader("echo marker-$((6*7)) $JITSSH_PROFILE; id -un\nexit\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("jitssh shell: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !regexp.MustCompile(`(?m)(^|[$#] )marker-42 loaded-42\r?$`).MatchString(out) {
		t.Fatalf("the encrypted shell's output lacks the command's result with the profile's variable:\n%q\nstderr:\n%s", out, stderr.String())
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(user) + `\r?$`).MatchString(out) {
		t.Fatalf("the shell did not run as the Run As user %s:\n%q", user, out)
	}
	if !strings.Contains(stderr.String(), "KMS-encrypted") {
		t.Fatalf("-v does not say the session was encrypted:\n%s", stderr.String())
	}
	if n := e.cloudTrailCount("GenerateDataKey", `"aws:ssm:TargetId":"`+in.ID+`"`); n != 1 {
		t.Fatalf("%d GenerateDataKey calls with the session's encryption context, want 1", n)
	}
	if n := e.cloudTrailCount("Decrypt", "assumed-role/AmazonSSMRoleForInstancesQuickSetup/"+in.ID); n != 1 {
		t.Fatalf("%d Decrypt calls by the instance, want 1", n)
	}
}

// TestShellKMSAccessDenied: without kms:GenerateDataKey on the
// preferences' key, `jitssh shell` fails at once (exit 255), naming the
// key, the permission, and that ssh is not affected; and `jitssh ssh`
// over SSM to the same instance works.
func TestShellKMSAccessDenied(t *testing.T) {
	e := newEnv(t, bestMode(t), kmsAccount(t, false, ""))
	in := e.sb.Instances[0]
	start := time.Now()
	out, stderr, err := e.run3(nil, "jitssh", "shell", in.Name)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 255 {
		t.Fatalf("jitssh shell: %v, want exit 255\nstdout %q\nstderr:\n%s", err, out, stderr)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the refusal took %v", took)
	}
	for _, want := range []string{
		"AccessDeniedException", "is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:",
		"alias/ssm-sessions", "`jitssh shell` needs kms:GenerateDataKey on KMS key alias/ssm-sessions",
		"`jitssh ssh` is not affected",
	} {
		if !strings.Contains(stderr, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	out, stderr, err = e.run3(nil, "jitssh", append(append([]string{"ssh", "--transport", "ssm"}, userArgs(t)...), in.Name, "--", "echo", "ssh-works")...)
	if err != nil || strings.TrimSpace(out) != "ssh-works" {
		t.Fatalf("ssh over SSM with KMS preferences: %v, stdout %q\nstderr:\n%s", err, out, stderr)
	}
}

// TestShellRunAsTag: with Run As on, the caller's SSMSessionRunAs tag
// wins over the default user; a Run As user that does not exist ends the
// session with AWS's agent's reason, which jitssh shows.
func TestShellRunAsTag(t *testing.T) {
	tagged, def := currentUser(t), "no-such-user-jitssh"
	if os.Geteuid() == 0 {
		tagged = "daemon"
	}
	var untagged world.Identity // alice: jitssh-user, no tag
	e := newEnv(t, sshd.Embedded, func(c *sandbox.Config) {
		a, err := config.Builtin().Resolve(sandbox.LocalUser())
		if err != nil {
			t.Fatal(err)
		}
		a.RunAs = config.RunAs{Enabled: true, DefaultUser: def}
		ids := append([]world.Identity(nil), a.Identities...)
		tags := map[string]string{"SSMSessionRunAs": tagged}
		for k, v := range ids[0].Tags {
			tags[k] = v
		}
		ids[0].Tags = tags
		for _, id := range ids {
			if id.Name == "alice" {
				untagged = id
			}
		}
		a.Identities = ids
		c.Account = a
	})
	if untagged.Name == "" {
		t.Fatal("the built-in account has no alice")
	}
	in := e.sb.Instances[0]
	run := func(env ...string) (string, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "shell", in.ID)
		cmd.Env = append(append([]string{}, e.vars...), env...)
		cmd.Stdin = strings.NewReader("id -un\nexit\n")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	so, se, err := run()
	if err != nil || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(tagged)+`\r?$`).MatchString(so) {
		t.Fatalf("tagged caller: %v, want the shell as %s:\n%q\nstderr:\n%s", err, tagged, so, se)
	}
	_, se, _ = run("AWS_ACCESS_KEY_ID="+untagged.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+untagged.SecretAccessKey, "AWS_SESSION_TOKEN="+untagged.SessionToken)
	if want := "Unable to start shell: failed to start pty since RunAs user " + def + " does not exist"; !strings.Contains(se, want) {
		t.Fatalf("untagged caller with a missing default user: stderr lacks %q:\n%s", want, se)
	}
}

// TestShellKMSOnATerminal: the encrypted shell on a terminal: keys typed
// one by one (raw mode: each its own sealed message) reach the remote
// shell, its prompt and output come back, and exit ends jitssh with 0.
func TestShellKMSOnATerminal(t *testing.T) {
	e := newEnv(t, sshd.Embedded, kmsAccount(t, true, ""))
	in := e.sb.Instances[1]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "shell", in.ID)
	cmd.Env = e.vars
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	term := &ptyReader{}
	go term.run(ptmx)
	term.expect(t, `Shell on \S+ \(`+in.ID+`\)`)
	term.expect(t, `[$#] $`)
	for _, c := range "echo enc-$((6*7)) $JITSSH_PROFILE; stty size\r" {
		if _, err := ptmx.Write([]byte(string(c))); err != nil {
			t.Fatal(err)
		}
	}
	if g := term.expect(t, `(?m)^enc-42 loaded-42\r?\n(\d+ \d+)\r?\n`); g[1] != "30 100" {
		t.Fatalf("remote pty size %s, want 30 100", g[1])
	}
	if _, err := ptmx.Write([]byte("exit\r")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("jitssh shell after exit: %v", err)
	}
	if n := e.cloudTrailCount("GenerateDataKey", `"aws:ssm:TargetId":"`+in.ID+`"`); n != 1 {
		t.Fatalf("%d GenerateDataKey calls, want 1", n)
	}
}
