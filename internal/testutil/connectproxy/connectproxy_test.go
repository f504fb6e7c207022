package connectproxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestProxy: a client with the proxy's URL reaches a named server only
// through it, with the right password, from the source address; other
// names and wrong passwords are refused and logged.
func TestProxy(t *testing.T) {
	var from string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, _, _ = net.SplitHostPort(r.RemoteAddr)
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p := Start(t, Options{Hosts: map[string]string{"example.test": "127.0.0.1"}, User: "u", Password: "p:w", Source: "127.0.0.3"})
	client := func(proxyURL string) *http.Client {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		u, _ := url.Parse(proxyURL)
		tr.Proxy = http.ProxyURL(u)
		tr.TLSClientConfig.ServerName = "example.com" // httptest's certificate name
		return &http.Client{Transport: tr}
	}
	resp, err := client(p.URL()).Get("https://example.test:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello" || from != "127.0.0.3" {
		t.Fatalf("got %q from %s, want hello from 127.0.0.3", b, from)
	}
	if _, err := client(p.URL("u", "wrong")).Get("https://example.test:" + port + "/"); err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := client(p.URL()).Get("https://elsewhere.test:" + port + "/"); err == nil || !strings.Contains(err.Error(), "Bad Gateway") {
		t.Fatalf("unknown name: %v", err)
	}
	want := []Request{{"example.test:" + port, 200}, {"example.test:" + port, 407}, {"elsewhere.test:" + port, 502}}
	got := p.Requests()
	if len(got) != len(want) {
		t.Fatalf("log %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("log %v, want %v", got, want)
		}
	}
}
