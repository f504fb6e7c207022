// Package connectproxy is test-only: a small HTTP forward proxy that
// serves CONNECT (what clients send for https:// and wss:// through
// HTTPS_PROXY) and absolute-form requests (GET http://host/…, what they
// send for http:// and ws:// through HTTP_PROXY; websocket upgrades
// included), resolves host names from its own table (never DNS), can
// require Basic proxy authentication, dials its upstreams from a source
// address of its own (so that a server can tell proxied connections from
// direct ones), and logs every request.
package connectproxy

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a Proxy.
type Options struct {
	// Hosts maps the host names the proxy resolves to IP addresses; a
	// CONNECT to any other name, or to an IP address, is refused (502).
	Hosts map[string]string
	// User and Password, when User is set, are required as Basic
	// Proxy-Authorization (else 407).
	User, Password string
	// Source is the local IP the proxy dials upstreams from (e.g.
	// 127.0.0.3); "" lets the system choose.
	Source string
}

// Request is one request the proxy received.
type Request struct {
	Method string // CONNECT, or the method of an absolute-form request
	Target string // host:port as the client asked
	Status int    // the answer (the upstream's, for absolute-form requests)
}

// Proxy is a running CONNECT proxy.
type Proxy struct {
	// Addr is its listen address (127.0.0.1:PORT).
	Addr string
	opts Options
	ln   net.Listener
	srv  *http.Server

	mu   sync.Mutex
	reqs []Request
}

// Start starts a proxy on 127.0.0.1 for t, stopped when t ends.
func Start(t testing.TB, opts Options) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("connectproxy: listen: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), opts: opts, ln: ln}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

// URL is the proxy's URL for HTTPS_PROXY, with the credentials of
// Options (or user and password, when given) as userinfo.
func (p *Proxy) URL(userPassword ...string) string {
	u := &url.URL{Scheme: "http", Host: p.Addr}
	switch {
	case len(userPassword) == 2:
		u.User = url.UserPassword(userPassword[0], userPassword[1])
	case p.opts.User != "":
		u.User = url.UserPassword(p.opts.User, p.opts.Password)
	}
	return u.String()
}

// Requests returns the requests received so far.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

func (p *Proxy) log(method, target string, status int) {
	p.mu.Lock()
	p.reqs = append(p.reqs, Request{Method: method, Target: target, Status: status})
	p.mu.Unlock()
}

// authorized checks the Basic Proxy-Authorization header against Options.
func (p *Proxy) authorized(r *http.Request) bool {
	if p.opts.User == "" {
		return true
	}
	v, ok := strings.CutPrefix(r.Header.Get("Proxy-Authorization"), "Basic ")
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(v)
	return err == nil && string(b) == p.opts.User+":"+p.opts.Password
}

// ServeHTTP answers a CONNECT by tunnelling to the resolved target, and
// an absolute-form request by forwarding it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Host
	forward := r.Method != http.MethodConnect
	if forward {
		if !r.URL.IsAbs() || r.URL.Scheme != "http" {
			p.log(r.Method, r.URL.String(), http.StatusBadRequest)
			http.Error(w, "connectproxy: CONNECT or an absolute http:// URL only", http.StatusBadRequest)
			return
		}
		target = r.URL.Host
		if r.URL.Port() == "" {
			target = net.JoinHostPort(r.URL.Hostname(), "80")
		}
	}
	if !p.authorized(r) {
		p.log(r.Method, target, http.StatusProxyAuthRequired)
		w.Header().Set("Proxy-Authenticate", `Basic realm="connectproxy"`)
		http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
		return
	}
	host, port, err := net.SplitHostPort(target)
	ip, known := p.opts.Hosts[host]
	if err != nil || !known {
		p.log(r.Method, target, http.StatusBadGateway)
		http.Error(w, fmt.Sprintf("connectproxy: %q is not a host this proxy knows", target), http.StatusBadGateway)
		return
	}
	upstream := net.JoinHostPort(ip, port)
	if forward {
		p.forward(w, r, target, upstream)
		return
	}
	up, err := p.dial(r.Context(), upstream)
	if err != nil {
		p.log(r.Method, target, http.StatusBadGateway)
		http.Error(w, "connectproxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "connectproxy: cannot hijack", http.StatusInternalServerError)
		return
	}
	p.log(r.Method, target, http.StatusOK)
	down, rw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		up.Close()
		down.Close()
		return
	}
	go splice(down, rw.Reader, up)
}

// dial connects to upstream from Options.Source.
func (p *Proxy) dial(ctx context.Context, upstream string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if p.opts.Source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(p.opts.Source)}
	}
	return d.DialContext(ctx, "tcp", upstream)
}

// forward sends an absolute-form request on to upstream (the resolved
// target) with its Host unchanged, and the answer back; a websocket
// upgrade (101) becomes a two-way copy. The proxy's own headers
// (Proxy-Authorization) are hop-by-hop: they are not forwarded.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, target, upstream string) {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", upstream
			pr.Out.Host = r.URL.Host
		},
		Transport: &http.Transport{
			Proxy:             nil,
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return p.dial(ctx, upstream)
			},
		},
		ModifyResponse: func(resp *http.Response) error {
			p.log(r.Method, target, resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			p.log(r.Method, target, http.StatusBadGateway)
			http.Error(w, "connectproxy: "+err.Error(), http.StatusBadGateway)
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	rp.ServeHTTP(w, r)
}

// splice copies both ways until both ends are done; fromDown reads down
// through the buffer that may hold what the client sent after CONNECT.
func splice(down net.Conn, fromDown io.Reader, up net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(up, fromDown) // down through the hijacked buffer
		if c, ok := up.(*net.TCPConn); ok {
			c.CloseWrite()
		}
	}()
	go func() {
		defer wg.Done()
		io.Copy(down, up)
		if c, ok := down.(*net.TCPConn); ok {
			c.CloseWrite()
		}
	}()
	wg.Wait()
	up.Close()
	down.Close()
}
