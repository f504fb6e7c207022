// Package keyservice answers io.jitssh.Keys (see internal/host/keyproto)
// inside the long-lived root `jitssh-host userdb` service, so that sshd's
// per-login AuthorizedKeysCommand (jitssh-authkeys) makes one local call
// instead of starting the whole verification in a new process.
//
// Every call does what `jitssh-host authorized-keys` does, through
// authkeys.Authorize: a fresh IMDSv2 token, the user's keys, the signer
// chain, and every per-key check (signature, instance, expiry,
// fingerprint) and one audit event per key served or refused. The only
// thing remembered between calls is the verified signer chain and its OCSP
// state (authkeys.SignerCache, bounded lifetime); key decisions never are.
//
// Only root may ask (RootOnly checks SO_PEERCRED): sshd runs the command
// as AuthorizedKeysCommandUser root.
package keyservice

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/keyproto"
	"github.com/jitssh/jitssh/internal/varlink"
)

// Service answers io.jitssh.Keys.Authorize.
type Service struct {
	// Config is what each call verifies with; set Signers to cache the
	// verified signer chain and Audit to record every key served.
	Config authkeys.Config
	// Log receives one line per refusal; nil means slog.Default().
	Log *slog.Logger
	// Served, when set, is told of the keys served for a user before the
	// reply goes out, so before sshd can accept one of them
	// (jituser.Manager.NoteLogin: a login's supplementary groups come from
	// its key's IAM caller).
	Served func(user string, keys []authkeys.Accepted)
}

// Handler returns the Varlink handler.
func (s *Service) Handler() varlink.Handler { return s.handle }

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Service) handle(ctx context.Context, c varlink.Call, r varlink.Replier) error {
	if c.Method != keyproto.MethodAuthorize {
		return &varlink.Error{Name: varlink.ErrMethodNotFound, Parameters: map[string]string{"method": c.Method}}
	}
	if c.More {
		return &varlink.Error{Name: varlink.ErrInvalidParameter, Parameters: map[string]string{"parameter": "more"}}
	}
	var p keyproto.AuthorizeParams
	dec := json.NewDecoder(strings.NewReader(string(c.Parameters)))
	dec.DisallowUnknownFields()
	if len(c.Parameters) == 0 || dec.Decode(&p) != nil || dec.More() {
		return varlink.InvalidParameter("user")
	}
	keys, err := authkeys.Authorize(ctx, s.Config, p.User, p.Fingerprint)
	if err != nil {
		s.log().Info("keys: refused", "user", p.User, "reason", authkeys.ReasonOf(err), "err", err)
		return &varlink.Error{Name: keyproto.ErrRefused, Parameters: keyproto.RefusedParams{
			Reason: string(authkeys.ReasonOf(err)), Detail: err.Error(),
		}}
	}
	if s.Served != nil && len(keys) > 0 {
		s.Served(p.User, keys)
	}
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.KeyLine)
		b.WriteByte('\n')
	}
	return r.Reply(keyproto.AuthorizeReply{AuthorizedKeys: b.String()}, false)
}

// RootOnly wraps a unix listener so that connections from peers not
// running as root are closed at once (on top of the socket's mode 0600).
func RootOnly(ln net.Listener, log *slog.Logger) net.Listener {
	if log == nil {
		log = slog.Default()
	}
	return &rootOnly{Listener: ln, log: log}
}

type rootOnly struct {
	net.Listener
	log *slog.Logger
}

func (l *rootOnly) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && uid == 0 {
			return c, nil
		}
		l.log.Warn("keys: connection from a peer that is not root closed", "uid", uid, "err", err)
		c.Close()
	}
}

// peerUID returns the uid of a unix connection's peer.
func peerUID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, syscall.EINVAL
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	return cred.Uid, nil
}
