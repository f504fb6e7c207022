// Package imds is a small IMDSv2 client for the instance side: a token PUT,
// then GETs of metadata paths with a strict per-request timeout and a body
// size limit.
//
// It deliberately uses net/http rather than the AWS SDK's
// feature/ec2/imds client. The AuthorizedKeysCommand is started by sshd for
// every public-key attempt, so it must start in milliseconds and stay small:
// the SDK client pulls in smithy middleware stacks, retryers with backoff,
// and endpoint and config resolution from the environment and shared config
// files, none of which apply on the instance (sshd gives the command an
// empty environment) and all of which cost start-up time and make timing
// less predictable. The SDK's retries would also blow the deadline budget:
// here a request either answers within its timeout or fails, and the caller
// fails closed. This package never reads environment variables and never
// uses an HTTP proxy.
package imds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the IMDS address on EC2.
const DefaultEndpoint = "http://169.254.169.254"

// Defaults for Options.
const (
	DefaultRequestTimeout = time.Second
	DefaultMaxBody        = 1 << 20
	DefaultTokenTTL       = 5 * time.Second
)

// ErrNotFound is returned (wrapped in a *StatusError) for a 404.
var ErrNotFound = errors.New("imds: not found")

// ErrTooLarge is wrapped by the error returned for a body over MaxBody.
var ErrTooLarge = errors.New("imds: response body too large")

// StatusError is returned for a non-200 answer.
type StatusError struct {
	Method string
	Path   string
	Code   int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("imds: %s %s: HTTP %d", e.Method, e.Path, e.Code)
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.Code == http.StatusNotFound
}

// Options configure a Client. The zero value talks to DefaultEndpoint.
type Options struct {
	// Endpoint is the IMDS base URL (scheme and host, no path); "" means
	// DefaultEndpoint.
	Endpoint string
	// RequestTimeout bounds each request, from dial to the last body byte;
	// zero means DefaultRequestTimeout (1 s, as AWS's `curl -m 1`).
	RequestTimeout time.Duration
	// MaxBody is the largest response body accepted, in bytes; zero means
	// DefaultMaxBody (1 MiB).
	MaxBody int64
	// TokenTTL is the lifetime requested for the session token, rounded up
	// to whole seconds; zero means DefaultTokenTTL (5 s).
	TokenTTL time.Duration
	// HTTPClient is used for every request; nil means a private client that
	// uses no proxy and keeps a few idle connections for reuse.
	HTTPClient *http.Client
}

// Client talks to one IMDS. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	opts    Options
	hc      *http.Client
	own     bool // hc was made by New; Close may release it
	ttlSecs string
}

// New returns a client for o.Endpoint. It fails if the endpoint is not an
// http or https URL without path, query or user info.
func New(o Options) (*Client, error) {
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	base, err := ParseEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	secs := int((o.TokenTTL + time.Second - 1) / time.Second)
	if secs > 21600 {
		secs = 21600
	}
	hc, own := o.HTTPClient, o.HTTPClient == nil
	if own {
		hc = &http.Client{
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: o.RequestTimeout}).DialContext,
				MaxIdleConnsPerHost: 8,
				IdleConnTimeout:     10 * time.Second,
				DisableCompression:  true,
			},
			// IMDS never redirects; following one could leave the link-local
			// address.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Client{base: base, opts: o, hc: hc, own: own, ttlSecs: strconv.Itoa(secs)}, nil
}

// Close releases the idle connections of the client's own HTTP client, so
// that a long-running process that makes a Client per call leaks nothing.
// It leaves a caller-supplied Options.HTTPClient alone.
func (c *Client) Close() {
	if c.own {
		c.hc.CloseIdleConnections()
	}
}

// ParseEndpoint validates an IMDS base URL: http or https, a host, and no
// path (other than "/"), query, fragment or user info.
func ParseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("imds: endpoint %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
		return nil, fmt.Errorf("imds: endpoint %q must look like http://169.254.169.254", s)
	}
	u.Path = ""
	return u, nil
}

// Session is an IMDSv2 token bound to a client.
type Session struct {
	c     *Client
	token string
}

// Session fetches a token (PUT /latest/api/token).
func (c *Client) Session(ctx context.Context) (*Session, error) {
	body, err := c.do(ctx, http.MethodPut, "/latest/api/token", map[string]string{
		"X-aws-ec2-metadata-token-ttl-seconds": c.ttlSecs,
	})
	if err != nil {
		return nil, fmt.Errorf("imds: get token: %w", err)
	}
	tok := strings.TrimSpace(string(body))
	if tok == "" || strings.ContainsFunc(tok, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return nil, errors.New("imds: get token: empty or invalid token")
	}
	return &Session{c: c, token: tok}, nil
}

// Get returns the body of a metadata path relative to /latest/meta-data/,
// e.g. "instance-id" or "managed-ssh-keys/active-keys/alice/". The caller
// must have validated any part of path that came from outside.
func (s *Session) Get(ctx context.Context, path string) ([]byte, error) {
	return s.c.do(ctx, http.MethodGet, "/latest/meta-data/"+strings.TrimPrefix(path, "/"), map[string]string{
		"X-aws-ec2-metadata-token": s.token,
	})
}

// GetString is Get with the body as a string, surrounding blanks trimmed.
func (s *Session) GetString(ctx context.Context, path string) (string, error) {
	b, err := s.Get(ctx, path)
	return strings.TrimSpace(string(b)), err
}

func (c *Client) do(ctx context.Context, method, path string, hdr map[string]string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	u := *c.base
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("imds: %s %s: %w", method, path, err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "jitssh-host")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("imds: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, &StatusError{Method: method, Path: path, Code: resp.StatusCode}
	}
	if resp.ContentLength > c.opts.MaxBody {
		return nil, fmt.Errorf("%w: %s %s: %d bytes, limit %d", ErrTooLarge, method, path, resp.ContentLength, c.opts.MaxBody)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("imds: %s %s: read body: %w", method, path, err)
	}
	if int64(len(body)) > c.opts.MaxBody {
		return nil, fmt.Errorf("%w: %s %s: over %d bytes", ErrTooLarge, method, path, c.opts.MaxBody)
	}
	return body, nil
}
