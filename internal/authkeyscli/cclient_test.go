package authkeyscli

// The C client (cmd/jitssh-authkeys-c) must behave exactly as
// jitssh-authkeys: these tests build both, run the same cases against a
// fake root key service, and compare the C client's reply parsing with
// keyproto.DecodeReply on a corpus of replies.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/keyproto"
	"github.com/jitssh/jitssh/internal/testutil/runas"
)

// TestMain lets the test binary serve a socket as another user
// (the non-root peer case).
func TestMain(m *testing.M) {
	if sock := os.Getenv("AUTHKEYS_TEST_SERVE"); sock != "" {
		ln, err := net.Listen("unix", sock)
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("ready\n")
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(3)
			}
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Write([]byte(`{"parameters":{"authorizedKeys":"ssh-ed25519 AAAA planted\n"}}` + "\x00"))
			c.Close()
		}
	}
	os.Exit(m.Run())
}

// clients builds jitssh-authkeys and the C client into one root-owned
// directory (the C client finds its fallback next to itself) and returns
// their paths by name.
var clientsOnce struct {
	sync.Once
	dir string
	err error
}

func clients(t *testing.T) map[string]string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the fake key service must run as root, as the real one does")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		if os.Getenv("JITSSH_REQUIRE_SSHD") == "1" {
			t.Fatal("no C compiler (cc) to build cmd/jitssh-authkeys-c: install gcc and libc6-dev")
		}
		t.Skip("no C compiler (cc) to build cmd/jitssh-authkeys-c")
	}
	clientsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authkeys-c")
		if err != nil {
			clientsOnce.err = err
			return
		}
		clientsOnce.dir = dir
		if out, err := exec.Command("go", "build", "-o", dir+"/", "github.com/jitssh/jitssh/cmd/jitssh-authkeys").CombinedOutput(); err != nil {
			clientsOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		src, _ := filepath.Abs("../../cmd/jitssh-authkeys-c/authkeys.c")
		if out, err := exec.Command(cc, "-std=c99", "-O2", "-static", "-Wall", "-Wextra", "-Werror", "-o", filepath.Join(dir, "jitssh-authkeys-c"), src).CombinedOutput(); err != nil {
			clientsOnce.err = fmt.Errorf("cc: %v\n%s", err, out)
		}
	})
	if clientsOnce.err != nil {
		t.Fatal(clientsOnce.err)
	}
	return map[string]string{
		"go": filepath.Join(clientsOnce.dir, "jitssh-authkeys"),
		"c":  filepath.Join(clientsOnce.dir, "jitssh-authkeys-c"),
	}
}

// runBin runs a client and returns its exit status, stdout and stderr.
func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// fakeService answers every connection on a fresh socket with answer(req).
func fakeService(t *testing.T, answer func(c net.Conn, req []byte)) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				req, err := r.ReadBytes(0)
				if err != nil {
					return
				}
				answer(c, req)
			}()
		}
	}()
	return sock
}

func replyWith(s string) func(net.Conn, []byte) {
	return func(c net.Conn, _ []byte) { c.Write([]byte(s)) }
}

// Both clients: same request on the wire, same outcome for each reply.
func TestClientsAgainstFakeService(t *testing.T) {
	bins := clients(t)
	var mu sync.Mutex
	var reqs []string
	record := fakeService(t, func(c net.Conn, req []byte) {
		mu.Lock()
		reqs = append(reqs, string(req))
		mu.Unlock()
		c.Write([]byte(`{"parameters":{"authorizedKeys":"k1 \u0041\n\"k2\""}}` + "\x00"))
	})
	big := `{"parameters":{"authorizedKeys":"` + strings.Repeat("a", 2*keyproto.MaxMessage) + `"}}` + "\x00"
	cases := []struct {
		name     string
		sock     string
		timeout  string
		wantKeys string // "" with wantCode 1: nothing printed
		wantCode int
	}{
		{"canonical", record, "2s", "k1 A\n\"k2\"\n", 0},
		{"none published", fakeService(t, replyWith(`{"parameters":{"authorizedKeys":""}}`+"\x00")), "2s", "", 0},
		{"refused", fakeService(t, replyWith(`{"parameters":{"reason":"expired","detail":"x"},"error":"io.jitssh.Keys.Refused"}`+"\x00")), "2s", "", 1},
		{"extra field", fakeService(t, replyWith(`{"parameters":{"authorizedKeys":"k","x":1}}`+"\x00")), "2s", "", 1},
		{"lone surrogate", fakeService(t, replyWith(`{"parameters":{"authorizedKeys":"\ud800"}}`+"\x00")), "2s", "", 1},
		{"raw newline", fakeService(t, replyWith(`{"parameters":{"authorizedKeys":"a`+"\n"+`"}}`+"\x00")), "2s", "", 1},
		{"two replies", fakeService(t, replyWith(`{"parameters":{"authorizedKeys":"k"}}`+"\x00{}\x00")), "2s", "", 1},
		{"closed early", fakeService(t, replyWith(`{"parameters":{"authorizedKeys":"k"}}`)), "2s", "", 1},
		{"oversized", fakeService(t, replyWith(big)), "3s", "", 1},
		{"no NUL, kept open", fakeService(t, func(c net.Conn, _ []byte) {
			c.Write([]byte(`{"parameters":{"authorizedKeys":"k"}}`))
			time.Sleep(2 * time.Second)
		}), "300ms", "", 1},
		{"trickling", fakeService(t, func(c net.Conn, _ []byte) {
			for i := 0; i < 40; i++ {
				if _, err := c.Write([]byte("{")); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}), "300ms", "", 1},
	}
	for _, tc := range cases {
		for name, bin := range bins {
			start := time.Now()
			code, out, errOut := runBin(t, bin, "--socket", tc.sock, "--timeout", tc.timeout, "--fallback", "none", "--", "al\"ice", "SHA256:x\x01")
			took := time.Since(start)
			if code != tc.wantCode || out != tc.wantKeys {
				t.Errorf("%s, %s client: exit %d, printed %q (stderr %q); want exit %d, %q", tc.name, name, code, cut(out), errOut, tc.wantCode, tc.wantKeys)
			}
			if tc.timeout == "300ms" && took > 1500*time.Millisecond {
				t.Errorf("%s, %s client: returned after %v with a 300ms timeout", tc.name, name, took)
			}
		}
	}
	want, _ := keyproto.EncodeRequest("al\"ice", "SHA256:x\x01")
	if len(reqs) != 2 || reqs[0] != string(want) || reqs[1] != string(want) {
		t.Errorf("requests %q, want twice %q", reqs, want)
	}
}

// A socket served by anyone but root is never trusted, whatever it says.
func TestClientsNonRootPeer(t *testing.T) {
	bins := clients(t)
	sock := runas.NobodyServer(t, "AUTHKEYS_TEST_SERVE")
	for name, bin := range bins {
		code, out, errOut := runBin(t, bin, "--socket", sock, "--fallback", "none", "--", "root")
		if code != ExitRefused || out != "" || !strings.Contains(errOut, "not root") {
			t.Errorf("%s client, server run by uid 65534: exit %d, %q, %q", name, code, out, errOut)
		}
	}
}

// No service: --fallback none refuses; otherwise the fallback runs with the
// user and fingerprint (the C client through jitssh-authkeys).
func TestClientsFallback(t *testing.T) {
	bins := clients(t)
	dir := t.TempDir()
	fb := filepath.Join(dir, "fake-jitssh-host")
	if err := os.WriteFile(fb, []byte("#!/bin/sh\necho \"fallback: $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "stale")
	ln, _ := net.Listen("unix", stale)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	for _, sock := range []string{filepath.Join(dir, "none"), stale} {
		for name, bin := range bins {
			if code, out, errOut := runBin(t, bin, "--socket", sock, "--fallback", "none", "--", "alice"); code != ExitRefused || out != "" || !strings.Contains(errOut, "--fallback none") {
				t.Errorf("%s client, %s, --fallback none: exit %d, %q, %q", name, sock, code, out, errOut)
			}
			code, out, errOut := runBin(t, bin, "--socket", sock, "--fallback", fb, "--config", "/etc/x.toml", "--", "alice", "SHA256:y")
			if code != 0 || out != "fallback: authorized-keys --config /etc/x.toml -- alice SHA256:y\n" {
				t.Errorf("%s client, %s, fallback: exit %d, %q, %q", name, sock, code, out, errOut)
			}
		}
	}
	// Usage goes to jitssh-authkeys: same text, same status.
	for _, args := range [][]string{{"--help"}, {"--bogus", "alice"}, {"--timeout", "1m1s", "a"}, {}} {
		gc, gout, gerr := runBin(t, bins["go"], args...)
		cc, cout, cerr := runBin(t, bins["c"], args...)
		if gc != cc || gout != cout || gerr != cerr {
			t.Errorf("%q: go client %d %q %q, C client %d %q %q", args, gc, gout, gerr, cc, cout, cerr)
		}
	}
}

// cut keeps a message short.
func cut(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// replyCorpus is the fuzz seeds and test cases of keyproto.DecodeReply
// plus seeded mutations of them.
func replyCorpus() []string {
	seeds := []string{
		`{"parameters":{"authorizedKeys":"ssh-ed25519 AAAA\n"}}`,
		`{"parameters":{"authorizedKeys":"\ud83d\ude00\u003c\/"}}`,
		`{"parameters":{"reason":"r","detail":"d"},"error":"io.jitssh.Keys.Refused"}`,
		`{"parameters":{"authorizedKeys":"\ud800\u0041"}}`,
		``, `{}`, `{"parameters":{}}`, `{"parameters":{"authorizedKeys":"a","x":1}}`,
		`{"parameters":{"authorizedKeys":"a"},"continues":true}`, `{"parameters":{"authorizedKeys":"\ud800"}}`,
		`{"parameters":{"authorizedKeys":"a\"}}`, `{"parameters":{"authorizedKeys":"a` + "\n" + `"}}`,
		`{"parameters":{"authorizedKeys":"\x"}}`, `{"parameters":{"authorizedKeys":"\u12"}}`,
		` {"parameters":{"authorizedKeys":"a"}}`, `{"parameters":{"authorizedKeys":"a"}} `,
		`{"parameters":{"authorizedKeys":""}}`, `{"parameters":{"authorizedKeys":"\u0000x"}}`,
		`{"parameters":{"authorizedKeys":"\udc00\ud800"}}`, `{"parameters":{"authorizedKeys":"\uD83D\uDE00\uFFFF\u00e9"}}`,
	}
	for _, keys := range []string{"ssh-ed25519 AAAA alice\n", "a\"b\\c\n<&>\u2028\U0001F600\x01\t\x7f", "é\r\b\f/"} {
		b, _ := json.Marshal(struct {
			Parameters keyproto.AuthorizeReply `json:"parameters"`
		}{keyproto.AuthorizeReply{AuthorizedKeys: keys}})
		seeds = append(seeds, string(b))
	}
	frags := []string{`\`, `"`, `\u`, `\ud83d`, `\ude00`, `\u00`, `\uzzzz`, `\n`, `\/`, `\'`, "\xff", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\x01", "\x7f", "é", "}", "{", " ", `\U0041`, `\u+041`}
	r := rand.New(rand.NewPCG(4, 20))
	corpus := append([]string(nil), seeds...)
	// Key strings built from escapes, mostly valid.
	pieces := []string{"ssh-ed25519 AAAA", " ", "alice", `\n`, `\t`, `\r`, `\b`, `\f`, `\/`, `\\`, `\"`, `\u0041`, `\u00e9`, `\u00E9`, `\u2028`, `\u0000`, `\u001f`,
		`\ud83d\ude00`, `\uD83D\uDE00`, `\uffff`, "é", "\U0001F600", "\x7f", "<&>"}
	for len(corpus) < 1500 {
		var b strings.Builder
		for k := r.IntN(8); k > 0; k-- {
			if r.IntN(12) == 0 {
				b.WriteString(frags[r.IntN(len(frags))])
			} else {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
		}
		corpus = append(corpus, `{"parameters":{"authorizedKeys":"`+b.String()+`"}}`)
	}
	for len(corpus) < 3000 {
		b := []byte(seeds[r.IntN(len(seeds))])
		for k := 1 + r.IntN(3); k > 0; k-- {
			at := 0
			if len(b) > 0 {
				at = r.IntN(len(b) + 1)
			}
			switch r.IntN(4) {
			case 0: // insert a fragment, mostly inside the key string
				if i := bytes.Index(b, []byte(`"authorizedKeys":"`)); i >= 0 && r.IntN(4) > 0 {
					at = i + 18 + r.IntN(len(b)-i-18+1)
				}
				b = append(b[:at:at], append([]byte(frags[r.IntN(len(frags))]), b[at:]...)...)
			case 1: // flip a byte
				if at < len(b) {
					b[at] = byte(1 + r.IntN(255))
				}
			case 2: // delete a byte
				if at < len(b) {
					b = append(b[:at], b[at+1:]...)
				}
			case 3: // truncate
				b = b[:at]
			}
		}
		corpus = append(corpus, string(b))
	}
	return corpus
}

// The C client accepts exactly the replies keyproto.DecodeReply accepts and
// prints the same keys.
func TestCClientDecodesAsDecodeReply(t *testing.T) {
	bins := clients(t)
	corpus := replyCorpus()
	replies := make(chan string, 1)
	sock := fakeService(t, func(c net.Conn, _ []byte) { c.Write([]byte(<-replies + "\x00")) })
	accepted, refused := 0, 0
	for _, reply := range corpus {
		if strings.IndexByte(reply, 0) >= 0 {
			continue // a NUL ends the message: not a reply of its own
		}
		keys, err := keyproto.DecodeReply([]byte(reply))
		want, wantCode := "", ExitRefused
		if err == nil {
			want, wantCode = keys, ExitOK
			if keys != "" && !strings.HasSuffix(keys, "\n") {
				want += "\n"
			}
			accepted++
		} else {
			refused++
		}
		replies <- reply
		code, out, errOut := runBin(t, bins["c"], "--socket", sock, "--fallback", "none", "--", "alice")
		if code != wantCode || out != want {
			t.Errorf("reply %q: C client exit %d, printed %q (%q); DecodeReply %q, %v", cut(reply), code, cut(out), errOut, cut(keys), err)
		}
	}
	t.Logf("%d replies: %d accepted, %d refused", accepted+refused, accepted, refused)
	if accepted < 300 || refused < 300 {
		t.Errorf("corpus too one-sided: %d accepted, %d refused", accepted, refused)
	}
}
