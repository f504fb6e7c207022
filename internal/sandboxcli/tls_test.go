package sandboxcli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpTLS: up --tls serves HTTPS with a CA of its own that the env
// file names (AWS_CA_BUNDLE): the real aws CLI trusts it through that
// variable, and ctl talks to the admin endpoints over HTTPS.
func TestUpTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox and runs the aws CLI")
	}
	t.Parallel()
	vars, envFile := upFile(t, "--tls")
	u, err := url.Parse(vars["AWS_ENDPOINT_URL"])
	if err != nil || u.Scheme != "https" || u.Hostname() != "127.0.0.1" {
		t.Fatalf("AWS_ENDPOINT_URL = %q, want https://127.0.0.1:PORT", vars["AWS_ENDPOINT_URL"])
	}
	ca := vars["AWS_CA_BUNDLE"]
	b, err := os.ReadFile(ca)
	if err != nil {
		t.Fatalf("AWS_CA_BUNDLE %q: %v", ca, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s holds no PEM block", ca)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !cert.IsCA {
		t.Fatalf("%s: %v, CA %v", ca, err, cert != nil && cert.IsCA)
	}
	out, stderr, code := awsProfile(t, vars, "default", "sts", "get-caller-identity")
	if code != 0 || !strings.Contains(out, `"Arn"`) {
		t.Fatalf("aws sts get-caller-identity over HTTPS: exit %d, %s%s", code, out, stderr)
	}
	// Without the CA the CLI refuses the certificate.
	noCA := map[string]string{}
	for k, v := range vars {
		noCA[k] = v
	}
	delete(noCA, "AWS_CA_BUNDLE")
	if _, stderr, code := awsProfile(t, noCA, "default", "sts", "get-caller-identity"); code == 0 || !strings.Contains(stderr, "CERTIFICATE_VERIFY_FAILED") {
		t.Fatalf("aws without the sandbox's CA: exit %d, %s", code, stderr)
	}
	if out, errOut, code := ctl(t, envFile, "instances"); code != 0 || !strings.Contains(out, "web-1") {
		t.Fatalf("ctl instances over HTTPS: %d %q %s", code, out, errOut)
	}
}

// TestUpTLSHostName: up --host-name puts the name in the URLs and the
// certificate (beside the loopback addresses); ctl, which never resolves
// it, is told to pass --url https://127.0.0.1:PORT and then works.
func TestUpTLSHostName(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox")
	}
	t.Parallel()
	vars, envFile := upFile(t, "--tls", "--host-name", "sandbox.jitssh.test")
	u, err := url.Parse(vars["AWS_ENDPOINT_URL"])
	if err != nil || u.Scheme != "https" || u.Hostname() != "sandbox.jitssh.test" {
		t.Fatalf("AWS_ENDPOINT_URL = %q, want https://sandbox.jitssh.test:PORT", vars["AWS_ENDPOINT_URL"])
	}
	if _, errOut, code := ctl(t, envFile, "instances"); code == 0 || !strings.Contains(errOut, "pass --url https://127.0.0.1:PORT") {
		t.Fatalf("ctl instances with a host name: %d %s", code, errOut)
	}
	if out, errOut, code := ctl(t, envFile, "--url", "https://"+net.JoinHostPort("127.0.0.1", u.Port()), "instances"); code != 0 || !strings.Contains(out, "web-1") {
		t.Fatalf("ctl --url https://127.0.0.1 instances: %d %q %s", code, out, errOut)
	}
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"up", "--tls", "--host-name", "127.0.0.9", "--state-dir", filepath.Join(t.TempDir(), "s"), "--sshd", "embedded"}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "is an IP address") {
		t.Fatalf("up --host-name 127.0.0.9: exit %d, %s", code, stderr.String())
	}
}
