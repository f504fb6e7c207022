// Package keyproto owns io.jitssh.Keys, the private Varlink interface
// between sshd's AuthorizedKeysCommand (jitssh-authkeys) and the long-lived
// root `jitssh-host userdb` service, which verifies keys with its cached
// signer state: the wire format, the defaults, and a client.
//
// The client runs once per SSH login, so it is built for a cheap process
// start: it imports only syscall-level packages (no net, no encoding/json,
// no fmt), sends one canonical request and accepts exactly one canonical
// reply layout, and trusts only a peer running as root (SO_PEERCRED).
//
// Interface (Varlink IDL):
//
//	interface io.jitssh.Keys
//	# The authorized_keys lines sshd may accept for user: every key passed
//	# every check, and each was recorded in the audit trail. "" means no
//	# key is published for user (or for fingerprint).
//	method Authorize(user: string, fingerprint: ?string) -> (authorizedKeys: string)
//	error Refused(reason: string, detail: string)
package keyproto

import (
	"errors"
	"strconv"
	"syscall"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Names of the interface.
const (
	Interface       = "io.jitssh.Keys"
	MethodAuthorize = Interface + ".Authorize"
	ErrRefused      = Interface + ".Refused"
	// ErrPermissionDenied answers a peer that is not root.
	ErrPermissionDenied = Interface + ".PermissionDenied"
)

// DefaultSocket is where the userdb service answers io.jitssh.Keys: a
// root-owned directory, the socket mode 0600, and only root peers served.
const DefaultSocket = "/run/jitssh/io.jitssh.Keys"

// MaxMessage bounds a reply, in bytes.
const MaxMessage = 1 << 20

// AuthorizeParams are the parameters of Authorize.
type AuthorizeParams struct {
	User        string `json:"user"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// AuthorizeReply is the reply of Authorize.
type AuthorizeReply struct {
	AuthorizedKeys string `json:"authorizedKeys"`
}

// RefusedParams are the parameters of the Refused error.
type RefusedParams struct {
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// ErrUnavailable wraps every failure that means "no service is answering
// here" (no socket, nobody listening, not allowed to connect), the only
// failures after which a caller may fall back to verifying by itself.
var ErrUnavailable = errors.New("key service unavailable")

// EncodeRequest returns the NUL-terminated Authorize call for user and
// fingerprint. It refuses strings that are not valid UTF-8.
func EncodeRequest(user, fingerprint string) ([]byte, error) {
	b := []byte(`{"method":"` + MethodAuthorize + `","parameters":{"user":`)
	var err error
	if b, err = appendString(b, user); err != nil {
		return nil, err
	}
	if fingerprint != "" {
		b = append(b, `,"fingerprint":`...)
		if b, err = appendString(b, fingerprint); err != nil {
			return nil, err
		}
	}
	return append(b, "}}\x00"...), nil
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"'), nil
}

// replyPrefix and replySuffix frame the only success reply accepted: what
// the service's encoding/json writes for AuthorizeReply.
const (
	replyPrefix = `{"parameters":{"authorizedKeys":`
	replySuffix = `}}`
	errorMarker = `,"error":"`
)

// Reply errors.
var (
	errBadReply = errors.New("malformed reply from the key service")
)

// RefusedError is an error reply from the service.
type RefusedError struct {
	// Name is the Varlink error name; Reply the whole reply, for a log line.
	Name, Reply string
}

func (e *RefusedError) Error() string { return "the key service refused: " + e.Reply }

// DecodeReply returns the authorized_keys text of a reply (without its NUL).
// It accepts exactly the layout the service writes; an error reply is a
// *RefusedError, and anything else is an error.
func DecodeReply(msg []byte) (string, error) {
	s := string(msg)
	if len(s) > len(replyPrefix)+len(replySuffix) && s[:len(replyPrefix)] == replyPrefix && s[len(s)-len(replySuffix):] == replySuffix {
		v, ok := unquote(s[len(replyPrefix) : len(s)-len(replySuffix)])
		if ok {
			return v, nil
		}
		return "", errBadReply
	}
	if i := indexOf(s, errorMarker); i > 0 && len(s) > 2 && s[0] == '{' && s[len(s)-2:] == `"}` {
		name, _ := unquote(s[i+len(errorMarker)-1 : len(s)-1])
		return "", &RefusedError{Name: name, Reply: printable(s, 512)}
	}
	return "", errBadReply
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// printable returns s with bytes outside printable ASCII as '?', cut to max.
func printable(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// unquote decodes a whole JSON string literal (quotes included), as
// encoding/json does, except that it refuses invalid UTF-8 and lone
// surrogates rather than replacing them.
func unquote(q string) (string, bool) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return "", false
	}
	q = q[1 : len(q)-1]
	if !utf8.ValidString(q) {
		return "", false
	}
	b := make([]byte, 0, len(q))
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '"' || c < 0x20:
			return "", false
		case c != '\\':
			b = append(b, c)
			continue
		}
		i++
		if i >= len(q) {
			return "", false
		}
		switch q[i] {
		case '"', '\\', '/':
			b = append(b, q[i])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(q, i+1)
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+2 >= len(q) || q[i+1] != '\\' || q[i+2] != 'u' {
					return "", false
				}
				r2, ok := hex4(q, i+3)
				if !ok {
					return "", false
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return "", false
				}
				i += 6
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", false
		}
	}
	return string(b), true
}

// hex4 parses four hex digits at q[i:].
func hex4(q string, i int) (rune, bool) {
	if i+4 > len(q) {
		return 0, false
	}
	v, err := strconv.ParseUint(q[i:i+4], 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

// Ask sends one Authorize call to the service at socket and returns the
// authorized_keys text. The whole exchange is bounded by timeout. Errors
// wrapping ErrUnavailable mean nothing answered; every other error (a
// peer not running as root, a refusal, a bad or late reply) must be
// treated as a refusal.
func Ask(socket, user, fingerprint string, timeout time.Duration) (string, error) {
	req, err := EncodeRequest(user, fingerprint)
	if err != nil {
		return "", errors.New("request: " + err.Error())
	}
	fd, err := dialRoot(socket, timeout)
	if err != nil {
		return "", err
	}
	defer syscall.Close(fd)
	deadline := time.Now().Add(timeout)
	for len(req) > 0 {
		n, err := syscall.Write(fd, req)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", errors.New("send: " + err.Error())
		}
		req = req[n:]
	}
	return readReply(fd, deadline, timeout)
}

// dialRoot connects to socket, with send and receive timeouts, and
// returns the descriptor if the peer runs as root.
func dialRoot(socket string, timeout time.Duration) (int, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, errors.New("socket: " + err.Error())
	}
	if err := connectRoot(fd, socket, timeout); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func connectRoot(fd int, socket string, timeout time.Duration) error {
	tv := syscall.NsecToTimeval(int64(timeout))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return errors.New("socket: " + err.Error())
	}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv); err != nil {
		return errors.New("socket: " + err.Error())
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: socket}); err != nil {
		switch err {
		case syscall.ENOENT, syscall.ECONNREFUSED, syscall.EACCES, syscall.ENOTDIR, syscall.EPERM:
			return &unavailableError{socket: socket, err: err}
		}
		return errors.New("connect " + socket + ": " + err.Error())
	}
	cred, err := syscall.GetsockoptUcred(fd, syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	if err != nil {
		return errors.New("peer credentials: " + err.Error())
	}
	if cred.Uid != 0 {
		return errors.New(socket + " is served by uid " + strconv.FormatUint(uint64(cred.Uid), 10) + ", not root: refusing to trust it")
	}
	return nil
}

// readReply reads one NUL-terminated reply by deadline (timeout is the
// whole exchange's, for messages) and decodes it.
func readReply(fd int, deadline time.Time, timeout time.Duration) (string, error) {
	buf := make([]byte, 0, 4096)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return "", errors.New("no reply from the key service within " + timeout.String())
		}
		// Each read waits at most for what is left of the whole exchange.
		tv := syscall.NsecToTimeval(int64(left))
		if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
			return "", errors.New("socket: " + err.Error())
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return "", errors.New("no reply from the key service within " + timeout.String())
		}
		if err != nil {
			return "", errors.New("read reply: " + err.Error())
		}
		if n == 0 {
			return "", errors.New("the key service closed the connection without a complete reply")
		}
		buf = buf[:len(buf)+n]
		for i := len(buf) - n; i < len(buf); i++ {
			if buf[i] == 0 {
				if i > MaxMessage {
					return "", errors.New("reply longer than " + strconv.Itoa(MaxMessage) + " bytes")
				}
				if i != len(buf)-1 {
					return "", errors.New("the key service sent more than one reply")
				}
				return DecodeReply(buf[:i])
			}
		}
		if len(buf) > MaxMessage {
			return "", errors.New("reply longer than " + strconv.Itoa(MaxMessage) + " bytes")
		}
	}
}

type unavailableError struct {
	socket string
	err    error
}

func (e *unavailableError) Error() string {
	return "connect " + e.socket + ": " + e.err.Error()
}

func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }
