package ssmsession

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/transport"
)

// ShellDocument is Session Manager's default session document: the
// instance's shell under a pty (a Standard_Stream session, no handshake).
const ShellDocument = "SSM-SessionManagerRunShell"

// Shell is an open SSM shell session.
type Shell struct {
	dc         *datachannel.Session
	SessionID  string
	InstanceID string
	api        transport.SessionAPI
	log        *slog.Logger
}

// OpenShell starts a shell session on the instance. Output may start at
// once: Standard_Stream sessions have no handshake (specs/ssm-protocol.md
// §5.4).
func OpenShell(ctx context.Context, api transport.SessionAPI, instanceID, reason string, log *slog.Logger) (*Shell, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var sess *awsapi.Session
	err := transport.Within(ctx, transport.DefaultAPITimeout, "SSM to start a shell session on "+instanceID, transport.CauseAPI, func(ctx context.Context) (err error) {
		sess, err = api.StartSession(ctx, instanceID, ShellDocument, nil, reason)
		return err
	})
	if err != nil {
		return nil, err
	}
	var dc *datachannel.Session
	err = transport.Within(ctx, transport.DefaultOpenTimeout, fmt.Sprintf("the data channel of session %s to open", sess.ID), transport.CauseDataChannel, func(ctx context.Context) (err error) {
		dc, err = transport.DialSession(ctx, api, sess, datachannel.Config{Keepalive: 30 * time.Second, Logger: log})
		return err
	})
	if err != nil {
		transport.Terminate(api, sess.ID)
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	sh := &Shell{dc: dc, SessionID: sess.ID, InstanceID: instanceID, api: api, log: log}
	// An agent only asks for a handshake in a shell session when the
	// account's session preferences demand KMS encryption: answer it, so
	// the agent ends the session with its reason instead of a timeout.
	go func() {
		if _, err := dc.ClientHandshake(context.Background()); err == nil {
			log.Debug("the agent ran a handshake for a shell session")
		}
	}()
	return sh, nil
}

// NewShell wraps an already open client data-channel session (tests).
func NewShell(dc *datachannel.Session, api transport.SessionAPI, sessionID, instanceID string) *Shell {
	return &Shell{dc: dc, SessionID: sessionID, InstanceID: instanceID, api: api, log: slog.New(slog.DiscardHandler)}
}

// Resize tells the agent the terminal's size (it resizes the remote pty).
func (s *Shell) Resize(cols, rows int) error {
	if cols <= 0 || rows <= 0 || cols > 0xffff || rows > 0xffff {
		return fmt.Errorf("terminal size %dx%d out of range", cols, rows)
	}
	b, _ := json.Marshal(struct {
		Cols int `json:"cols"`
		Rows int `json:"rows"`
	}{cols, rows})
	return s.dc.SendStream(datachannel.PayloadSize, b)
}

// eot is what a terminal sends for Ctrl-D: end of input for whatever reads
// the remote pty in canonical mode.
const eot = 0x04

// ShellResult is how a shell session ended.
type ShellResult struct {
	// ExitCode is the agent's reported exit code, if Reported.
	ExitCode int
	Reported bool
	// Message is the service's channel_closed output, if any.
	Message string
}

// Run copies stdin to the remote pty and its output to stdout until the
// session ends: the remote shell exited (channel_closed), the context was
// cancelled (the session is then terminated at once, without waiting for
// the agent), or the session failed. stdin failing with context.Canceled
// (the caller is ending the session) is not reported.
//
// When stdin ends (a pipe, not a terminal) the remote pty gets Ctrl-D —
// twice if the last line had no newline, as a terminal needs — so the
// remote shell sees the end of its input, and Run waits for it to exit.
func (s *Shell) Run(ctx context.Context, stdin io.Reader, stdout io.Writer) (ShellResult, error) {
	outDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(stdout, s.dc)
		outDone <- err
	}()
	go func() {
		last := byte('\n')
		buf := make([]byte, 32<<10)
		for {
			n, err := stdin.Read(buf)
			if n > 0 {
				last = buf[n-1]
				if _, werr := s.dc.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					end := []byte{eot}
					if last != '\n' && last != eot {
						end = append(end, eot)
					}
					_, _ = s.dc.Write(end)
				} else if !errors.Is(err, context.Canceled) {
					s.log.Warn("reading stdin failed; the remote shell gets no more input", "err", err)
				}
				return
			}
		}
	}()
	select {
	case err := <-outDone:
		res := ShellResult{}
		res.ExitCode, res.Reported = s.dc.ExitCode()
		if cc := s.dc.ChannelClosed(); cc != nil {
			res.Message = cc.Output
		}
		s.Shutdown()
		if err != nil {
			return res, fmt.Errorf("session %s: %w", s.SessionID, err)
		}
		return res, nil
	case <-ctx.Done():
		// Ended from here (~., a signal): the remote side may not answer
		// any more, so no waiting for acknowledgements.
		s.dc.Close()
		transport.Terminate(s.api, s.SessionID)
		return ShellResult{}, ctx.Err()
	}
}

// Shutdown ends the session: Flag TerminateSession once the agent has what
// was sent, then the TerminateSession API. After channel_closed the
// service has ended the session already: only the API call remains.
func (s *Shell) Shutdown() {
	if s.dc.ChannelClosed() != nil {
		s.dc.Close()
		transport.Terminate(s.api, s.SessionID)
		return
	}
	(&transport.Tunnel{Session: s.dc, SessionID: s.SessionID, InstanceID: s.InstanceID, API: s.api}).Shutdown(context.Background())
}
