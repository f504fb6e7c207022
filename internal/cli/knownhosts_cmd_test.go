package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
)

// TestKnownHostsFlags: known-hosts' subcommands, flags and arguments →
// knownHostsOptions.
func TestKnownHostsFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		sub  string
		id   string
		q    knownhosts.Query
		err  string
	}{
		{[]string{"forget", "i-0123456789abcdef0"}, "forget", "i-0123456789abcdef0", knownhosts.Query{}, ""},
		{[]string{"lookup", "i-0123456789abcdef0"}, "lookup", "", knownhosts.Query{Host: "i-0123456789abcdef0"}, ""},
		{[]string{"lookup", "--reason=HOSTNAME", "--key-type=ssh-ed25519", "--key=AAAA", "[i-0123456789abcdef0]:2222"}, "lookup", "",
			knownhosts.Query{Host: "[i-0123456789abcdef0]:2222", Reason: "HOSTNAME", KeyType: "ssh-ed25519", Key: "AAAA"}, ""},
		{[]string{"forget"}, "", "", knownhosts.Query{}, "accepts 1 arg"},
		{[]string{"lookup", "a", "b"}, "", "", knownhosts.Query{}, "accepts 1 arg"},
		{[]string{"lookup", "--bogus", "a"}, "", "", knownhosts.Query{}, "unknown flag"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var sub string
			var got *knownHostsOptions
			cmd := newKnownHostsCmd(&globals{}, func(s string, o *knownHostsOptions) error { sub, got = s, o; return nil })
			cmd.SetArgs(c.args)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || got != nil {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sub != c.sub || got.InstanceID != c.id || got.Query != c.q || got.Paths == nil {
				t.Errorf("%s %+v; want %s id %q query %+v", sub, *got, c.sub, c.id, c.q)
			}
		})
	}
}

// TestKnownHostsExitCodes: forgetting a pin that is not there is 255; a
// lookup without a pin prints nothing and exits 0 (ssh then refuses the
// host itself), saying why only for ssh's HOSTNAME query.
func TestKnownHostsExitCodes(t *testing.T) {
	dir := t.TempDir()
	pins := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(pins, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := func() (paths, error) { return paths{Pins: pins}, nil }
	for _, c := range []struct {
		name   string
		run    func(*knownHostsOptions) error
		o      knownHostsOptions
		code   int
		stderr string
	}{
		{"forget: no pin", runForget, knownHostsOptions{Paths: p, InstanceID: "i-0123456789abcdef0"}, 255, "no pinned host key for i-0123456789abcdef0"},
		{"lookup: no pin", runLookup, knownHostsOptions{Paths: p, Query: knownhosts.Query{Host: "i-0123456789abcdef0", Reason: "ADDRESS"}}, 0, ""},
		{"lookup: no pin, HOSTNAME", runLookup, knownHostsOptions{Paths: p, Query: knownhosts.Query{Host: "i-0123456789abcdef0", Reason: "HOSTNAME"}}, 0, "jitssh: "},
		{"no state directory", runForget, knownHostsOptions{Paths: func() (paths, error) { return paths{}, errors.New("find config directory: $HOME is not defined") }}, 255, "$HOME"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut strings.Builder
			c.o.IO = IOStreams{Out: &out, Err: &errOut}
			code, printed := codeOf(c.run(&c.o))
			if code != c.code || !strings.Contains(errOut.String()+printed, c.stderr) || out.Len() != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q %q; want %d and %q", code, out.String(), errOut.String(), printed, c.code, c.stderr)
			}
		})
	}
}
