package connectproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
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
	want := []Request{{"CONNECT", "example.test:" + port, 200}, {"CONNECT", "example.test:" + port, 407}, {"CONNECT", "elsewhere.test:" + port, 502}}
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

// TestForward: absolute-form requests (HTTP_PROXY for http:// and ws://)
// reach a named server through the proxy, from the source address, with
// the Host asked for and without the proxy's credentials; a websocket
// upgrade works through it; no or wrong credentials get 407.
func TestForward(t *testing.T) {
	var (
		mu        sync.Mutex
		from, got string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		from, _, _ = net.SplitHostPort(r.RemoteAddr)
		got = r.Host + " " + r.Header.Get("Proxy-Authorization")
		mu.Unlock()
		if r.URL.Path == "/ws" {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			typ, b, err := c.Read(r.Context())
			if err == nil {
				c.Write(r.Context(), typ, b)
			}
			return
		}
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p := Start(t, Options{Hosts: map[string]string{"example.test": "127.0.0.1"}, User: "u", Password: "p:w", Source: "127.0.0.3"})
	client := func(proxyURL string) *http.Client {
		u, _ := url.Parse(proxyURL)
		return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
	}
	base := "http://example.test:" + port
	resp, err := client(p.URL()).Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	if string(b) != "hello" || from != "127.0.0.3" || got != "example.test:"+port+" " {
		t.Fatalf("got %q from %s (Host and Proxy-Authorization %q), want hello from 127.0.0.3, Host example.test:%s and no credentials", b, from, got, port)
	}
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://example.test:"+port+"/ws", &websocket.DialOptions{HTTPClient: client(p.URL())})
	if err != nil {
		t.Fatalf("websocket through the proxy: %v", err)
	}
	if err := c.Write(ctx, websocket.MessageBinary, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != "ping" {
		t.Fatalf("echo %q, %v", b, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	for _, u := range []string{p.URL("u", "wrong"), "http://" + p.Addr} {
		resp, err := client(u).Get(base + "/")
		if err != nil || resp.StatusCode != http.StatusProxyAuthRequired {
			t.Fatalf("through %s: %v, %v; want 407", u, resp, err)
		}
		resp.Body.Close()
	}
	want := []Request{{"GET", "example.test:" + port, 200}, {"GET", "example.test:" + port, 101}, {"GET", "example.test:" + port, 407}, {"GET", "example.test:" + port, 407}}
	if got := p.Requests(); !slices.Equal(got, want) {
		t.Fatalf("log %v, want %v", got, want)
	}
}
