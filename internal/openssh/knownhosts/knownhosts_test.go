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
	if err := s.Pin(alias, []ssh.PublicKey{k1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Pin("i-0fedcba9876543210", []ssh.PublicKey{k2}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Lookup(alias)
	if err != nil || len(keys) != 1 || ssh.FingerprintSHA256(keys[0]) != ssh.FingerprintSHA256(k1) {
		t.Fatalf("Lookup after Pin = %v, %v", keys, err)
	}
	// The same key again is fine and changes nothing.
	before, _ := os.ReadFile(s.Path)
	if err := s.Pin(alias, []ssh.PublicKey{k1}); err != nil {
		t.Fatalf("re-pinning the same key: %v", err)
	}
	if after, _ := os.ReadFile(s.Path); string(after) != string(before) {
		t.Error("re-pinning the same key rewrote the file")
	}

	// A different key is refused, explained, and the pin stays.
	err = s.Pin(alias, []ssh.PublicKey{k2})
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
	if err := s.Pin(alias, []ssh.PublicKey{k2}); err != nil {
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
		if err := s.Pin(alias, []ssh.PublicKey{k}); err == nil {
			t.Errorf("Pin(%q) accepted", alias)
		}
		if _, err := s.Lookup(alias); err == nil {
			t.Errorf("Lookup(%q) accepted", alias)
		}
	}
	if err := s.Pin("i-1", nil); err == nil {
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
		"garbage":        "i-1 ssh-ed25519 not-base64!\n",
		"wildcard":       line("i-*") + "\n",
		"hashed":         line("|1|c2FsdA==|aGFzaA==") + "\n",
		"revoked marker": "@revoked " + line("i-1") + "\n",
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
			if err := s.Pin("i-2", []ssh.PublicKey{k}); err == nil {
				t.Error("Pin on a malformed store succeeded")
			}
			if got, _ := os.ReadFile(s.Path); string(got) != content {
				t.Error("malformed store was modified")
			}
		})
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
			if err := s.Pin(fmt.Sprintf("i-%017x", i), []ssh.PublicKey{k}); err != nil {
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
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parse(data)
		if err != nil {
			return
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
