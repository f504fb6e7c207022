package cli

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/term"
)

// TestShellFlags: shell's flags and stdin → shellOptions. Escapes are on
// by default on a terminal only, --escape-char turns them on for piped
// input too, and a bad one is a usage error (exit 2).
func TestShellFlags(t *testing.T) {
	pipe, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()
	defer w.Close()
	for _, c := range []struct {
		name     string
		args     []string
		terminal bool
		escape   int
		reason   string
		err      string
	}{
		{"piped: off", []string{"web-1"}, false, term.NoEscape, "", ""},
		{"piped, --escape-char: on", []string{"web-1", "--escape-char", "^]"}, false, 0x1d, "", ""},
		{"piped, -e ~", []string{"web-1", "-e", "~"}, false, '~', "", ""},
		{"terminal: ~", []string{"web-1", "--reason", "INC-1"}, true, '~', "INC-1", ""},
		{"terminal, none", []string{"web-1", "-e", "none"}, true, term.NoEscape, "", ""},
		{"terminal, bad", []string{"web-1", "-e", "ab"}, true, 0, "", "--escape-char"},
		{"piped, bad", []string{"web-1", "-e", "^^^"}, false, 0, "", "--escape-char"},
		{"no target", nil, false, 0, "", "accepts 1 arg"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := &globals{io: IOStreams{In: pipe, IsTerminal: func(int) bool { return c.terminal }}}
			var got *shellOptions
			cmd := newShellCmd(g, func(_ context.Context, o *shellOptions) error { got = o; return nil })
			cmd.SetArgs(c.args)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || got != nil {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				if strings.HasPrefix(c.err, "--") {
					if code, _ := codeOf(err); code != exitUsage {
						t.Errorf("exit %d, want %d", code, exitUsage)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Escape != c.escape || got.Reason != c.reason || (got.Terminal != nil) != c.terminal || got.Target != "web-1" || got.Resolve == nil {
				t.Errorf("options %+v; want escape %d, reason %q, terminal %v", *got, c.escape, c.reason, c.terminal)
			}
		})
	}
}

// TestShellExitCodes: runShell's errors → exit codes: a target that does
// not resolve, or a session SSM refuses, is 255. (The remote exit code
// and "~." → 255 are proven in e2e/shell_test.go.)
func TestShellExitCodes(t *testing.T) {
	for _, c := range []struct {
		name       string
		resolveErr error
		api        *fakeAWS
		stderr     string
	}{
		{"no such target", errors.New(`no instance matches name "web-9"`), nil, "web-9"},
		{"StartSession denied", nil, &fakeAWS{ssm: denied("ssm:StartSession")}, "ssm:StartSession"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut strings.Builder
			resolved := false
			o := &shellOptions{IO: IOStreams{In: strings.NewReader(""), Out: &out, Err: &errOut}, Target: "web-1", Escape: term.NoEscape,
				sessionStarter: resolvesTo(c.api, c.resolveErr, &resolved)}
			code, printed := codeOf(runShell(context.Background(), o))
			if code != exitFailure || !strings.Contains(printed, c.stderr) {
				t.Errorf("exit %d, %q; want %d, %q", code, printed, exitFailure, c.stderr)
			}
		})
	}
}
