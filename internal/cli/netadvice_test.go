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

	"github.com/jitssh/jitssh/internal/awsapi"
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

// TestProxyAdviceNamesTheProxy: awsapi's *ProxyError is worded with the
// variable and the proxy's (redacted) URL, for each way it fails.
func TestProxyAdviceNamesTheProxy(t *testing.T) {
	wrap := func(pe *awsapi.ProxyError) error {
		return fmt.Errorf("ec2:DescribeInstances: %w", &url.Error{Op: "Post", URL: "https://ec2.us-east-1.amazonaws.com/", Err: pe})
	}
	for _, c := range []struct {
		pe   *awsapi.ProxyError
		want string
	}{
		{&awsapi.ProxyError{Proxy: "http://127.0.0.1:3128", Variable: "HTTPS_PROXY", Target: "ec2.us-east-1.amazonaws.com:443", Err: errors.New("connection refused")},
			"\n  HTTPS_PROXY names the proxy http://127.0.0.1:3128, which could not be reached: check that a proxy listens at that address and port, or list the hosts to reach directly in NO_PROXY"},
		{&awsapi.ProxyError{Proxy: "http://u:xxxxx@proxy:3128", Variable: "HTTP_PROXY", Target: "sandbox:80", Status: 407, Err: errors.New("407 Proxy Authentication Required")},
			"\n  the proxy http://u:xxxxx@proxy:3128 (HTTP_PROXY) refused its credentials: put the user and password in the proxy URL"},
		{&awsapi.ProxyError{Proxy: "http://proxy:3128", Variable: "HTTPS_PROXY", Target: "ssmmessages.us-east-1.amazonaws.com:443", Status: 403, Err: errors.New("403 Forbidden")},
			"\n  the proxy http://proxy:3128 (HTTPS_PROXY) refused the connection to ssmmessages.us-east-1.amazonaws.com:443: ask its administrators to allow that host, or list it in NO_PROXY"},
	} {
		got := advise(wrap(c.pe)).Error()
		if !strings.Contains(got, c.want) || strings.Count(got, "\n  ") != 1 {
			t.Errorf("advise(%v) = %q, want one advice line %q", c.pe, got, c.want)
		}
	}
}
