// Package imds is a small IMDSv2 client for the instance side: a token PUT,
// then GETs of metadata paths with a strict per-request timeout and a body
// size limit.
//
// It deliberately uses neither the AWS SDK's feature/ec2/imds client nor
// net/http. The AuthorizedKeysCommand is started by sshd for every
// public-key attempt, so it must start in milliseconds: the SDK client pulls
// in middleware stacks, retryers with backoff, and configuration from the
// environment and shared files, none of which apply on the instance (sshd
// gives the command an empty environment), and its retries would blow the
// deadline budget. net/http alone (with crypto/tls, HTTP/2 and their
// package initialisation) cost about 5 ms of CPU per run on a 2-vCPU VM,
// a fifth of the whole command (docs/benchmarks.md). IMDS speaks plain
// HTTP/1.1 on a link-local address, so this package writes requests and
// reads responses itself (status line, headers, Content-Length or chunked
// bodies; see readResponse), over a few keep-alive connections. It never
// reads environment variables, never uses a proxy and never follows a
// redirect.
package imds

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
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
	return target == ErrNotFound && e.Code == 404
}

// Options configure a Client. The zero value talks to DefaultEndpoint.
type Options struct {
	// Endpoint is the IMDS base URL (http, host, optional port, no path);
	// "" means DefaultEndpoint.
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
}

// maxConns bounds the connections a Client has open at once; requests
// beyond it wait for one to come back.
const maxConns = 4

// Client talks to one IMDS. It is safe for concurrent use.
type Client struct {
	addr    string // host:port to dial
	host    string // Host header
	opts    Options
	ttlSecs string
	slots   chan struct{} // one per connection open, in use or idle
	idle    chan *conn    // kept-alive connections, at most maxConns

	mu       sync.Mutex
	cached   *Session // CachedSession's token
	cachedAt time.Time
}

// conn is one keep-alive connection.
type conn struct {
	nc net.Conn
	br *bufio.Reader
}

// New returns a client for o.Endpoint. It fails if the endpoint is not an
// http URL without path, query or user info.
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
	addr := base.Host
	if base.Port() == "" {
		addr = net.JoinHostPort(base.Hostname(), "80")
	}
	return &Client{addr: addr, host: base.Host, opts: o, ttlSecs: strconv.Itoa(secs), slots: make(chan struct{}, maxConns), idle: make(chan *conn, maxConns)}, nil
}

// Close closes the client's idle connections, so that a long-running
// process that makes a Client per call leaks nothing. A nil Client is fine.
func (c *Client) Close() {
	if c == nil {
		return
	}
	for {
		select {
		case cn := <-c.idle:
			cn.nc.Close()
			<-c.slots
		default:
			return
		}
	}
}

// ParseEndpoint validates an IMDS base URL: http, a host, and no path
// (other than "/"), query, fragment or user info. IMDS is plain HTTP on a
// link-local address; https is refused.
func ParseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("imds: endpoint %q: %w", s, err)
	}
	if u.Scheme != "http" || u.Host == "" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
		return nil, fmt.Errorf("imds: endpoint %q must look like http://169.254.169.254 (plain http, a host and optional port, nothing else)", s)
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
	body, err := c.do(ctx, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", c.ttlSecs)
	if err != nil {
		return nil, fmt.Errorf("imds: get token: %w", err)
	}
	tok := strings.TrimSpace(string(body))
	if tok == "" || !printable(tok) {
		return nil, errors.New("imds: get token: empty or invalid token")
	}
	return &Session{c: c, token: tok}, nil
}

// CachedSession returns a session whose token is shared by every caller
// for at most maxAge (which must be well under Options.TokenTTL), and
// whether it came from the cache. A long-lived process (the userdb
// service) saves a round trip per call this way; a caller that gets a 401
// with a cached session should Forget it and try once with a fresh one.
func (c *Client) CachedSession(ctx context.Context, maxAge time.Duration) (*Session, bool, error) {
	c.mu.Lock()
	if c.cached != nil && time.Since(c.cachedAt) < maxAge {
		s := c.cached
		c.mu.Unlock()
		return s, true, nil
	}
	c.mu.Unlock()
	at := time.Now()
	s, err := c.Session(ctx)
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	c.cached, c.cachedAt = s, at
	c.mu.Unlock()
	return s, false, nil
}

// Forget drops s from CachedSession's cache, if it is still there.
func (c *Client) Forget(s *Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached == s {
		c.cached = nil
	}
}

// Get returns the body of a metadata path relative to /latest/meta-data/,
// e.g. "instance-id" or "managed-ssh-keys/active-keys/alice/". The caller
// must have validated any part of path that came from outside.
func (s *Session) Get(ctx context.Context, path string) ([]byte, error) {
	return s.c.do(ctx, "GET", "/latest/meta-data/"+strings.TrimPrefix(path, "/"), "X-aws-ec2-metadata-token", s.token)
}

// GetString is Get with the body as a string, surrounding blanks trimmed.
func (s *Session) GetString(ctx context.Context, path string) (string, error) {
	b, err := s.Get(ctx, path)
	return strings.TrimSpace(string(b)), err
}

// printable reports whether s is non-empty visible ASCII (no space, no
// control character), safe in a request line or header value.
func printable(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e })
}

// get returns an idle connection (reused) or dials a new one, waiting for
// a slot.
func (c *Client) get(ctx context.Context, fresh bool) (cn *conn, reused bool, err error) {
	idle := c.idle
	if fresh {
		idle = nil // never ready
	} else {
		select {
		case cn := <-idle:
			return cn, true, nil
		default:
		}
	}
	select {
	case cn := <-idle:
		return cn, true, nil
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	d := net.Dialer{Timeout: c.opts.RequestTimeout}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		<-c.slots
		return nil, false, err
	}
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, 4096)}, false, nil
}

// put returns a connection to the idle list, or closes it.
func (c *Client) put(cn *conn, reuse bool) {
	if reuse {
		if err := cn.nc.SetDeadline(time.Time{}); err == nil {
			c.idle <- cn // never blocks: at most maxConns connections exist
			return
		}
	}
	cn.nc.Close()
	<-c.slots
}

func (c *Client) do(ctx context.Context, method, path, hdrName, hdrValue string) ([]byte, error) {
	if !printable(path) || !printable(hdrValue) {
		return nil, fmt.Errorf("imds: %s %q: invalid characters in the request", method, path)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	var (
		status int
		body   []byte
		err    error
	)
	// A kept-alive connection the server has since closed fails at once;
	// the request (idempotent: a token PUT or a GET) then gets one fresh
	// connection.
	for fresh := false; ; fresh = true {
		var (
			cn     *conn
			reused bool
		)
		cn, reused, err = c.get(ctx, fresh)
		if err != nil {
			break
		}
		deadline, _ := ctx.Deadline()
		cn.nc.SetDeadline(deadline)
		// Cancellation (a caller's deadline or signal) interrupts I/O at once.
		stop := context.AfterFunc(ctx, func() { cn.nc.SetDeadline(time.Unix(1, 0)) })
		var keep bool
		status, body, keep, err = c.roundTrip(cn, method, path, hdrName, hdrValue)
		if !stop() {
			keep = false // the deadline may have been cut short
		}
		c.put(cn, keep && err == nil)
		if err == nil || !reused || !errors.Is(err, errNoAnswer) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w (%w)", cerr, err)
		} else if deadline, _ := ctx.Deadline(); !time.Now().Before(deadline) {
			err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		}
		return nil, fmt.Errorf("imds: %s %s: %w", method, path, err)
	}
	if status != 200 {
		return nil, &StatusError{Method: method, Path: path, Code: status}
	}
	return body, nil
}

func (c *Client) roundTrip(cn *conn, method, path, hdrName, hdrValue string) (int, []byte, bool, error) {
	req := method + " " + path + " HTTP/1.1\r\nHost: " + c.host + "\r\nUser-Agent: jitssh-host\r\nAccept: */*\r\n" +
		hdrName + ": " + hdrValue + "\r\n\r\n"
	if _, err := cn.nc.Write([]byte(req)); err != nil {
		return 0, nil, false, fmt.Errorf("%w: %w", errNoAnswer, err)
	}
	if _, err := cn.br.Peek(1); err != nil {
		return 0, nil, false, fmt.Errorf("%w: %w", errNoAnswer, err)
	}
	return readResponse(cn.br, c.opts.MaxBody)
}

// errNoAnswer: the request could not be sent or not a byte came back.
var errNoAnswer = errors.New("no answer")
