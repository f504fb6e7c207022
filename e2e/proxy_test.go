package e2e

import (
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

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

// TestProxyCarriesEveryConnection: with HTTPS_PROXY naming an
// authenticating CONNECT proxy, jitssh's API calls, the SSM data
// channel's websocket (ssh, tunnel) and EICE's all go through it (the sandbox, named
// sandbox.jitssh.test, accepts connections from the proxy only), and a
// wrong proxy password fails.
func TestProxyCarriesEveryConnection(t *testing.T) {
	var direct atomic.Int32
	e := newEnv(t, bestMode(t), withTLS, func(c *sandbox.Config) {
		c.HostName = sandboxHostName
		c.AcceptFrom = func(a net.Addr) bool {
			if ta, ok := a.(*net.TCPAddr); ok && ta.IP.Equal(net.ParseIP(proxySource)) {
				return true
			}
			direct.Add(1)
			return false
		}
	})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(e.sb.URL, "https://"))
	if e.sb.URL != "https://"+net.JoinHostPort(sandboxHostName, port) {
		t.Fatalf("sandbox URL %s does not name %s", e.sb.URL, sandboxHostName)
	}
	p := connectproxy.Start(t, connectproxy.Options{
		Hosts: map[string]string{sandboxHostName: "127.0.0.1"},
		User:  "jit", Password: "p@ss w:rd", Source: proxySource,
	})
	for _, v := range proxyVars {
		e.vars = without(e.vars, v)
	}
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
		if r.Target != want || r.Status != 200 {
			t.Errorf("CONNECT %s answered %d, want only %s answered 200", r.Target, r.Status, want)
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

	// A wrong password: the proxy refuses, and jitssh says so.
	_, stderr, err := e.run3([]string{"HTTPS_PROXY=" + p.URL("jit", "wrong")}, "jitssh", "ls")
	if err == nil || !strings.Contains(stderr, "the proxy refused its credentials") {
		t.Fatalf("jitssh ls with a wrong proxy password: %v, stderr:\n%s", err, stderr)
	}
	// No proxy where HTTPS_PROXY says.
	_, stderr, err = e.run3([]string{"HTTPS_PROXY=http://127.0.0.1:1"}, "jitssh", "ls")
	if err == nil || !strings.Contains(stderr, "could not be reached") {
		t.Fatalf("jitssh ls with no proxy at HTTPS_PROXY: %v, stderr:\n%s", err, stderr)
	}
	if last := p.Requests()[len(p.Requests())-1]; last.Status != 407 {
		t.Fatalf("the proxy answered %d to a wrong password, want 407", last.Status)
	}
}
