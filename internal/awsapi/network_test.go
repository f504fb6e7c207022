package awsapi

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestRewriteStreamURL(t *testing.T) {
	const stream = "wss://ssmmessages.eu-central-1.amazonaws.com/v1/data-channel/alice-0a1b?role=publish_subscribe&cell-number=AAAA"
	for _, c := range []struct{ ep, want string }{
		{"", stream},
		{"https://vpce-0123-abcd.ssmmessages.eu-central-1.vpce.amazonaws.com", "wss://vpce-0123-abcd.ssmmessages.eu-central-1.vpce.amazonaws.com/v1/data-channel/alice-0a1b?role=publish_subscribe&cell-number=AAAA"},
		{"https://ssmmessages-fips.us-east-1.amazonaws.com/", "wss://ssmmessages-fips.us-east-1.amazonaws.com/v1/data-channel/alice-0a1b?role=publish_subscribe&cell-number=AAAA"},
		{"http://127.0.0.1:8080", "ws://127.0.0.1:8080/v1/data-channel/alice-0a1b?role=publish_subscribe&cell-number=AAAA"},
	} {
		got, err := RewriteStreamURL(stream, c.ep)
		if err != nil || got != c.want {
			t.Errorf("RewriteStreamURL(%q) = %q, %v; want %q", c.ep, got, err, c.want)
		}
	}
	for _, bad := range []string{"vpce-0123.ssmmessages.eu-central-1.vpce.amazonaws.com", "ftp://host", "https://", "https://host/path", "https://u:p@host", "https://host?x=1", "https://[::1"} {
		var ee *EndpointError
		if got, err := RewriteStreamURL(stream, bad); !errors.As(err, &ee) {
			t.Errorf("RewriteStreamURL(%q) = %q, %v; want an EndpointError", bad, got, err)
		}
	}
	if _, err := RewriteStreamURL("https://not-a-websocket/", "https://host"); err == nil {
		t.Error("a stream URL that is not ws(s):// was rewritten")
	}
}

func FuzzRewriteStreamURL(f *testing.F) {
	f.Add("wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1?role=publish_subscribe", "https://vpce-1.ssmmessages.us-east-1.vpce.amazonaws.com")
	f.Add("ws://127.0.0.1:1/x", "http://[::1]:9")
	f.Fuzz(func(t *testing.T, stream, ep string) {
		got, err := RewriteStreamURL(stream, ep)
		if err != nil || ep == "" {
			return
		}
		g, perr := url.Parse(got)
		s, _ := url.Parse(stream)
		e, _ := url.Parse(ep)
		if perr != nil || g.Host != e.Host || g.Path != s.Path || g.RawQuery != s.RawQuery || (g.Scheme != "wss" && g.Scheme != "ws") {
			t.Fatalf("RewriteStreamURL(%q, %q) = %q (%v)", stream, ep, got, perr)
		}
	})
}

// TestSSMMessagesEndpointSources: the override comes from
// AWS_ENDPOINT_URL_SSMMESSAGES, else the profile's services section, as
// the SDK resolves service endpoints; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
// turns it off; AWS_ENDPOINT_URL alone does not set it; a bad value is
// refused when the configuration loads.
func TestSSMMessagesEndpointSources(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "config")
	os.WriteFile(conf, []byte("[default]\nservices = vpce\n\n[services vpce]\nssmmessages =\n  endpoint_url = https://vpce-1.ssmmessages.us-east-1.vpce.amazonaws.com\n"), 0o600)
	for _, c := range []struct {
		name, env, file, ignore, want string
	}{
		{"none", "", "", "", ""},
		{"env", "https://ssmmessages-fips.us-east-1.amazonaws.com", "", "", "https://ssmmessages-fips.us-east-1.amazonaws.com"},
		{"services section", "", conf, "", "https://vpce-1.ssmmessages.us-east-1.vpce.amazonaws.com"},
		{"env before file", "https://a.example", conf, "", "https://a.example"},
		{"ignored", "https://a.example", conf, "true", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			testEnv(t, "http://127.0.0.1:1")
			t.Setenv("AWS_ENDPOINT_URL_SSMMESSAGES", c.env)
			t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", c.ignore)
			if c.file != "" {
				t.Setenv("AWS_CONFIG_FILE", c.file)
			}
			cl, err := New(context.Background(), Options{Region: "us-east-1"})
			if err != nil || cl.ssmMessages != c.want {
				t.Fatalf("ssmmessages endpoint %q, %v; want %q", cl.ssmMessages, err, c.want)
			}
		})
	}
	testEnv(t, "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_SSMMESSAGES", "vpce-1.ssmmessages.us-east-1.vpce.amazonaws.com")
	var ee *EndpointError
	if _, err := New(context.Background(), Options{Region: "us-east-1"}); !errors.As(err, &ee) {
		t.Fatalf("a host name without https:// was accepted: %v", err)
	}
}

// TestHTTPClientTrustsTheCABundle: the websockets' client trusts
// AWS_CA_BUNDLE's CA, as the SDK's API calls do, and nothing else.
func TestHTTPClientTrustsTheCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	testEnv(t, "http://127.0.0.1:1")
	cl, err := New(context.Background(), Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	var unknown x509.UnknownAuthorityError
	if _, err := cl.HTTPClient().Get(srv.URL); !errors.As(err, &unknown) {
		t.Fatalf("without a CA bundle: %v, want an unknown authority", err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	cl, err = New(context.Background(), Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cl.HTTPClient().Get(srv.URL)
	if err != nil {
		t.Fatalf("with AWS_CA_BUNDLE: %v", err)
	}
	resp.Body.Close()
	if tr, ok := cl.HTTPClient().Transport.(*http.Transport); !ok || tr.Proxy == nil || tr.TLSClientConfig.InsecureSkipVerify {
		t.Fatal("the websockets' transport has no proxy selection, or skips verification")
	}
}

// TestUntrustedCertificateIsNotRetried: an API call to a server whose
// certificate is not trusted fails after one attempt (the SDK would
// retry a failed send until its budget is spent).
func TestUntrustedCertificateIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			calls.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	testEnv(t, srv.URL)
	cl, err := New(context.Background(), Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = cl.CallerIdentity(context.Background())
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) || !IsConfigurationError(err) {
		t.Fatalf("err = %v, want an unknown authority", err)
	}
	if n := calls.Load(); n != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("%d connections in %v, want one attempt", n, time.Since(start))
	}
}
