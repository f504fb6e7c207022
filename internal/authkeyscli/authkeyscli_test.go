package authkeyscli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/keyproto"
)

func TestParse(t *testing.T) {
	o, err := parse([]string{"--socket", "/run/x", "--config=/etc/c.toml", "--timeout", "2s", "--", "alice", "SHA256:x"})
	if err != nil || o.socket != "/run/x" || o.config != "/etc/c.toml" || o.timeout != 2*time.Second || o.user != "alice" || o.fingerprint != "SHA256:x" {
		t.Errorf("parse = %+v, %v", o, err)
	}
	o, err = parse([]string{"bob"})
	if err != nil || o.socket != keyproto.DefaultSocket || o.user != "bob" || o.fingerprint != "" || o.timeout != DefaultTimeout {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	// After "--" (sshd's %u), a leading dash is a user name.
	if o, err := parse([]string{"--", "-oProxyCommand=x"}); err != nil || o.user != "-oProxyCommand=x" {
		t.Errorf("user after --: %+v, %v", o, err)
	}
	for _, bad := range [][]string{
		{}, {"--", "a", "b", "c"}, {"--nope", "a"}, {"--socket"}, {"--socket", "relative", "a"},
		{"--timeout", "0s", "a"}, {"--timeout", "2h", "a"}, {"--timeout", "x", "a"}, {"-oProxyCommand=x"},
	} {
		if o, err := parse(bad); err == nil {
			t.Errorf("parse(%q) = %+v", bad, o)
		}
	}
}

// run runs Main and returns the exit status, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	out, _ := os.Create(filepath.Join(dir, "out"))
	errOut, _ := os.Create(filepath.Join(dir, "err"))
	code := Main(args, out, errOut)
	out.Close()
	errOut.Close()
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errOut.Name())
	return code, string(o), string(e)
}

func TestMain_(t *testing.T) {
	if code, out, _ := run(t, "--help"); code != ExitOK || !strings.Contains(out, "AuthorizedKeysCommand /usr/bin/jitssh-authkeys -- %u %f") {
		t.Errorf("--help: %d %q", code, out)
	}
	if code, out, errOut := run(t, "--bogus", "alice"); code != ExitUsage || out != "" || !strings.Contains(errOut, "unknown flag --bogus") {
		t.Errorf("bad flag: %d %q %q", code, out, errOut)
	}
	none := filepath.Join(t.TempDir(), "none")
	if code, out, errOut := run(t, "--socket", none, "--fallback", "none", "--", "alice"); code != ExitRefused || out != "" || !strings.Contains(errOut, "--fallback none") {
		t.Errorf("no service, no fallback: %d %q %q", code, out, errOut)
	}
	missing := filepath.Join(t.TempDir(), "jitssh-host")
	if code, out, errOut := run(t, "--socket", none, "--fallback", missing, "--", "alice"); code != ExitRefused || out != "" || !strings.Contains(errOut, missing) {
		t.Errorf("no service, fallback missing: %d %q %q", code, out, errOut)
	}
}
