package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestExitCode is the one error → exit-code mapping: an exitError carries
// its code and prints nothing, a usage error is 2, anything else 255, and
// cobra's own "unknown command" becomes a usage error naming the nearest.
func TestExitCode(t *testing.T) {
	root := NewRoot(IOStreams{})
	for _, c := range []struct {
		name  string
		err   error
		code  int
		print string // "" prints nothing
	}{
		{"success", nil, 0, ""},
		{"doctor's failed check", exitError{1}, 1, ""},
		{"ssh's own code", exitError{130}, 130, ""},
		{"wrapped exit code", fmt.Errorf("run ssh: %w", exitError{255}), 255, ""},
		{"usage error", usageError{errors.New("--escape-char: bad")}, exitUsage, "--escape-char: bad"},
		{"wrapped usage error", fmt.Errorf("x: %w", usageError{errors.New("bad flag")}), exitUsage, "bad flag"},
		{"cobra's unknown command", errors.New(`unknown command "lss" for "jitssh"`), exitUsage, `Did you mean "jitssh ls"?`},
		{"failure", errors.New("ec2:DescribeInstances failed: UnauthorizedOperation"), exitFailure, "UnauthorizedOperation"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, printed := exitCode(root, c.err)
			if code != c.code {
				t.Errorf("exit code %d, want %d", code, c.code)
			}
			switch {
			case c.print == "" && printed != nil:
				t.Errorf("prints %q, want nothing", printed)
			case c.print != "" && (printed == nil || !strings.Contains(printed.Error(), c.print)):
				t.Errorf("prints %v, want %q in it", printed, c.print)
			}
		})
	}
}

// TestMainExitCodes runs the command line through Main: what jitssh does
// not understand is exit 2 and one line naming what to do, before any
// AWS call (no AWS is set up here).
func TestMainExitCodes(t *testing.T) {
	scrubAWS(t)
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"lss"}, 2, `Did you mean "jitssh ls"?`},
		{[]string{"ls", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"ls", "a", "b"}, 255, "accepts at most 1 arg(s)"},
		{[]string{"config", "instal"}, 2, `Did you mean "jitssh config install"?`},
		{[]string{"known-hosts", "nope"}, 2, "Its commands: forget, lookup."},
		{[]string{"completion", "tcsh"}, 2, `unknown command "tcsh" for "jitssh completion"`},
		{[]string{"shell", "web-1", "--escape-char", "^^^"}, 2, "--escape-char"},
		{[]string{"tunnel", "web-1"}, 255, "requires at least 2 arg(s)"},
		{[]string{"tunnel", "web-1", "80", "--local-port", "x"}, 2, "invalid argument"},
		{[]string{"policy", "nope"}, 255, `unknown document "nope"`},
		{[]string{"doctor", "--region", "mars-1", "-o", "yaml"}, 255, `--output "yaml"`},
		{[]string{"policy", "scp", "--account", "12"}, 255, "account"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, stderr, code := runCLI(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, c.code, c.stderr)
			}
			if c.code != 0 && strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", stderr)
			}
		})
	}
}

// scrubAWS empties the AWS_ and JITSSH_ environment and points the
// config files at nothing, so that no test reads the machine's.
func scrubAWS(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	for _, kv := range append([]string{}, environ()...) {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "JITSSH_") {
			t.Setenv(k, "")
		}
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home+"/.config")
	t.Setenv("XDG_CACHE_HOME", home+"/.cache")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// codeOf is the exit code of a run function's error, and what Main prints.
func codeOf(err error) (int, string) {
	code, printed := exitCode(NewRoot(IOStreams{}), err)
	if printed == nil {
		return code, ""
	}
	return code, printed.Error()
}
