package imds_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/imds"
)

// fake is a minimal IMDSv2: token "tok", then paths from a map.
func fake(t *testing.T, paths map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/api/token" {
			if r.Method != http.MethodPut || r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
				http.Error(w, "bad token request", http.StatusBadRequest)
				return
			}
			w.Write([]byte("tok"))
			return
		}
		if r.Header.Get("X-aws-ec2-metadata-token") != "tok" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch body, ok := paths[strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")]; {
		case body == "SLOW":
			<-r.Context().Done()
		case body == "REDIRECT":
			http.Redirect(w, r, "http://example.invalid/", http.StatusFound)
		case ok:
			w.Write([]byte(body))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClient(t *testing.T) {
	t.Parallel()
	srv := fake(t, map[string]string{
		"instance-id": "i-0123456789abcdef0\n",
		"big":         strings.Repeat("x", 2048),
		"limit":       strings.Repeat("x", 1024),
		"slow":        "SLOW",
		"redirect":    "REDIRECT",
	})
	c, err := imds.New(imds.Options{Endpoint: srv.URL + "/", RequestTimeout: 200 * time.Millisecond, MaxBody: 1024})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := c.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := s.GetString(ctx, "instance-id"); err != nil || id != "i-0123456789abcdef0" {
		t.Errorf("instance-id = %q, %v", id, err)
	}
	if b, err := s.Get(ctx, "limit"); err != nil || len(b) != 1024 {
		t.Errorf("body at the limit: %d bytes, %v", len(b), err)
	}
	if _, err := s.Get(ctx, "big"); !errors.Is(err, imds.ErrTooLarge) {
		t.Errorf("oversized body: err = %v, want a limit error", err)
	}
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, imds.ErrNotFound) {
		t.Errorf("missing path: err = %v, want ErrNotFound", err)
	}
	var se *imds.StatusError
	if _, err := s.Get(ctx, "redirect"); !errors.As(err, &se) || se.Code != http.StatusFound {
		t.Errorf("redirect: err = %v, want an unfollowed 302", err)
	}
	start := time.Now()
	if _, err := s.Get(ctx, "slow"); err == nil {
		t.Error("slow path answered")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("slow request took %v, want about the 200ms timeout", d)
	}

	c2, _ := imds.New(imds.Options{Endpoint: srv.URL})
	s2, _ := c2.Session(ctx)
	if _, err := s2.Get(ctx, "instance-id"); err != nil {
		t.Errorf("default options: %v", err)
	}
}

func TestTokenRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	c, err := imds.New(imds.Options{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var se *imds.StatusError
	if _, err := c.Session(context.Background()); !errors.As(err, &se) || se.Code != http.StatusForbidden {
		t.Errorf("Session err = %v, want HTTP 403", err)
	}
}

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"http://169.254.169.254", true},
		{"http://[fd00:ec2::254]", true},
		{"http://127.0.0.1:8080/", true},
		{"https://imds.example", false},
		{"http://:80", false},
		{"169.254.169.254", false},
		{"ftp://169.254.169.254", false},
		{"http://169.254.169.254/latest", false},
		{"http://169.254.169.254?x=1", false},
		{"http://user@169.254.169.254", false},
		{"http://", false},
	} {
		_, err := imds.ParseEndpoint(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseEndpoint(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

// TestFraming reads bodies framed every way a server may frame them, over
// kept-alive and closed connections, from many goroutines at once.
func TestFraming(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB: chunked by net/http
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/api/token" {
			w.Write([]byte("tok"))
			return
		}
		switch strings.TrimPrefix(r.URL.Path, "/latest/meta-data/") {
		case "chunked":
			for i := 0; i < len(big); i += 1000 {
				w.Write([]byte(big[i:min(i+1000, len(big))]))
				w.(http.Flusher).Flush()
			}
		case "close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("closing"))
		case "empty":
		default:
			w.Write([]byte("small"))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := imds.New(imds.Options{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	s, err := c.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"chunked": big, "close": "closing", "empty": "", "small": "small"}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		for path, body := range want {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if b, err := s.Get(ctx, path); err != nil || string(b) != body {
					t.Errorf("%s: %d bytes, %v; want %d bytes", path, len(b), err, len(body))
				}
			}()
		}
	}
	wg.Wait()
	// 40 "close" answers each end their connection; everything else reuses
	// the at most 4 open ones.
	if n := conns.Load(); n > 40+5 {
		t.Errorf("%d connections for 161 requests; want keep-alive", n)
	}
	if _, err := imds.New(imds.Options{Endpoint: srv.URL, MaxBody: 1000}); err != nil {
		t.Fatal(err)
	}
	c2, _ := imds.New(imds.Options{Endpoint: srv.URL, MaxBody: 1000})
	s2, err := c2.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Get(ctx, "chunked"); !errors.Is(err, imds.ErrTooLarge) {
		t.Errorf("oversized chunked body: err = %v, want ErrTooLarge", err)
	}
	if b, err := s2.Get(ctx, "small"); err != nil || string(b) != "small" {
		t.Errorf("after an oversized body: %q, %v", b, err)
	}
}

// TestStaleConnection: a kept-alive connection the server closed in the
// meantime costs a retry on a new one, not an error.
func TestStaleConnection(t *testing.T) {
	t.Parallel()
	srv := fake(t, map[string]string{"instance-id": "i-0123456789abcdef0"})
	c, err := imds.New(imds.Options{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	s, err := c.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
	if id, err := s.GetString(ctx, "instance-id"); err != nil || id != "i-0123456789abcdef0" {
		t.Errorf("after the server closed the idle connection: %q, %v", id, err)
	}
}

// TestBadResponses: answers that are not well-formed HTTP are errors, never
// bodies.
func TestBadResponses(t *testing.T) {
	t.Parallel()
	for _, resp := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded: header\r\nContent-Length: 0\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"garbage",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n",
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					bufio.NewReader(c).ReadString('\n')
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntok")
					c.Write([]byte(resp))
				}()
			}
		}()
		c, _ := imds.New(imds.Options{Endpoint: "http://" + ln.Addr().String(), RequestTimeout: time.Second})
		s, err := c.Session(context.Background())
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		if b, err := s.Get(context.Background(), "x"); err == nil {
			t.Errorf("response %q: body %q, want an error", resp, b)
		}
		c.Close()
		ln.Close()
	}
}
