package knownhosts

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/testtool"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

func newSigner(t testing.TB, kind string) ssh.Signer {
	t.Helper()
	var key any
	var err error
	switch kind {
	case "ed25519":
		return testkeys.Signer(t)
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newStore(t *testing.T) *Store {
	t.Helper()
	base := t.TempDir()
	if err := os.Chmod(base, 0o700); err != nil {
		t.Fatal(err)
	}
	return &Store{Path: filepath.Join(base, "jitssh", "known_hosts"), ForgetCommand: "jitssh known-hosts forget"}
}

func TestPinLookupForget(t *testing.T) {
	s := newStore(t)
	const alias = "i-0123456789abcdef0"
	k1 := newSigner(t, "ed25519").PublicKey()
	k2 := newSigner(t, "ed25519").PublicKey()

	if keys, err := s.Lookup(alias); err != nil || len(keys) != 0 {
		t.Fatalf("Lookup on an empty store = %v, %v", keys, err)
	}
	if err := s.Pin(alias, "", []ssh.PublicKey{k1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Pin("i-0fedcba9876543210", "", []ssh.PublicKey{k2}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Lookup(alias)
	if err != nil || len(keys) != 1 || ssh.FingerprintSHA256(keys[0]) != ssh.FingerprintSHA256(k1) {
		t.Fatalf("Lookup after Pin = %v, %v", keys, err)
	}
	// The same key again is fine and changes nothing.
	before, _ := os.ReadFile(s.Path)
	if err := s.Pin(alias, "", []ssh.PublicKey{k1}); err != nil {
		t.Fatalf("re-pinning the same key: %v", err)
	}
	if after, _ := os.ReadFile(s.Path); string(after) != string(before) {
		t.Error("re-pinning the same key rewrote the file")
	}

	// A different key is refused, explained, and the pin stays.
	err = s.Pin(alias, "", []ssh.PublicKey{k2})
	var changed *ChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("Pin with a different key: err = %v, want *ChangedError", err)
	}
	msg := err.Error() + "\n" + changed.Advice()
	for _, want := range []string{alias, ssh.FingerprintSHA256(k1), ssh.FingerprintSHA256(k2), "jitssh known-hosts forget " + alias, s.Path, "not changed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("ChangedError message lacks %q:\n%s", want, msg)
		}
	}
	if keys, _ := s.Lookup(alias); len(keys) != 1 || ssh.FingerprintSHA256(keys[0]) != ssh.FingerprintSHA256(k1) {
		t.Error("the pin changed after a refused Pin")
	}

	// The real OpenSSH tools read the file.
	out, err := exec.Command(testtool.Need(t, "ssh-keygen", "apt-get install openssh-client"), "-F", alias, "-f", s.Path).Output()
	if err != nil || !strings.Contains(string(out), alias+" ssh-ed25519 ") {
		t.Errorf("ssh-keygen -F %s: %v\n%s", alias, err, out)
	}

	removed, err := s.Forget(alias)
	if err != nil || !removed {
		t.Fatalf("Forget = %v, %v", removed, err)
	}
	if keys, _ := s.Lookup(alias); len(keys) != 0 {
		t.Error("pin still there after Forget")
	}
	if keys, _ := s.Lookup("i-0fedcba9876543210"); len(keys) != 1 {
		t.Error("Forget removed another alias's pin")
	}
	if removed, err := s.Forget(alias); err != nil || removed {
		t.Errorf("second Forget = %v, %v", removed, err)
	}
	// Re-learning after Forget is deliberate and allowed.
	if err := s.Pin(alias, "", []ssh.PublicKey{k2}); err != nil {
		t.Fatalf("Pin after Forget: %v", err)
	}
	fi, err := os.Stat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("pin file mode %04o, want 0600", fi.Mode().Perm())
	}
}

func TestRejects(t *testing.T) {
	s := newStore(t)
	k := newSigner(t, "ed25519").PublicKey()
	for _, alias := range []string{"", "i-*", "a b", "a,b", "!i-1", "|1|abc", "i-1\nx"} {
		if err := s.Pin(alias, "", []ssh.PublicKey{k}); err == nil {
			t.Errorf("Pin(%q) accepted", alias)
		}
		if _, err := s.Lookup(alias); err == nil {
			t.Errorf("Lookup(%q) accepted", alias)
		}
	}
	if err := s.Pin("i-1", "", nil); err == nil {
		t.Error("Pin with no keys accepted")
	}
	if !ValidAlias("[i-0123]:2222") {
		t.Error("[host]:port alias refused")
	}
}

func TestMalformedStoreFailsClosed(t *testing.T) {
	k := newSigner(t, "ed25519").PublicKey()
	line := func(host string) string {
		return host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	}
	for name, content := range map[string]string{
		"garbage":                      "i-1 ssh-ed25519 not-base64!\n",
		"wildcard":                     line("i-*") + "\n",
		"hashed":                       line("|1|c2FsdA==|aGFzaA==") + "\n",
		"revoked marker":               "@revoked " + line("i-1") + "\n",
		"short account":                line("i-1") + " account=12345678901\n",
		"account+more":                 line("i-1") + " account=111111111111 extra\n",
		"account letter":               line("i-1") + " account=11111111111a\n",
		"empty account":                line("i-1") + " account=\n",
		"two accounts":                 line("i-1") + " account=111111111111\n" + line("i-1") + " account=222222222222\n",
		"account+legacy":               line("i-1") + "\n" + line("i-1") + " account=111111111111\n",
		"other alias's lines disagree": line("i-1") + "\n" + line("i-3,i-2") + " account=111111111111\n" + line("i-3") + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(s.Path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if keys, err := s.Lookup("i-1"); err == nil {
				t.Errorf("Lookup on a malformed store = %v, nil; want an error", keys)
			}
			if err := s.Pin("i-2", "", []ssh.PublicKey{k}); err == nil {
				t.Error("Pin on a malformed store succeeded")
			}
			if got, _ := os.ReadFile(s.Path); string(got) != content {
				t.Error("malformed store was modified")
			}
		})
	}
}

func TestPinAccounts(t *testing.T) {
	s := newStore(t)
	const (
		id, legacy = "i-0123456789abcdef0", "i-0fedcba9876543210"
		a, b       = "111111111111", "222222222222"
	)
	k := newSigner(t, "ed25519").PublicKey()
	keyText := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	if err := s.Pin(id, a, []ssh.PublicKey{k}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(s.Path)
	if want := id + " " + keyText + " account=" + a + "\n"; string(data) != want {
		t.Fatalf("pin file = %q, want %q", data, want)
	}
	keys, acct, err := s.LookupPin(id)
	if err != nil || len(keys) != 1 || acct != a {
		t.Fatalf("LookupPin = %v, %q, %v; want the key in account %s", keys, acct, err, a)
	}
	// The same account, or an unknown one, is the same pin.
	for _, x := range []string{a, ""} {
		if err := s.Pin(id, x, []ssh.PublicKey{k}); err != nil {
			t.Errorf("Pin(%q) again: %v", x, err)
		}
	}
	// Another account is refused, even with the same key, and nothing changes.
	err = s.Pin(id, b, []ssh.PublicKey{k})
	var mm *AccountMismatchError
	if !errors.As(err, &mm) || mm.Alias != id || mm.PinnedAccount != a || mm.Account != b || mm.File != s.Path {
		t.Fatalf("Pin in another account: %v, want *AccountMismatchError{%s, %s, %s}", err, id, a, b)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, a) || !strings.Contains(msg, b) {
		t.Errorf("AccountMismatchError: %q", msg)
	}
	if after, _ := os.ReadFile(s.Path); string(after) != string(data) {
		t.Error("a refused Pin changed the file")
	}
	if err := s.Pin(id, "12345", []ssh.PublicKey{k}); err == nil {
		t.Error("Pin with a malformed account accepted")
	}

	// A legacy line (and one with another comment, as a .pub file has) is
	// a pin for any account, and is not rewritten.
	legacyLines := legacy + " " + keyText + "\n" + "i-0aaaaaaaaaaaaaaa1 " + keyText + " root@ip-10-0-0-1\n"
	if err := os.WriteFile(s.Path, append(data, legacyLines...), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.Path)
	for _, alias := range []string{legacy, "i-0aaaaaaaaaaaaaaa1"} {
		if keys, acct, err := s.LookupPin(alias); err != nil || len(keys) != 1 || acct != "" {
			t.Errorf("LookupPin(%s) = %v, %q, %v; want a legacy pin", alias, keys, acct, err)
		}
		for _, x := range []string{a, b} {
			if err := s.Pin(alias, x, []ssh.PublicKey{k}); err != nil {
				t.Errorf("Pin(%s, %s) over a legacy pin: %v", alias, x, err)
			}
		}
	}
	if after, _ := os.ReadFile(s.Path); string(after) != string(before) {
		t.Errorf("a legacy pin was rewritten:\n%s", after)
	}

	// OpenSSH reads the comment as a comment.
	out, err := exec.Command(testtool.Need(t, "ssh-keygen", "apt-get install openssh-client"), "-F", id, "-f", s.Path).Output()
	if err != nil || !strings.Contains(string(out), id+" "+keyText) {
		t.Errorf("ssh-keygen -F %s: %v\n%s", id, err, out)
	}

	// Forget removes the account's line, and the id can be pinned for
	// another account.
	if removed, err := s.Forget(id); err != nil || !removed {
		t.Fatalf("Forget = %v, %v", removed, err)
	}
	if after, _ := os.ReadFile(s.Path); string(after) != legacyLines {
		t.Errorf("after Forget the file is %q, want the legacy lines %q", after, legacyLines)
	}
	if err := s.Pin(id, b, []ssh.PublicKey{k}); err != nil {
		t.Fatalf("Pin in another account after Forget: %v", err)
	}
	if _, acct, _ := s.LookupPin(id); acct != b {
		t.Errorf("account after re-pinning = %q, want %s", acct, b)
	}
}

func TestForgetRepairsAccountConflict(t *testing.T) {
	s := newStore(t)
	k := newSigner(t, "ed25519").PublicKey()
	line := "i-1 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		t.Fatal(err)
	}
	other := "i-2 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " account=333333333333\n"
	content := line + " account=111111111111\n" + other + line + " account=222222222222\n"
	if err := os.WriteFile(s.Path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LookupPin("i-2"); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("LookupPin with conflicting accounts of i-1: %v, want an error naming line 3", err)
	}
	if removed, err := s.Forget("i-1"); err != nil || !removed {
		t.Fatalf("Forget(i-1) = %v, %v", removed, err)
	}
	if got, _ := os.ReadFile(s.Path); string(got) != other {
		t.Errorf("after Forget: %q, want %q", got, other)
	}
	if _, acct, err := s.LookupPin("i-2"); err != nil || acct != "333333333333" {
		t.Errorf("LookupPin(i-2) = %q, %v", acct, err)
	}
}

func TestConcurrentPins(t *testing.T) {
	s := newStore(t)
	k := newSigner(t, "ed25519").PublicKey()
	var wg sync.WaitGroup
	const n = 20
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Pin(fmt.Sprintf("i-%017x", i), "", []ssh.PublicKey{k}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if keys, err := s.Lookup(fmt.Sprintf("i-%017x", i)); err != nil || len(keys) != 1 {
			t.Errorf("pin %d lost: %v, %v", i, keys, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	k, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("i-0123 " + string(ssh.MarshalAuthorizedKey(k.PublicKey()))))
	f.Add([]byte("# comment\n\n[i-1]:2222,i-2 ssh-ed25519 AAAA\n"))
	f.Add([]byte("@cert-authority * ssh-rsa AAAA\n"))
	line := "i-0123 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.PublicKey())))
	f.Add([]byte(line + " account=123456789012\n"))
	f.Add([]byte(line + " account=123456789012\n" + line + " account=210987654321\n"))
	f.Add([]byte(line + " account=12345678901\n"))
	f.Add([]byte(line + " account=123456789012 x\n"))
	f.Add([]byte(line + " root@host\n" + line + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parse(data)
		if err != nil {
			return
		}
		accounts := map[string]string{}
		for _, e := range entries {
			if e.account != "" && !targets.ValidAccount(e.account) {
				t.Fatalf("parse accepted account %q", e.account)
			}
			for _, h := range e.hosts {
				if a, ok := accounts[h]; ok && a != e.account {
					t.Fatalf("parse accepted accounts %q and %q for %s", a, e.account, h)
				}
				accounts[h] = e.account
			}
		}
		for _, e := range entries {
			for _, h := range e.hosts {
				if !ValidAlias(h) {
					t.Fatalf("parse accepted host %q", h)
				}
			}
			if e.key == nil {
				t.Fatal("parse returned an entry without a key")
			}
		}
	})
}

// FuzzValidAlias: the hand-written check accepts exactly what the pattern
// it replaced accepts.
func FuzzValidAlias(f *testing.F) {
	re := regexp.MustCompile(`^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,252}|\[[A-Za-z0-9][A-Za-z0-9._-]{0,252}\]:[0-9]{1,5})$`)
	for _, s := range []string{"i-0123456789abcdef0", "[web-1]:2222", "[a]:", "[a]:123456", "-x", "a*", "", "[]:22", "a b", strings.Repeat("a", 253), strings.Repeat("a", 254), "[" + strings.Repeat("b", 253) + "]:22", "web.1_x-y", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidAlias(s), re.MatchString(s); got != want {
			t.Fatalf("ValidAlias(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
