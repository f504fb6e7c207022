package sandbox

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewTLSNamesTheSandbox: the certificate chains to the CA written to
// the state directory, for the loopback addresses, localhost and the host
// name, and for no other name.
func TestNewTLSNamesTheSandbox(t *testing.T) {
	dir := t.TempDir()
	cfg, caPath, err := newTLS(dir, net.ParseIP("127.0.0.1"), "sandbox.jitssh.test")
	if err != nil {
		t.Fatal(err)
	}
	if caPath != filepath.Join(dir, CAFile) {
		t.Fatalf("CA at %s, want %s", caPath, filepath.Join(dir, CAFile))
	}
	pemBytes, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("the CA file holds no certificate")
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "::1", "localhost", "sandbox.jitssh.test"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("certificate for %s: %v", name, err)
		}
	}
	for _, name := range []string{"ssm.us-east-1.amazonaws.com", "127.0.0.2", "other.jitssh.test"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err == nil {
			t.Errorf("certificate valid for %s", name)
		}
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		t.Error("TLS below 1.2 allowed")
	}
}

func TestCheckHostName(t *testing.T) {
	for _, ok := range []string{"", "sandbox.jitssh.test", "a", "x-1.example"} {
		if err := checkHostName(ok); err != nil {
			t.Errorf("checkHostName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"127.0.0.1", "::1", "-a.test", "a..test", "a.test.", "a_b.test", "a b", "a/b", strings.Repeat("a", 64) + ".test"} {
		if err := checkHostName(bad); err == nil {
			t.Errorf("checkHostName(%q) accepted", bad)
		}
	}
}

func FuzzCheckHostName(f *testing.F) {
	f.Add("sandbox.jitssh.test")
	f.Add("127.0.0.1")
	f.Fuzz(func(t *testing.T, name string) {
		if checkHostName(name) != nil || name == "" {
			return
		}
		// What it accepts is a DNS name that a certificate and a URL take.
		if net.ParseIP(name) != nil || strings.ContainsAny(name, ":/@?# ") {
			t.Fatalf("accepted %q", name)
		}
		if u, err := url.Parse("https://" + name + ":443/"); err != nil || u.Hostname() != name {
			t.Fatalf("accepted %q, which is no URL's host (%v)", name, err)
		}
	})
}
