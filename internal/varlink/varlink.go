// Package varlink is a small Varlink server and client over unix sockets,
// enough for systemd's io.systemd.UserDatabase: NUL-terminated JSON
// messages, one call answered at a time per connection, "more" calls
// answered with a stream of replies (all but the last flagged "continues"),
// "oneway" calls answered with nothing, and errors as
// {"error": NAME, "parameters": {...}}.
//
// It owns the wire format and connection handling only (message size and
// idle limits, socket creation that never removes a live socket). What a
// method means is the Handler's business.
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

// readMessage reads one NUL-terminated message of at most MaxMessage bytes.
func readMessage(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice(0)
		buf = append(buf, chunk...)
		if len(buf) > MaxMessage+1 {
			return nil, fmt.Errorf("varlink: message longer than %d bytes", MaxMessage)
		}
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
	// IdleTimeout closes a connection with no complete message for this
	// long; zero means 30 s.
	IdleTimeout time.Duration
	// Log receives connection errors; nil means slog.Default().
	Log *slog.Logger
}

// Serve accepts connections until ctx is done or ln fails, and closes ln.
// It returns nil when stopped by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("varlink: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, c)
		}()
	}
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
	br := bufio.NewReaderSize(c, 4096)
	for {
		_ = c.SetReadDeadline(time.Now().Add(idle))
		msg, err := readMessage(br)
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
		b, err := readMessage(br)
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
