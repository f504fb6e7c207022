package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
)

// withTLS serves the sandbox over HTTPS/WSS with its own CA.
func withTLS(c *sandbox.Config) { c.TLS = true }

// withPlainHTTP serves the sandbox over plain HTTP and WS, whatever
// JITSSH_E2E_TLS says (the default is HTTPS/WSS: sandboxenv.TLS).
func withPlainHTTP(c *sandbox.Config) { c.TLS = false }

// without returns vars without the variable name.
func without(vars []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(vars), func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
}

// TestTLSSandboxWithCABundle: against the sandbox over HTTPS/WSS, every
// connection jitssh makes trusts the CA of AWS_CA_BUNDLE, and of the
// profile's ca_bundle: the API calls (ls), the SSM data channel's
// websocket (ssh over ssm, tunnel, shell) and EICE's (ssh over eice). Without
// it, each fails saying what to set.
func TestTLSSandboxWithCABundle(t *testing.T) {
	e := newEnv(t, bestMode(t), withTLS)
	if !strings.HasPrefix(e.sb.URL, "https://") || e.sb.CABundle == "" {
		t.Fatalf("sandbox URL %q, CA %q: want https:// and a CA file", e.sb.URL, e.sb.CABundle)
	}
	if !slices.Contains(e.vars, "AWS_CA_BUNDLE="+e.sb.CABundle) {
		t.Fatal("the sandbox's environment does not set AWS_CA_BUNDLE")
	}
	web1 := infoByName(t, e.sb, "web-1")
	connections := func(t *testing.T, vars []string) {
		t.Helper()
		if out, stderr, err := e.run3(vars, "jitssh", "ls"); err != nil || !strings.Contains(out, "web-1") {
			t.Fatalf("jitssh ls: %v\n%s%s", err, out, stderr)
		}
		for _, tr := range []string{"ssm", "eice"} {
			out, stderr, err := e.run3(vars, "jitssh", "ssh", "--transport", tr, "web-1", "--", "hostname")
			if err != nil || strings.TrimSpace(out) != web1.Hostname {
				t.Fatalf("jitssh ssh --transport %s: %v\n%s%s", tr, err, out, stderr)
			}
		}
		saved := e.vars
		e.vars = append(slices.Clone(e.vars), vars...)
		defer func() { e.vars = saved }()
		// jitssh shell (Standard_Stream over wss), with piped input.
		// (exit: this is about the websocket, not the end of piped input.)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sh := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "shell", "web-1")
		sh.Env, sh.Stdin = e.vars, strings.NewReader("echo $((6*7))\nexit\n")
		if out, err := sh.CombinedOutput(); err != nil || !strings.Contains(string(out), "42") {
			t.Fatalf("jitssh shell over wss: %v\n%s", err, out)
		}
		rt := startTunnel(t, e, "web-1", "0:22")
		c, err := net.Dial("tcp", rt.ready.LocalAddress)
		if err != nil {
			t.Fatal(err)
		}
		banner := make([]byte, 4)
		if _, err := c.Read(banner); err != nil || string(banner) != "SSH-" {
			t.Fatalf("through the tunnel over wss: %q, %v; stderr:\n%s", banner, err, rt.stderr.String())
		}
		c.Close()
		rt.stop(t)
	}
	t.Run("AWS_CA_BUNDLE", func(t *testing.T) { connections(t, nil) })
	t.Run("ca_bundle", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(conf, []byte("[default]\nca_bundle = "+e.sb.CABundle+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		saved := e.vars
		e.vars = without(e.vars, "AWS_CA_BUNDLE")
		defer func() { e.vars = saved }()
		connections(t, []string{"AWS_CONFIG_FILE=" + conf})
	})
	t.Run("untrusted", func(t *testing.T) {
		saved := e.vars
		e.vars = without(e.vars, "AWS_CA_BUNDLE")
		defer func() { e.vars = saved }()
		want := "the certificate of " + e.sb.URL + " is not trusted: set AWS_CA_BUNDLE or ca_bundle"
		for _, args := range [][]string{{"ls"}, {"ssh", "web-1", "--", "true"}} {
			_, stderr, err := e.run3(nil, "jitssh", args...)
			if err == nil || !strings.Contains(stderr, want) {
				t.Errorf("jitssh %s without the CA: %v, stderr:\n%s\nwant %q", strings.Join(args, " "), err, stderr, want)
			}
		}
	})
}

// TestSSMMessagesEndpointOverride: SSM answers StartSession with its
// public ssmmessages host whatever endpoint the client must use (here a
// closed port); AWS_ENDPOINT_URL_SSMMESSAGES (a PrivateLink or FIPS
// endpoint) takes its place in the stream URL, over TLS with the
// endpoint's certificate.
func TestSSMMessagesEndpointOverride(t *testing.T) {
	e := newEnv(t, bestMode(t), withTLS, func(c *sandbox.Config) { c.StreamBase = "wss://127.0.0.1:1" })
	web1 := infoByName(t, e.sb, "web-1")
	if _, _, err := e.run3(nil, "jitssh", "ssh", "--transport", "ssm", "web-1", "--", "true"); err == nil {
		t.Fatal("jitssh ssh reached the data channel at a closed port: the test proves nothing")
	}
	out, stderr, err := e.run3([]string{"AWS_ENDPOINT_URL_SSMMESSAGES=" + e.sb.URL}, "jitssh", "ssh", "--transport", "ssm", "web-1", "--", "hostname")
	if err != nil || strings.TrimSpace(out) != web1.Hostname {
		t.Fatalf("jitssh ssh with AWS_ENDPOINT_URL_SSMMESSAGES: %v\n%s%s", err, out, stderr)
	}
	// An endpoint whose certificate the CA bundle does not vouch for: the
	// data channel's websocket verifies it, and the refusal is explained.
	other := httptest.NewTLSServer(http.NotFoundHandler())
	defer other.Close()
	_, stderr, err = e.run3([]string{"AWS_ENDPOINT_URL_SSMMESSAGES=" + other.URL}, "jitssh", "ssh", "--transport", "ssm", "web-1", "--", "true")
	if want := "the certificate of " + other.URL + " is not trusted"; err == nil || !strings.Contains(stderr, want) {
		t.Fatalf("jitssh ssh with an untrusted ssmmessages endpoint: %v, stderr:\n%s\nwant %q", err, stderr, want)
	}
	out, stderr, err = e.run3([]string{"AWS_ENDPOINT_URL_SSMMESSAGES=ssmmessages.example"}, "jitssh", "ls")
	if err == nil || !strings.Contains(stderr, `the configured ssmmessages endpoint "ssmmessages.example" is not usable: not an https:// URL`) {
		t.Fatalf("jitssh ls with a bad AWS_ENDPOINT_URL_SSMMESSAGES: %v\n%s%s", err, out, stderr)
	}
}
