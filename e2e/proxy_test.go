package e2e

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/testutil/connectproxy"
)

// sandboxHostName is the sandbox's name in the proxy tests: in its URLs
// and certificate, resolved by the test's proxy alone (.test is reserved:
// no resolver on this machine answers for it, so a client that tried to
// reach it directly would fail).
const sandboxHostName = "sandbox.jitssh.test"

// proxySource is the address the test's proxy dials the sandbox from: the
// sandbox refuses every connection from elsewhere.
const proxySource = "127.0.0.3"

// proxyVars are the variables a process's proxy selection reads.
var proxyVars = []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

// proxiedEnv starts a sandbox named sandboxHostName in its URLs (and
// certificate, over TLS) that counts the connections it accepts from the
// proxy's source address and from elsewhere; unless allowDirect, it
// closes the latter. It returns the env and the sandbox's port.
func proxiedEnv(t *testing.T, allowDirect bool, proxied, direct *atomic.Int32, opts ...func(*sandbox.Config)) (*env, string) {
	t.Helper()
	opts = append(opts, func(c *sandbox.Config) {
		c.HostName = sandboxHostName
		c.AcceptFrom = func(a net.Addr) bool {
			if ta, ok := a.(*net.TCPAddr); ok && ta.IP.Equal(net.ParseIP(proxySource)) {
				proxied.Add(1)
				return true
			}
			direct.Add(1)
			return allowDirect
		}
	})
	e := newEnv(t, bestMode(t), opts...)
	u, err := url.Parse(e.sb.URL)
	if err != nil || u.Hostname() != sandboxHostName {
		t.Fatalf("sandbox URL %s does not name %s", e.sb.URL, sandboxHostName)
	}
	for _, v := range proxyVars {
		e.vars = without(e.vars, v)
	}
	return e, u.Port()
}

// TestProxyCarriesEveryConnection: with HTTPS_PROXY naming an
// authenticating CONNECT proxy, jitssh's API calls, the SSM data
// channel's websocket (ssh, tunnel) and EICE's all go through it (the sandbox, named
// sandbox.jitssh.test, accepts connections from the proxy only), and a
// wrong proxy password fails.
func TestProxyCarriesEveryConnection(t *testing.T) {
	var proxied, direct atomic.Int32
	e, port := proxiedEnv(t, false, &proxied, &direct, withTLS)
	p := startProxy(t)
	e.vars = append(e.vars, "HTTPS_PROXY="+p.URL())
	web1 := infoByName(t, e.sb, "web-1")
	if out, stderr, err := e.run3(nil, "jitssh", "ls"); err != nil || !strings.Contains(out, "web-1") {
		t.Fatalf("jitssh ls through the proxy: %v\n%s%s", err, out, stderr)
	}
	before := len(p.Requests())
	for _, tr := range []string{"ssm", "eice"} {
		out, stderr, err := e.run3(nil, "jitssh", "ssh", "--transport", tr, "web-1", "--", "hostname")
		if err != nil || strings.TrimSpace(out) != web1.Hostname {
			t.Fatalf("jitssh ssh --transport %s through the proxy: %v\n%s%s", tr, err, out, stderr)
		}
	}
	// jitssh tunnel (the multiplexed port-forwarding session) too.
	rt := startTunnel(t, e, "web-1", "0:22")
	c, err := net.Dial("tcp", rt.ready.LocalAddress)
	if err != nil {
		t.Fatal(err)
	}
	banner := make([]byte, 4)
	if _, err := io.ReadFull(c, banner); err != nil || string(banner) != "SSH-" {
		t.Fatalf("through the tunnel through the proxy: %q, %v; stderr:\n%s", banner, err, rt.stderr.String())
	}
	c.Close()
	rt.stop(t)
	reqs := p.Requests()
	if len(reqs) <= before {
		t.Fatal("the ssh connections made no CONNECT through the proxy")
	}
	want := net.JoinHostPort(sandboxHostName, port)
	for _, r := range reqs {
		if r.Method != http.MethodConnect || r.Target != want || r.Status != 200 {
			t.Errorf("%s %s answered %d, want only CONNECT %s answered 200", r.Method, r.Target, r.Status, want)
		}
	}
	// Each TLS connection named the sandbox (SNI), as the certificate
	// checked against: the proxy only tunnelled.
	if names := e.sb.TLSServerNames(); len(names) != 1 || names[sandboxHostName] == 0 {
		t.Errorf("TLS server names (SNI) the sandbox saw: %v, want only %s", names, sandboxHostName)
	}
	if n := direct.Load(); n != 0 {
		t.Fatalf("the sandbox refused %d direct connections: something bypassed the proxy", n)
	}
	if ct := e.cloudTrailCount("StartSession", ""); ct == 0 {
		t.Fatal("no StartSession in CloudTrail")
	}
	t.Logf("%d CONNECTs through the proxy", len(reqs))

	// A wrong password, and none: the proxy refuses, and jitssh says so,
	// naming the proxy but not the password.
	for _, u := range []string{p.URL("jit", "wrong"), "http://" + p.Addr} {
		_, stderr, err := e.run3([]string{"HTTPS_PROXY=" + u}, "jitssh", "ls")
		want := "the proxy " + redactedProxy(u) + " (HTTPS_PROXY) refused its credentials: put the user and password in the proxy URL"
		if err == nil || !strings.Contains(stderr, want) || strings.Contains(stderr, "wrong") {
			t.Fatalf("jitssh ls through %s: %v, want %q, stderr:\n%s", u, err, want, stderr)
		}
		if last := p.Requests()[len(p.Requests())-1]; last.Status != 407 {
			t.Fatalf("the proxy answered %d to a wrong password, want 407", last.Status)
		}
	}
	unreachableProxyFailsFast(t, e, "HTTPS_PROXY")
}

// startProxy starts the test's proxy: it knows sandboxHostName, requires
// a password and dials from proxySource.
func startProxy(t *testing.T) *connectproxy.Proxy {
	return connectproxy.Start(t, connectproxy.Options{
		Hosts: map[string]string{sandboxHostName: "127.0.0.1"},
		User:  "jit", Password: "p@ss w:rd", Source: proxySource,
	})
}

// redactedProxy is proxy URL u as jitssh shows it (password redacted).
func redactedProxy(u string) string {
	pu, _ := url.Parse(u)
	return pu.Redacted()
}

// unreachableProxyFailsFast: with variable naming a proxy nothing listens
// at, jitssh ls fails at once (the SDK retried for about 15 s) naming
// the variable and the proxy.
func unreachableProxyFailsFast(t *testing.T, e *env, variable string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	start := time.Now()
	_, stderr, err := e.run3([]string{variable + "=" + u}, "jitssh", "ls")
	took := time.Since(start)
	want := variable + " names the proxy " + u + ", which could not be reached: check that a proxy listens at that address and port"
	if err == nil || !strings.Contains(stderr, want) {
		t.Fatalf("jitssh ls with no proxy at %s: %v, want %q, stderr:\n%s", variable, err, want, stderr)
	}
	if took > 5*time.Second {
		t.Fatalf("jitssh ls took %v to give up on an unreachable proxy; want one attempt", took.Round(time.Millisecond))
	}
}

// TestPlainHTTPProxyCarriesEveryConnection: against a plain-HTTP sandbox
// (http:// and ws://), HTTP_PROXY carries jitssh's API calls and both
// websockets as absolute-form requests (no CONNECT; the websockets as
// upgrades the proxy forwards), with the proxy's credentials from its
// URL; without them the proxy answers 407 and jitssh says so.
func TestPlainHTTPProxyCarriesEveryConnection(t *testing.T) {
	var proxied, direct atomic.Int32
	e, port := proxiedEnv(t, false, &proxied, &direct, withPlainHTTP)
	if !strings.HasPrefix(e.sb.URL, "http://") {
		t.Fatalf("sandbox URL %s, want http://", e.sb.URL)
	}
	p := startProxy(t)
	e.vars = append(e.vars, "HTTP_PROXY="+p.URL())
	web1 := infoByName(t, e.sb, "web-1")
	if out, stderr, err := e.run3(nil, "jitssh", "ls"); err != nil || !strings.Contains(out, "web-1") {
		t.Fatalf("jitssh ls through the proxy: %v\n%s%s", err, out, stderr)
	}
	for _, tr := range []string{"ssm", "eice"} {
		out, stderr, err := e.run3(nil, "jitssh", "ssh", "--transport", tr, "web-1", "--", "hostname")
		if err != nil || strings.TrimSpace(out) != web1.Hostname {
			t.Fatalf("jitssh ssh --transport %s through the proxy: %v\n%s%s", tr, err, out, stderr)
		}
	}
	want, upgrades := net.JoinHostPort(sandboxHostName, port), 0
	for _, r := range p.Requests() {
		if r.Method == http.MethodConnect || r.Target != want || (r.Status != 200 && r.Status != 101) {
			t.Errorf("%s %s answered %d, want only absolute-form requests to %s answered 200 or 101", r.Method, r.Target, r.Status, want)
		}
		if r.Status == 101 {
			upgrades++
		}
	}
	if upgrades < 2 {
		t.Errorf("%d websocket upgrades through the proxy, want at least 2 (ssm, eice): %v", upgrades, p.Requests())
	}
	if n := direct.Load(); n != 0 || proxied.Load() == 0 {
		t.Fatalf("the sandbox accepted %d connections from the proxy and refused %d direct ones", proxied.Load(), n)
	}
	for _, u := range []string{p.URL("jit", "wrong"), "http://" + p.Addr} {
		_, stderr, err := e.run3([]string{"HTTP_PROXY=" + u}, "jitssh", "ls")
		want := "the proxy " + redactedProxy(u) + " (HTTP_PROXY) refused its credentials"
		if err == nil || !strings.Contains(stderr, want) || strings.Contains(stderr, "wrong") {
			t.Fatalf("jitssh ls through %s: %v, want %q, stderr:\n%s", u, err, want, stderr)
		}
	}
	unreachableProxyFailsFast(t, e, "HTTP_PROXY")
}

// TestNoProxyBypassesTheProxy: a host NO_PROXY lists is reached directly
// (the API calls and both websockets), and the proxy sees nothing; the
// same commands with a NO_PROXY that does not match go through it. The
// sandbox's name must resolve for the direct connections: jitssh runs in
// a mount namespace of its own whose /etc/hosts names the sandbox (no
// DNS query leaves the machine).
func TestNoProxyBypassesTheProxy(t *testing.T) {
	hostsRun := hostsRunner(t, "127.0.0.1 localhost\n127.0.0.1 "+sandboxHostName+"\n")
	var proxied, direct atomic.Int32
	e, port := proxiedEnv(t, true, &proxied, &direct)
	p := startProxy(t)
	e.vars = append(e.vars, "HTTPS_PROXY="+p.URL(), "HTTP_PROXY="+p.URL())
	web1 := infoByName(t, e.sb, "web-1")
	for _, noProxy := range []string{sandboxHostName, ".jitssh.test", "example.com, " + sandboxHostName + ":" + port} {
		before := len(p.Requests())
		vars := []string{"NO_PROXY=" + noProxy}
		if out, stderr, err := hostsRun(e, vars, "jitssh", "ls"); err != nil || !strings.Contains(out, "web-1") {
			t.Fatalf("NO_PROXY=%s: jitssh ls: %v\n%s%s", noProxy, err, out, stderr)
		}
		for _, tr := range []string{"ssm", "eice"} {
			out, stderr, err := hostsRun(e, vars, "jitssh", "ssh", "--transport", tr, "web-1", "--", "hostname")
			if err != nil || strings.TrimSpace(out) != web1.Hostname {
				t.Fatalf("NO_PROXY=%s: jitssh ssh --transport %s: %v\n%s%s", noProxy, tr, err, out, stderr)
			}
		}
		if reqs := p.Requests()[before:]; len(reqs) != 0 {
			t.Errorf("NO_PROXY=%s: the proxy saw %v", noProxy, reqs)
		}
	}
	if proxied.Load() != 0 || direct.Load() == 0 {
		t.Fatalf("the sandbox accepted %d connections from the proxy and %d direct ones; want only direct ones", proxied.Load(), direct.Load())
	}
	// The control: a NO_PROXY that does not name the sandbox.
	if out, stderr, err := hostsRun(e, []string{"NO_PROXY=other.jitssh.test,example.com"}, "jitssh", "ssh", "--transport", "ssm", "web-1", "--", "hostname"); err != nil || strings.TrimSpace(out) != web1.Hostname {
		t.Fatalf("NO_PROXY not naming the sandbox: jitssh ssh: %v\n%s%s", err, out, stderr)
	}
	if len(p.Requests()) == 0 || proxied.Load() == 0 {
		t.Fatalf("with NO_PROXY not naming the sandbox nothing went through the proxy: %v", p.Requests())
	}
}

// hostsRunner returns a runner of commands in e's environment (plus
// extra) in a mount namespace of their own whose /etc/hosts is hosts
// (unshare -m, then a bind mount: root only).
func hostsRunner(t *testing.T, hosts string) func(e *env, extra []string, name string, args ...string) (string, string, error) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("JITSSH_REQUIRE_SSHD") != "" {
			t.Fatal("needs root and unshare (util-linux) to give jitssh an /etc/hosts of its own")
		}
		t.Skip("needs root and unshare (util-linux) to give jitssh an /etc/hosts of its own")
	}
	f := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(f, []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	return func(e *env, extra []string, name string, args ...string) (string, string, error) {
		if strings.HasPrefix(name, "jitssh") {
			name = filepath.Join(binDir, name)
		}
		script := `mount --bind "$0" /etc/hosts && exec "$@"`
		return e.run3(extra, "unshare", append([]string{"--mount", "--propagation", "private", "--", "sh", "-c", script, f, name}, args...)...)
	}
}
