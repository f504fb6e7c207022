package knownhosts

import (
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

func TestAnswer(t *testing.T) {
	s := newStore(t)
	const id = "i-0123456789abcdef0"
	k := newSigner(t, "ed25519").PublicKey()
	other := newSigner(t, "ed25519").PublicKey()
	b64 := func(k ssh.PublicKey) string { return base64.StdEncoding.EncodeToString(k.Marshal()) }

	// Unknown name: nothing, and a NoPinError.
	var np *NoPinError
	if out, err := s.Answer(Query{Host: "web-1", Reason: "ORDER"}); !errors.As(err, &np) || len(out) != 0 {
		t.Fatalf("unknown name: %q, %v", out, err)
	}
	if err := s.RememberName("web-1", id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Answer(Query{Host: "web-1", Reason: "ORDER"}); !errors.As(err, &np) || np.InstanceID != id {
		t.Fatalf("known name without pin: %v", err)
	}
	if err := s.Pin(id, "", []ssh.PublicKey{k}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []Query{
		{Host: "web-1", Reason: "ORDER"},
		{Host: "web-1", Reason: "HOSTNAME", KeyType: k.Type(), Key: b64(k)},
		{Host: "[web-1]:2222", Reason: "HOSTNAME", KeyType: k.Type(), Key: b64(k)},
		{Host: "i-0123456789abcdef0.us-east-1", Reason: "HOSTNAME", InstanceID: id},
	} {
		out, err := s.Answer(q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		// The line is for the name ssh asked about, and ssh's own parser
		// (x/crypto's, here) accepts the key for that name.
		cb, err := xknownhosts.New(writeTemp(t, out))
		if err != nil {
			t.Fatal(err)
		}
		addr := q.Host
		if !strings.HasPrefix(addr, "[") {
			addr += ":22"
		} else {
			addr = strings.NewReplacer("[", "", "]", "").Replace(addr)
		}
		if err := cb(addr, fakeAddr{}, k); err != nil {
			t.Errorf("%+v: answer %q does not accept the pinned key: %v", q, out, err)
		}
	}
	// A different key offered: ChangedError naming the forget command.
	var ce *ChangedError
	_, err := s.Answer(Query{Host: "web-1", Reason: "HOSTNAME", KeyType: other.Type(), Key: b64(other)})
	if !errors.As(err, &ce) || strings.Contains(err.Error(), "\n") || !strings.Contains(ce.Advice(), "jitssh known-hosts forget "+id) {
		t.Fatalf("changed key: %v", err)
	}
	// The latest resolution wins.
	if err := s.RememberName("web-1", "i-0fedcba9876543210"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.InstanceFor("web-1"); got != "i-0fedcba9876543210" {
		t.Fatalf("InstanceFor = %q", got)
	}
	for _, bad := range []string{"a b", "*", "x,y"} {
		if err := s.RememberName(bad, id); err == nil {
			t.Errorf("RememberName(%q) accepted", bad)
		}
	}
}

func TestNamesFileMustBeWellFormed(t *testing.T) {
	s := newStore(t)
	if err := s.RememberName("web-1", "i-0123456789abcdef0"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.NamesPath(), []byte("web-1 i-01 extra\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InstanceFor("web-1"); err == nil {
		t.Fatal("malformed names file accepted")
	}
}

func writeTemp(t *testing.T, b []byte) string {
	p := t.TempDir() + "/kh"
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type fakeAddr struct{}

func (fakeAddr) Network() string { return "tcp" }
func (fakeAddr) String() string  { return "127.0.0.1:22" }

func TestAnswerAccount(t *testing.T) {
	s := newStore(t)
	const id, a, b = "i-0123456789abcdef0", "111111111111", "222222222222"
	k := newSigner(t, "ed25519").PublicKey()
	b64 := func(k ssh.PublicKey) string { return base64.StdEncoding.EncodeToString(k.Marshal()) }
	if err := s.Pin(id, a, []ssh.PublicKey{k}); err != nil {
		t.Fatal(err)
	}
	for _, acct := range []string{"", a} {
		out, err := s.Answer(Query{Host: id, Reason: "HOSTNAME", InstanceID: id, KeyType: k.Type(), Key: b64(k), Account: acct})
		if err != nil || !strings.HasPrefix(string(out), id+" "+k.Type()+" ") {
			t.Errorf("Answer in account %q = %q, %v; want the pin", acct, out, err)
		}
	}
	// Believed to be in another account: no line, and why.
	out, err := s.Answer(Query{Host: id, Reason: "HOSTNAME", InstanceID: id, KeyType: k.Type(), Key: b64(k), Account: b})
	var mm *AccountMismatchError
	if len(out) != 0 || !errors.As(err, &mm) || mm.PinnedAccount != a || mm.Account != b {
		t.Fatalf("Answer in account %s = %q, %v; want nothing and an *AccountMismatchError", b, out, err)
	}
}
