package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runJitssh runs the built jitssh with HOME set to home and no AWS or XDG
// settings of the caller's, and returns stdout, stderr and the exit code.
func runJitssh(t *testing.T, home string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "jitssh"), args...)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "HOME="+home, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run jitssh %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// TestUnknownSubcommandsFail: a typo under any command group exits 2 with
// a suggestion (or the group's commands) on stderr and nothing on stdout,
// instead of printing the help and exiting 0; a group alone still prints
// its help and exits 0.
func TestUnknownSubcommandsFail(t *testing.T) {
	home := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sshh", "web-1"}, `Did you mean "jitssh ssh"?`},
		{[]string{"xyzzy"}, `Its commands: audit, completion, config, doctor`},
		{[]string{"config", "instal"}, `Did you mean "jitssh config install"?`},
		{[]string{"config", "uninstal"}, `Did you mean "jitssh config uninstall"?`},
		{[]string{"config", "remove"}, `unknown command "remove" for "jitssh config". Its commands: install, print, uninstall.`},
		{[]string{"known-hosts", "forgt", "i-0123456789abcdef0"}, `Did you mean "jitssh known-hosts forget"?`},
		{[]string{"known-hosts", "list"}, `unknown command "list" for "jitssh known-hosts"`},
		{[]string{"completion", "bsh"}, `Did you mean "jitssh completion bash"?`},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh" for "jitssh completion"`},
	}
	for _, c := range cases {
		stdout, stderr, code := runJitssh(t, home, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("jitssh %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), code, stdout, stderr, c.want)
		}
	}
	for _, group := range []string{"config", "known-hosts", "completion"} {
		stdout, stderr, code := runJitssh(t, home, group)
		if code != 0 || !strings.Contains(stdout+stderr, "Usage:") {
			t.Errorf("jitssh %s alone: exit %d, output %q; want its help and exit 0", group, code, stdout+stderr)
		}
	}
	if _, stderr, code := runJitssh(t, home, "tunnel", "--no-such-flag", "web-1", "80"); code != 2 || !strings.Contains(stderr, "unknown flag: --no-such-flag") {
		t.Errorf("unknown flag: exit %d, stderr %q; want exit 2", code, stderr)
	}
}

// TestConfigUninstall: with a real ~/.ssh/config in a temporary HOME,
// install then uninstall restores the file byte for byte and removes the
// included Host section; a second uninstall changes nothing; a malformed
// block is an error that writes nothing; the real ssh no longer routes
// i-* through jitssh afterwards.
func TestConfigUninstall(t *testing.T) {
	requireSSH(t)
	home := t.TempDir()
	sshDir := filepath.Join(home, ".ssh")
	if err := os.Mkdir(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(sshDir, "config")
	orig := "# mine\nHost work\n  HostName work.example.com\n  User ana\n"
	if err := os.WriteFile(cfg, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runJitssh(t, home, "config", "install"); code != 0 {
		t.Fatalf("install: exit %d: %s", code, stderr)
	}
	included := filepath.Join(home, ".config", "jitssh", "ssh_config")
	installed, _ := os.ReadFile(cfg)
	if !strings.Contains(string(installed), "# BEGIN jitssh") {
		t.Fatalf("install wrote no block:\n%s", installed)
	}
	proxyOf := func() string {
		out, err := exec.Command("ssh", "-G", "-F", cfg, "i-0123456789abcdef0").Output()
		if err != nil {
			t.Fatalf("ssh -G: %v", err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "proxycommand ") {
				return l
			}
		}
		return ""
	}
	if p := proxyOf(); !strings.Contains(p, "jitssh' proxy ") {
		t.Fatalf("after install ssh -G shows %q, want jitssh's ProxyCommand", p)
	}

	_, stderr, code := runJitssh(t, home, "config", "uninstall")
	if code != 0 || !strings.Contains(stderr, "removed the jitssh block from "+cfg) {
		t.Fatalf("uninstall: exit %d: %s", code, stderr)
	}
	got, _ := os.ReadFile(cfg)
	if string(got) != orig {
		t.Fatalf("after uninstall:\n%q\nwant the original\n%q", got, orig)
	}
	if fi, _ := os.Stat(cfg); fi.Mode().Perm() != 0o640 {
		t.Fatalf("uninstall changed the mode to %v", fi.Mode().Perm())
	}
	if _, err := os.Stat(included); !os.IsNotExist(err) {
		t.Fatalf("the included Host section %s is still there: %v", included, err)
	}
	if p := proxyOf(); strings.Contains(p, "jitssh") {
		t.Fatalf("after uninstall ssh -G still shows %q", p)
	}

	// Again: nothing to do, says so, exit 0, file unchanged.
	_, stderr, code = runJitssh(t, home, "config", "uninstall")
	if code != 0 || !strings.Contains(stderr, "nothing to remove") {
		t.Fatalf("second uninstall: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(cfg); string(got) != orig {
		t.Fatalf("second uninstall changed the file: %q", got)
	}

	// A BEGIN without its END: an error, and the file is left as it is.
	broken := "# BEGIN jitssh\nInclude /x\n" + orig
	os.WriteFile(cfg, []byte(broken), 0o640)
	if _, stderr, code := runJitssh(t, home, "config", "uninstall"); code == 0 || stderr == "" {
		t.Fatalf("uninstall of a malformed block: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(cfg); string(got) != broken {
		t.Fatalf("uninstall of a malformed block wrote %q", got)
	}
	if _, _, code := runJitssh(t, home, "config", "uninstall", "extra"); code == 0 {
		t.Fatal("uninstall with an argument succeeded")
	}
}
