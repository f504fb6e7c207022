package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/scope"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
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

// TestKnownHostsLookupAccount: lookup answers nothing for a pin of
// another account than the one the name carries or, failing that, the
// one the location cache has (and says why for HOSTNAME), and the pin
// otherwise.
func TestKnownHostsLookupAccount(t *testing.T) {
	const id, a, b = "i-0123456789abcdef0", "111111111111", "222222222222"
	state := t.TempDir()
	t.Setenv(envStateDir, state)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pins := filepath.Join(dir, "known_hosts")
	k := testkeys.Public(t)
	if err := (&knownhosts.Store{Path: pins}).Pin(id, a, []ssh.PublicKey{k}); err != nil {
		t.Fatal(err)
	}
	if err := locationCache().Put(map[string]scope.Location{id: {Profile: "prod", Account: b, Region: "us-west-2"}}); err != nil {
		t.Fatal(err)
	}
	p := func() (paths, error) { return paths{Pins: pins}, nil }
	for _, c := range []struct {
		host   string
		answer bool
	}{
		{id, false},                     // the cache says b
		{id + ".us-west-2." + b, false}, // the name says b
		{id + ".us-west-2." + a, true},  // the name says a, whatever the cache
		{"[" + id + ".us-west-2." + a + "]:2222", true},
	} {
		var out, errOut strings.Builder
		o := knownHostsOptions{IO: IOStreams{Out: &out, Err: &errOut}, Paths: p, Query: knownhosts.Query{Host: c.host, Reason: "HOSTNAME"}}
		if err := runLookup(&o); err != nil {
			t.Fatalf("%s: %v", c.host, err)
		}
		if got := strings.Contains(out.String(), k.Type()+" "); got != c.answer {
			t.Errorf("%s: answered %q, want an answer: %v", c.host, out.String(), c.answer)
		}
		if !c.answer && (!strings.Contains(errOut.String(), "pinned in account "+a+", but this "+id+" is in account "+b) || !strings.Contains(errOut.String(), "jitssh known-hosts forget "+id)) {
			t.Errorf("%s: stderr %q does not explain the other account", c.host, errOut.String())
		}
	}
}
