// Package varlink is a small Varlink server and client over unix sockets,
// enough for systemd's io.systemd.UserDatabase: NUL-terminated JSON
// messages, one call answered at a time per connection, "more" calls
// answered with a stream of replies (all but the last flagged "continues"),
// "oneway" calls answered with nothing, and errors as
// {"error": NAME, "parameters": {...}}.
//
// It owns the wire format and connection handling only: message size and
// time limits, connection caps per peer (SO_PEERCRED uid) and in total, with
// root counted apart so that unprivileged peers cannot crowd it out, accept
// errors retried with back-off, and socket creation that never removes a
// live socket. What a method means is the Handler's business; it learns who
// is asking from PeerOf.
package varlink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// MaxMessage is the largest message read or written, in bytes.
const MaxMessage = 1 << 20

// Standard error names.
const (
	ErrMethodNotFound       = "org.varlink.service.MethodNotFound"
	ErrInvalidParameter     = "org.varlink.service.InvalidParameter"
	ErrMethodNotImplemented = "org.varlink.service.MethodNotImplemented"
)

// Call is one method call received.
type Call struct {
	Method     string          `json:"method"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	More       bool            `json:"more,omitempty"`
	Oneway     bool            `json:"oneway,omitempty"`
}

// Error is a Varlink error reply. A Handler returns it to answer with a
// named error; any other error is answered as
// org.varlink.service.MethodNotImplemented and logged.
type Error struct {
	Name       string
	Parameters any
}

func (e *Error) Error() string { return "varlink error " + e.Name }

// InvalidParameter returns the standard error for a bad parameter.
func InvalidParameter(name string) *Error {
	return &Error{Name: ErrInvalidParameter, Parameters: map[string]string{"parameter": name}}
}

// Replier sends replies to one call. For a call without More, Reply must be
// called exactly once with continues false; with More, any number of times
// with continues true and then once with false. A Handler that returns an
// *Error must not have sent a final reply.
type Replier interface {
	Reply(parameters any, continues bool) error
}

// Handler answers one call.
type Handler func(ctx context.Context, call Call, r Replier) error

// decodeCall parses one message.
func decodeCall(msg []byte) (Call, error) {
	var c Call
	dec := json.NewDecoder(bytes.NewReader(msg))
	if err := dec.Decode(&c); err != nil {
		return Call{}, fmt.Errorf("varlink: bad message: %w", err)
	}
	if dec.More() {
		return Call{}, errors.New("varlink: trailing data after the message")
	}
	if c.Method == "" {
		return Call{}, errors.New("varlink: message has no method")
	}
	if len(c.Parameters) > 0 && c.Parameters[0] != '{' && string(c.Parameters) != "null" {
		return Call{}, errors.New("varlink: parameters is not an object")
	}
	return c, nil
}

// readMessage reads one NUL-terminated message of at most max bytes.
func readMessage(r *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice(0)
		if len(buf)+len(chunk) > max+1 {
			return nil, fmt.Errorf("varlink: message longer than %d bytes", max)
		}
		buf = append(buf, chunk...)
		if err == nil {
			return buf[:len(buf)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

type reply struct {
	Parameters any    `json:"parameters"`
	Continues  bool   `json:"continues,omitempty"`
	Error      string `json:"error,omitempty"`
}

func encodeReply(r reply) ([]byte, error) {
	if r.Parameters == nil {
		r.Parameters = struct{}{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("varlink: reply longer than %d bytes", MaxMessage)
	}
	return append(b, 0), nil
}

// Server serves Varlink calls on a listener.
type Server struct {
	// Handler answers calls.
	Handler Handler
	// IdleTimeout closes a connection with no message started for this
	// long; zero means 30 s.
	IdleTimeout time.Duration
	// MaxRequest is the largest message read, in bytes; zero means
	// MaxMessage. A longer message closes the connection.
	MaxRequest int
	// MessageTimeout is how long the rest of a message may take once its
	// first byte has arrived; zero means 5 s. A late message closes the
	// connection.
	MessageTimeout time.Duration
	// MaxConns bounds the connections open at once from peers other than
	// root, all together; MaxConnsPerPeer those from one such uid;
	// MaxRootConns those from root. Zero means no limit. A connection over
	// a limit is closed as soon as it is accepted, without a reply.
	MaxConns, MaxConnsPerPeer, MaxRootConns int
	// HoldOver, when set, holds a connection from a peer other than root
	// that is over a limit open, unread and unanswered, for this long
	// before closing it, so that a peer looping on connect waits instead
	// of spinning (each refused connection costs the server an accept and
	// a close, and the loop's CPU competes with sshd's logins). At most
	// MaxHeld are held at once; beyond that they are closed at once.
	// Root's connections are never held.
	HoldOver time.Duration
	MaxHeld  int
	// Log receives connection errors; nil means slog.Default().
	Log *slog.Logger

	mu      sync.Mutex
	open    map[uint32]int // by peer uid
	others  int            // connections from peers other than root
	dropped int            // connections closed over a limit since the last log line
	dropLog time.Time
	held    []heldConn // over a limit, closed at their time (FIFO: one HoldOver for all)
	wake    chan struct{}
}

// heldConn is a connection over a limit waiting to be closed.
type heldConn struct {
	c     net.Conn
	until time.Time
}

// Peer is the process at the other end of a connection, as the kernel
// reported it when the connection was accepted (SO_PEERCRED).
type Peer struct {
	UID, GID uint32
	PID      int32
}

type peerKey struct{}

// PeerOf returns the peer of the connection a call came on. Every call a
// Server hands to its Handler has one.
func PeerOf(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// WithPeer returns ctx carrying p, for callers that answer calls in
// process (and for tests).
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// Accept back-off after a temporary error (EMFILE and the like): doubled
// each time from minBackoff up to maxBackoff, as net/http does.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// Serve accepts connections until ctx is done or ln fails for good, and
// closes ln either way (a unix listener from Listen removes its socket, so
// clients see that nobody serves it and can fall back). Temporary accept
// errors (out of file descriptors or memory, aborted connections) are
// retried with back-off, never returned. It returns nil when stopped by
// ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		ln.Close() // first, so that no client connects to a server that stopped
		cancel()   // then end the open connections
		wg.Wait()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	if s.HoldOver > 0 && s.MaxHeld > 0 {
		s.mu.Lock()
		s.wake = make(chan struct{}, 1)
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.closeHeld(ctx)
		}()
	}
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !temporary(err) {
				return fmt.Errorf("varlink: accept: %w", err)
			}
			if backoff == 0 {
				backoff = minBackoff
				s.log().Warn("varlink: accept failed; retrying with back-off", "err", err)
			} else if backoff = 2 * backoff; backoff > maxBackoff {
				backoff = maxBackoff
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		backoff = 0
		peer, err := peerOf(c)
		if err != nil {
			s.log().Warn("varlink: no peer credentials; connection closed", "err", err)
			c.Close()
			continue
		}
		if !s.admit(peer.UID) {
			if peer.UID == 0 || !s.hold(c) {
				c.Close()
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.release(peer.UID)
			s.serveConn(context.WithValue(ctx, peerKey{}, peer), c)
		}()
	}
}

// hold keeps c, a connection over a limit, open until HoldOver has passed,
// or reports that it cannot (holding is off, or MaxHeld are held).
func (s *Server) hold(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake == nil || len(s.held) >= s.MaxHeld {
		return false
	}
	s.held = append(s.held, heldConn{c, time.Now().Add(s.HoldOver)})
	if len(s.held) == 1 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// closeHeld closes held connections as their time comes, and every one
// still held when ctx is done.
func (s *Server) closeHeld(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		n := 0
		for n < len(s.held) && !s.held[n].until.After(now) {
			s.held[n].c.Close()
			n++
		}
		s.held = s.held[n:]
		next := time.Hour
		if len(s.held) > 0 {
			next = s.held[0].until.Sub(now)
		}
		s.mu.Unlock()
		t.Reset(next)
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for _, h := range s.held {
				h.c.Close()
			}
			s.held = nil
			s.mu.Unlock()
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// temporary reports whether an accept error may go away by itself.
func temporary(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// admit counts a new connection from uid, or refuses it over a limit.
func (s *Server) admit(uid uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open == nil {
		s.open = map[uint32]int{}
	}
	over := false
	if uid == 0 {
		over = s.MaxRootConns > 0 && s.open[0] >= s.MaxRootConns
	} else {
		over = (s.MaxConns > 0 && s.others >= s.MaxConns) || (s.MaxConnsPerPeer > 0 && s.open[uid] >= s.MaxConnsPerPeer)
	}
	if over {
		s.dropped++
		if now := time.Now(); now.Sub(s.dropLog) >= 10*time.Second {
			s.log().Warn("varlink: connection limit reached; closing new connections", "uid", uid,
				"closed", s.dropped, "open_from_uid", s.open[uid], "open_not_root", s.others)
			s.dropped, s.dropLog = 0, now
		}
		return false
	}
	s.open[uid]++
	if uid != 0 {
		s.others++
	}
	return true
}

func (s *Server) release(uid uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[uid]--; s.open[uid] <= 0 {
		delete(s.open, uid)
	}
	if uid != 0 {
		s.others--
	}
}

// peerOf returns the credentials of a unix connection's peer.
func peerOf(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("not a unix connection (%T)", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return Peer{}, err
	}
	if cerr != nil {
		return Peer{}, cerr
	}
	return Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, nil
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

type connReplier struct {
	c     net.Conn
	more  bool
	final bool
	sent  int
}

func (r *connReplier) Reply(parameters any, continues bool) error {
	if r.final {
		return errors.New("varlink: reply after the final reply")
	}
	if continues && !r.more {
		return errors.New("varlink: continues in reply to a call without more")
	}
	b, err := encodeReply(reply{Parameters: parameters, Continues: continues})
	if err != nil {
		return err
	}
	r.final = !continues
	r.sent++
	_ = r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err = r.c.Write(b)
	return err
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	idle := s.IdleTimeout
	if idle <= 0 {
		idle = 30 * time.Second
	}
	msgTimeout := s.MessageTimeout
	if msgTimeout <= 0 {
		msgTimeout = 5 * time.Second
	}
	max := s.MaxRequest
	if max <= 0 {
		max = MaxMessage
	}
	br := bufio.NewReaderSize(c, min(max+1, 4096))
	for {
		_ = c.SetReadDeadline(time.Now().Add(idle))
		if _, err := br.Peek(1); err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				s.log().Debug("varlink: read", "err", err)
			}
			return
		}
		// A message, once started, must arrive whole and soon.
		_ = c.SetReadDeadline(time.Now().Add(msgTimeout))
		msg, err := readMessage(br, max)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				s.log().Debug("varlink: read", "err", err)
			}
			return
		}
		call, err := decodeCall(msg)
		if err != nil {
			s.log().Info("varlink: refusing connection", "err", err)
			return
		}
		var w io.Writer = c
		if call.Oneway {
			w = io.Discard
		}
		r := &connReplier{c: writerConn{Conn: c, w: w}, more: call.More}
		herr := s.Handler(ctx, call, r)
		if herr == nil && !r.final {
			herr = errors.New("handler sent no final reply")
		}
		if herr != nil {
			if r.final {
				s.log().Error("varlink: handler failed after its final reply", "method", call.Method, "err", herr)
				return
			}
			var ve *Error
			if !errors.As(herr, &ve) {
				s.log().Error("varlink: handler failed", "method", call.Method, "err", herr)
				ve = &Error{Name: ErrMethodNotImplemented, Parameters: map[string]string{"method": call.Method}}
			}
			b, err := encodeReply(reply{Parameters: ve.Parameters, Error: ve.Name})
			if err != nil {
				return
			}
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := w.Write(b); err != nil {
				return
			}
		}
	}
}

// writerConn sends writes to w (io.Discard for oneway calls).
type writerConn struct {
	net.Conn
	w io.Writer
}

func (c writerConn) Write(b []byte) (int, error) { return c.w.Write(b) }

// Listen creates a unix socket at path with the given mode. An existing
// socket is replaced only when nothing answers on it (a stale socket left by
// a crash); a live socket or any other kind of file is an error.
func Listen(path string, mode os.FileMode) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("varlink: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("varlink: %s is in use by another process", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("varlink: remove stale socket: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("varlink: %w", err)
	}
	old := syscall.Umask(0o077)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("varlink: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("varlink: %w", err)
	}
	return ln, nil
}

// ReplyError is an error reply received by Call.
type ReplyError struct {
	Name       string
	Parameters json.RawMessage
}

func (e *ReplyError) Error() string { return "varlink: " + e.Name }

// Invoke sends one call to the socket at path and returns the parameters
// of every reply (one unless more). An error reply is a *ReplyError.
func Invoke(ctx context.Context, path, method string, parameters any, more bool) ([]json.RawMessage, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("varlink: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	p, err := json.Marshal(parameters)
	if err != nil {
		return nil, err
	}
	msg, err := json.Marshal(Call{Method: method, Parameters: p, More: more})
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(append(msg, 0)); err != nil {
		return nil, fmt.Errorf("varlink: %w", err)
	}
	br := bufio.NewReader(c)
	var out []json.RawMessage
	for {
		b, err := readMessage(br, MaxMessage)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("varlink: read reply: %w", err)
		}
		var r struct {
			Parameters json.RawMessage `json:"parameters"`
			Continues  bool            `json:"continues"`
			Error      string          `json:"error"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("varlink: bad reply: %w", err)
		}
		if r.Error != "" {
			return out, &ReplyError{Name: r.Error, Parameters: r.Parameters}
		}
		out = append(out, r.Parameters)
		if !r.Continues {
			return out, nil
		}
		if !more {
			return nil, errors.New("varlink: continues in reply to a call without more")
		}
	}
}
