package imds_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
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
		{"https://imds.example", true},
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
