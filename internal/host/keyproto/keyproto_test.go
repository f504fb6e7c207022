package keyproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/testutil/runas"
)

// The request must be what encoding/json reads back as the same call.
func TestEncodeRequest(t *testing.T) {
	for _, tc := range []struct{ user, fp string }{
		{"alice", ""},
		{"alice", "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"},
		{`a"b\c`, "x\x00\n\x7fé"},
		{"-oProxyCommand=x", "</script>&"},
	} {
		b, err := EncodeRequest(tc.user, tc.fp)
		if err != nil {
			t.Fatal(err)
		}
		if b[len(b)-1] != 0 || bytes.IndexByte(b[:len(b)-1], 0) >= 0 {
			t.Fatalf("%q: not one NUL-terminated message", b)
		}
		var call struct {
			Method     string          `json:"method"`
			Parameters AuthorizeParams `json:"parameters"`
		}
		dec := json.NewDecoder(bytes.NewReader(b[:len(b)-1]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&call); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if call.Method != MethodAuthorize || call.Parameters.User != tc.user || call.Parameters.Fingerprint != tc.fp {
			t.Errorf("%q decodes to %+v", b, call)
		}
	}
	if _, err := EncodeRequest("a\xffb", ""); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

// The reply the service writes (encoding/json through internal/varlink's
// layout) decodes to the same keys.
func TestDecodeReply(t *testing.T) {
	for _, keys := range []string{"", "ssh-ed25519 AAAA alice\n", "a\"b\\c\n<&>\u2028\U0001F600\x01\t"} {
		b, _ := json.Marshal(struct {
			Parameters AuthorizeReply `json:"parameters"`
		}{AuthorizeReply{keys}})
		got, err := DecodeReply(b)
		if err != nil || got != keys {
			t.Errorf("%s: %q, %v", b, got, err)
		}
	}
	refused := `{"parameters":{"reason":"expired","detail":"x"},"error":"io.jitssh.Keys.Refused"}`
	_, err := DecodeReply([]byte(refused))
	var re *RefusedError
	if !errors.As(err, &re) || re.Name != ErrRefused {
		t.Errorf("refusal: %v", err)
	}
	for _, bad := range []string{
		``, `{}`, `{"parameters":{}}`, `{"parameters":{"authorizedKeys":"a","x":1}}`,
		`{"parameters":{"authorizedKeys":"a"},"continues":true}`, `{"parameters":{"authorizedKeys":"\ud800"}}`,
		`{"parameters":{"authorizedKeys":"a\"}}`, `{"parameters":{"authorizedKeys":"a` + "\n" + `"}}`,
		`{"parameters":{"authorizedKeys":"\x"}}`, `{"parameters":{"authorizedKeys":"\u12"}}`,
		` {"parameters":{"authorizedKeys":"a"}}`, `{"parameters":{"authorizedKeys":"a"}} `,
	} {
		if k, err := DecodeReply([]byte(bad)); err == nil {
			t.Errorf("%q accepted as %q", bad, k)
		}
	}
}

// FuzzDecodeReply: whatever DecodeReply accepts, encoding/json reads as the
// same single-field reply.
func FuzzDecodeReply(f *testing.F) {
	f.Add([]byte(`{"parameters":{"authorizedKeys":"ssh-ed25519 AAAA\n"}}`))
	f.Add([]byte(`{"parameters":{"authorizedKeys":"\ud83d\ude00\u003c\/"}}`))
	f.Add([]byte(`{"parameters":{"reason":"r","detail":"d"},"error":"io.jitssh.Keys.Refused"}`))
	f.Add([]byte(`{"parameters":{"authorizedKeys":"\ud800\u0041"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := DecodeReply(b)
		if err != nil {
			return
		}
		var r struct {
			Parameters map[string]any `json:"parameters"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&r); err != nil || dec.More() {
			t.Fatalf("DecodeReply accepted %q (as %q), encoding/json: %v", b, keys, err)
		}
		if len(r.Parameters) != 1 || r.Parameters["authorizedKeys"] != keys {
			t.Fatalf("DecodeReply(%q) = %q, encoding/json %v", b, keys, r.Parameters)
		}
	})
}

// FuzzEncodeRequest: every valid UTF-8 pair round-trips through
// encoding/json.
func FuzzEncodeRequest(f *testing.F) {
	f.Add("alice", "SHA256:x")
	f.Add("a\"\\\x00\x1f\x7f", "\u2028")
	f.Fuzz(func(t *testing.T, user, fp string) {
		b, err := EncodeRequest(user, fp)
		if err != nil {
			return
		}
		var call struct {
			Method     string          `json:"method"`
			Parameters AuthorizeParams `json:"parameters"`
		}
		if err := json.Unmarshal(b[:len(b)-1], &call); err != nil || call.Parameters.User != user || call.Parameters.Fingerprint != fp || bytes.IndexByte(b[:len(b)-1], 0) >= 0 {
			t.Fatalf("%q: %+v, %v", b, call, err)
		}
	})
}

// serve answers one connection on a fresh socket with reply.
func serve(t *testing.T, reply string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		if !bytes.HasPrefix(buf[:n], []byte(`{"method":"io.jitssh.Keys.Authorize"`)) {
			return
		}
		c.Write([]byte(reply))
		time.Sleep(time.Second)
	}()
	return sock
}

func TestAsk(t *testing.T) {
	if os.Geteuid() != 0 {
		// The client trusts only a root peer; this test's server is itself.
		t.Skip("the test's own server must run as root")
	}
	sock := serve(t, `{"parameters":{"authorizedKeys":"k1\nk2\n"}}`+"\x00")
	if keys, err := Ask(sock, "alice", "", time.Second); err != nil || keys != "k1\nk2\n" {
		t.Errorf("Ask = %q, %v", keys, err)
	}
	sock = serve(t, `{"parameters":{"reason":"expired","detail":"x"},"error":"io.jitssh.Keys.Refused"}`+"\x00")
	if _, err := Ask(sock, "alice", "", time.Second); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("refusal: %v", err)
	}
	sock = serve(t, `{"parameters":{"authorizedKeys":"k1\n"}}`+"\x00{}\x00")
	if _, err := Ask(sock, "alice", "", time.Second); err == nil {
		t.Error("two replies accepted")
	}
	sock = serve(t, `{"parameters":{"authorizedKeys":"k1\n"}}`) // no NUL: times out
	start := time.Now()
	if _, err := Ask(sock, "alice", "", 200*time.Millisecond); err == nil || errors.Is(err, ErrUnavailable) || time.Since(start) > 900*time.Millisecond {
		t.Errorf("incomplete reply: %v after %v", err, time.Since(start))
	}
	dir := t.TempDir()
	if _, err := Ask(filepath.Join(dir, "none"), "alice", "", time.Second); !errors.Is(err, ErrUnavailable) {
		t.Errorf("no socket: %v", err)
	}
	stale := filepath.Join(dir, "stale")
	ln, _ := net.Listen("unix", stale)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Ask(stale, "alice", "", time.Second); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("stale socket: %v", err)
	}
}

// TestMain lets the test binary act as a socket server run as another user
// (TestAskNonRootPeer).
func TestMain(m *testing.M) {
	if sock := os.Getenv("KEYPROTO_TEST_SERVE"); sock != "" {
		ln, err := net.Listen("unix", sock)
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("ready\n")
		c, err := ln.Accept()
		if err != nil {
			os.Exit(3)
		}
		buf := make([]byte, 4096)
		c.Read(buf)
		c.Write([]byte(`{"parameters":{"authorizedKeys":"ssh-ed25519 AAAA planted\n"}}` + "\x00"))
		time.Sleep(time.Second)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A socket served by anyone but root is never trusted, whatever it says.
func TestAskNonRootPeer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the server as nobody")
	}
	sock := runas.NobodyServer(t, "KEYPROTO_TEST_SERVE")
	keys, err := Ask(sock, "root", "", time.Second)
	if err == nil || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "not root") {
		t.Errorf("Ask of a server run by uid 65534 = %q, %v", keys, err)
	}
}

// A server that trickles bytes never holds the client past its timeout.
func TestAskTrickle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the test's own server must run as root")
	}
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for i := 0; i < 40; i++ {
			if _, err := c.Write([]byte("{")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	start := time.Now()
	if _, err := Ask(sock, "alice", "", 300*time.Millisecond); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("trickling server: %v", err)
	}
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Errorf("Ask returned after %v with a 300ms timeout", d)
	}
}

// TestAskReplyJustOverTheLimit: a reply one byte longer than MaxMessage is
// refused even when its NUL arrives in the same read as its last bytes
// (the limit used to be checked only on reads without the NUL).
func TestAskReplyJustOverTheLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the test's own server must run as root")
	}
	prefix, suffix := `{"parameters":{"authorizedKeys":"`, `"}}`
	for _, size := range []int{MaxMessage, MaxMessage + 1} {
		keys := strings.Repeat("k", size-len(prefix)-len(suffix))
		sock := serve(t, prefix+keys+suffix+"\x00")
		got, err := Ask(sock, "alice", "", 5*time.Second)
		switch {
		case size <= MaxMessage && (err != nil || got != keys):
			t.Errorf("a %d-byte reply: %d bytes, %v; want it accepted", size, len(got), err)
		case size > MaxMessage && (err == nil || !strings.Contains(err.Error(), "longer than")):
			t.Errorf("a %d-byte reply: %d bytes, %v; want it refused as too long", size, len(got), err)
		}
	}
}
