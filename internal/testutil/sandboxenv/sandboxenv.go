// Package sandboxenv is test support for the end-to-end tests (e2e and
// the e2e/interop module): a sandbox started for one test with its log
// kept for the test's failure, and the environment the programs a test
// runs get (the sandbox's, never a developer's real AWS credentials).
// Production code never imports it (internal/archtest).
package sandboxenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// logBuffer is a bytes.Buffer safe for the sandbox's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start starts a sandbox with cfg for t. Unless cfg has a Logger, the
// sandbox logs at debug level into memory, and the log is shown when t
// ends failed (or always, with showLog). The sandbox is closed when t
// ends.
func Start(t testing.TB, cfg sandbox.Config, showLog bool) *sandbox.Sandbox {
	t.Helper()
	var logBuf logBuffer
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sb, err := sandbox.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		sb.Close()
		if t.Failed() || showLog {
			t.Logf("sandbox log:\n%s", logBuf.String())
		}
	})
	return sb
}

// dropped are the variables of this process that programs run against the
// sandbox never see: real AWS credentials and configuration, the home
// directory and XDG paths, the ssh agent, the session-manager-plugin's
// settings, and PATH (replaced).
var dropped = []string{"AWS_", "HOME=", "XDG_", "SSH_AUTH_SOCK=", "SSM_PLUGIN_", "PATH="}

// Environ is the environment of a program run against sb: this process's
// without the dropped variables, then the sandbox's (sb.Env), HOME=home,
// PATH with binDir first, and AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE set to /dev/null.
func Environ(sb *sandbox.Sandbox, home, binDir string) []string {
	var vars []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc(dropped, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			vars = append(vars, kv)
		}
	}
	vars = append(vars, sb.Env()...)
	return append(vars, "HOME="+home, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
}

// Modes returns the SSH server modes to test: the real sshd when it can
// run here (it must under JITSSH_REQUIRE_SSHD, as in CI), and the embedded
// one always.
func Modes(t testing.TB) []sshd.Mode {
	t.Helper()
	if sshd.ResolveAuto() == sshd.OpenSSH {
		return []sshd.Mode{sshd.OpenSSH, sshd.Embedded}
	}
	if os.Getenv("JITSSH_REQUIRE_SSHD") != "" {
		t.Fatal("JITSSH_REQUIRE_SSHD is set but the real sshd cannot be used (needs /usr/sbin/sshd and root)")
	}
	t.Log("real sshd unavailable (needs /usr/sbin/sshd and root): testing the embedded SSH server only")
	return []sshd.Mode{sshd.Embedded}
}

// TLS reports whether the end-to-end tests' sandboxes serve HTTPS/WSS with
// their own CA (sandbox.Config.TLS; the CA is in the environment as
// AWS_CA_BUNDLE): the default, as AWS's endpoints are all https:// and
// wss://. JITSSH_E2E_TLS=0 runs them over plain HTTP; a test that must
// run over plain HTTP sets Config.TLS itself.
func TLS(t testing.TB) bool {
	t.Helper()
	switch v := os.Getenv("JITSSH_E2E_TLS"); v {
	case "", "1":
		return true
	case "0":
		return false
	default:
		t.Fatalf("JITSSH_E2E_TLS=%q: want 1 (HTTPS/WSS, the default) or 0 (plain HTTP)", v)
		return false
	}
}

// HTTPClient is an HTTP client for requests a test makes to sb itself
// (admin endpoints, SDK clients built in the test): it trusts sb's CA
// when sb serves HTTPS (sandbox.Config.TLS) and never uses a proxy.
func HTTPClient(t testing.TB, sb *sandbox.Sandbox) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	if sb.CABundle != "" {
		b, err := os.ReadFile(sb.CABundle)
		if err != nil {
			t.Fatalf("read the sandbox's CA: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			t.Fatalf("%s holds no certificate", sb.CABundle)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr}
}
