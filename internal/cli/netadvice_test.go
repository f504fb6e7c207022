package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
)

// TestTLSAdvice: a refused certificate, however deep in the SDK's or the
// websocket library's wrapping, is explained with the URL's host and what
// to set; other errors get nothing.
func TestTLSAdvice(t *testing.T) {
	wrap := func(inner error) error {
		ue := &url.Error{Op: "Get", URL: "https://ssm.eu-west-1.amazonaws.com/x?y", Err: &tls.CertificateVerificationError{Err: inner}}
		return fmt.Errorf("operation error SSM: StartSession: %w", ue)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{wrap(x509.UnknownAuthorityError{}), "the certificate of https://ssm.eu-west-1.amazonaws.com is not trusted: set AWS_CA_BUNDLE or ca_bundle in your AWS profile to your organisation's CA (TLS inspection)"},
		{wrap(x509.HostnameError{Host: "x"}), "the certificate of https://ssm.eu-west-1.amazonaws.com is for another host name"},
		{wrap(x509.CertificateInvalidError{Reason: x509.Expired}), "is not valid (expired"},
		{fmt.Errorf("open data channel: %w", x509.UnknownAuthorityError{}), "the certificate of the server is not trusted"},
	} {
		got := advise(c.err).Error()
		if !strings.Contains(got, "\n  "+c.want) && !strings.Contains(got, c.want) {
			t.Errorf("advise(%v) = %q, want it to contain %q", c.err, got, c.want)
		}
	}
	if got := tlsAdvice(errors.New("connection refused")); got != "" {
		t.Errorf("advice for a refused connection: %q", got)
	}
}

func TestProxyAdvice(t *testing.T) {
	refused := &url.Error{Op: "Post", URL: "https://ec2.us-east-1.amazonaws.com/", Err: errors.New("Proxy Authentication Required")}
	if got := advise(fmt.Errorf("operation error EC2: %w", refused)).Error(); !strings.Contains(got, "the proxy refused its credentials") {
		t.Errorf("407: %q", got)
	}
	unreachable := &url.Error{Op: "Post", URL: "https://ec2.us-east-1.amazonaws.com/", Err: &net.OpError{Op: "proxyconnect", Net: "tcp", Err: errors.New("connection refused")}}
	if got := advise(unreachable).Error(); !strings.Contains(got, "the proxy of HTTPS_PROXY (HTTP_PROXY for http://) could not be reached") {
		t.Errorf("proxyconnect: %q", got)
	}
}
