package interop

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/kms"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

const interopKMSKey = "5e0c1f2a-3b4c-4d5e-8f60-718293a4b5c6"

// kmsPrefs makes the built-in account's Session Manager preferences
// encrypt shell sessions with alias/ssm-sessions, which the default
// identity may use (kms:GenerateDataKey in an identity policy, KMS's
// default key policy).
func kmsPrefs(t *testing.T) func(*sandbox.Config) {
	return func(c *sandbox.Config) {
		a, err := config.Builtin().Resolve(sandbox.LocalUser())
		if err != nil {
			t.Fatal(err)
		}
		a.KMSKeys = []kms.Key{{ID: interopKMSKey, Alias: "alias/ssm-sessions", Policy: kms.DefaultPolicy(a.Account)}}
		a.SessionKMSKey = "alias/ssm-sessions"
		ids := append([]world.Identity(nil), a.Identities...)
		ids[0].Policies = append(append([]policy.Document{}, ids[0].Policies...), policy.Document{Version: policy.Version, Statement: []policy.Statement{{
			Effect: policy.Allow, Action: policy.Strings{"kms:GenerateDataKey"}, Resource: policy.Strings{"*"},
		}}})
		a.Identities = ids
		c.Account = a
	}
}

// kmsProxy is a forward proxy for the official plugin's KMS client, which
// (aws-sdk-go v1) ignores AWS_ENDPOINT_URL and calls
// https://kms.REGION.amazonaws.com: through HTTPS_PROXY, the proxy answers
// the CONNECT to that name itself, terminates TLS with a certificate of
// its own CA (AWS_CA_BUNDLE) and hands the requests, signed for that
// host, to the sandbox. Any other CONNECT is refused, so nothing leaves
// the machine; what went through is logged.
type kmsProxy struct {
	host   string // kms.REGION.amazonaws.com
	caFile string
	url    string
	mu     sync.Mutex
	log    []string
}

func startKMSProxy(t *testing.T, region, sandboxURL, sandboxCA string) *kmsProxy {
	t.Helper()
	p := &kmsProxy{host: "kms." + region + ".amazonaws.com"}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "interop KMS proxy CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: p.host},
		DNSNames: []string{p.host}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	bundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if sandboxCA != "" { // the sandbox's own HTTPS, when it serves it
		b, err := os.ReadFile(sandboxCA)
		if err != nil {
			t.Fatal(err)
		}
		bundle = append(bundle, b...)
	}
	p.caFile = filepath.Join(t.TempDir(), "ca-bundle.pem")
	if err := os.WriteFile(p.caFile, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(sandboxURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target) // keeps the signed Host header
	if sandboxCA != "" {
		pool := x509.NewCertPool()
		b, _ := os.ReadFile(sandboxCA)
		pool.AppendCertsFromPEM(b)
		rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	srvTLS := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p.url = "http://" + ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, srvTLS, rp)
		}
	}()
	return p
}

func (p *kmsProxy) note(s string) {
	p.mu.Lock()
	p.log = append(p.log, s)
	p.mu.Unlock()
}

func (p *kmsProxy) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

func (p *kmsProxy) serve(c net.Conn, srvTLS *tls.Config, rp http.Handler) {
	defer c.Close()
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect || req.Host != p.host+":443" {
		p.note("refused " + req.Method + " " + req.Host)
		c.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
		return
	}
	if _, err := c.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		return
	}
	tc := tls.Server(c, srvTLS)
	if err := tc.Handshake(); err != nil {
		p.note("TLS handshake: " + err.Error())
		return
	}
	ln := &oneConnListener{c: tc, done: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.note(r.Method + " " + r.Host + " " + r.Header.Get("X-Amz-Target"))
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	srv.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			ln.Close()
		}
	}
	_ = srv.Serve(ln)
}

// oneConnListener serves one connection.
type oneConnListener struct {
	c    net.Conn
	once sync.Once
	done chan struct{}
	used bool
	mu   sync.Mutex
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if !l.used {
		l.used = true
		l.mu.Unlock()
		return l.c, nil
	}
	l.mu.Unlock()
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.c.LocalAddr() }

// TestOfficialPluginEncryptedShell: AWS's own plugin opens a shell
// session on a sandbox whose Session Manager preferences name a KMS key:
// the sandbox's agent asks for the key in its handshake, the plugin gets
// a data key from (the sandbox's) KMS, answers the encryption challenge,
// says the session is encrypted, and a typed command's output comes back
// through the encrypted stream; exit ends the session and the plugin.
func TestOfficialPluginEncryptedShell(t *testing.T) {
	e := newEnv(t, sshd.Embedded, kmsPrefs(t))
	in := e.sb.Instances[0]
	proxy := startKMSProxy(t, e.aws["AWS_REGION"], e.aws["AWS_ENDPOINT_URL"], e.aws["AWS_CA_BUNDLE"])
	e.vars = append(e.vars, "HTTPS_PROXY="+proxy.url, "https_proxy="+proxy.url, "NO_PROXY=", "no_proxy=", "AWS_CA_BUNDLE="+proxy.caFile)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, resp, req := e.startDocument(ctx, in.ID, "SSM-SessionManagerRunShell", nil)
	p := e.startPlugin(ctx, t, resp, req)
	p.waitFor(t, "the encryption notice", func(b []byte) bool { return strings.Contains(string(b), "This session is encrypted using AWS KMS.") })
	p.waitFor(t, "the shell's prompt", func(b []byte) bool { return regexp.MustCompile(`[$#] $`).Match(b) })
	if _, err := p.stdin.Write([]byte("echo plugin-$((6*7))\n")); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "the command's output", func(b []byte) bool { return regexp.MustCompile(`(?m)^plugin-42\r?$`).Match(b) })
	if _, err := p.stdin.Write([]byte("exit\n")); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 20*time.Second); err != nil {
		t.Fatalf("plugin after exit: %v", err)
	}
	if got := string(p.out.Bytes()); !strings.Contains(got, "Exiting session with sessionId: "+id) {
		t.Fatalf("plugin's output lacks its exit line:\n%q", got)
	}
	var kmsCalls int
	for _, l := range proxy.lines() {
		if strings.HasPrefix(l, "refused") {
			t.Errorf("the proxy refused %s", l)
		}
		if strings.Contains(l, "TrentService.GenerateDataKey") {
			kmsCalls++
		}
	}
	if kmsCalls != 1 {
		t.Fatalf("the plugin's KMS calls through the proxy: %q, want one GenerateDataKey", proxy.lines())
	}
}
