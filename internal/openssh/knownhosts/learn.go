package knownhosts

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/crypto/ssh"
)

// learnHostKeyAlgorithms is the order in which Learn asks for host key
// types: ed25519, then ECDSA, then RSA with SHA-2. The server uses the
// first one it has.
var learnHostKeyAlgorithms = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// DefaultLearnTimeout bounds Learn when ctx has no deadline of its own.
const DefaultLearnTimeout = 30 * time.Second

var errCaptured = errors.New("host key captured; handshake stopped on purpose")

// Learn runs the client side of an SSH handshake over conn just far enough
// to receive the server's host key, and then aborts it; no authentication
// is attempted, and user only fills the protocol field. The key is
// returned only after the server has proved it holds the private half
// (x/crypto/ssh checks the key-exchange signature before handing the key
// over).
//
// conn must already be trusted end to end (an SSM or EICE tunnel
// authenticated by AWS): Learn cannot tell a genuine server from a man in
// the middle. Learn always closes conn, and gives up when ctx ends (after
// DefaultLearnTimeout if ctx has no deadline). It returns one key, of the first
// type the server supports in the order ed25519, ECDSA, RSA (rsa-sha2-512,
// then rsa-sha2-256).
func Learn(ctx context.Context, conn net.Conn, user string) ([]ssh.PublicKey, error) {
	defer conn.Close()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("learn host key: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultLearnTimeout)
		defer cancel()
	}
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() {
		_ = conn.SetDeadline(time.Now())
		_ = conn.Close()
	})
	defer stop()

	var got ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User:              user,
		HostKeyAlgorithms: learnHostKeyAlgorithms,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			got = key
			return errCaptured
		},
	}
	c, _, _, err := ssh.NewClientConn(conn, "jitssh-learn", cfg)
	if c != nil {
		// Unreachable with the callback above, but never leave a session.
		c.Close()
	}
	if got != nil {
		return []ssh.PublicKey{got}, nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// conn's deadline is ctx's deadline; let ctx catch up so the
		// caller sees context.DeadlineExceeded.
		<-ctx.Done()
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("learn host key: %w", ctxErr)
	}
	if err == nil {
		err = errors.New("server completed a handshake without presenting a host key")
	}
	return nil, fmt.Errorf("learn host key: %w", err)
}
