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
// instance's shell under a pty (a Standard_Stream session, no handshake
// unless KMS-encrypted).
const ShellDocument = "SSM-SessionManagerRunShell"

// Shell is an open SSM shell session.
type Shell struct {
	dc         *datachannel.Session
	SessionID  string
	InstanceID string
	api        transport.SessionAPI
	log        *slog.Logger
	started    time.Time
}

// OpenShell starts a shell session on the instance and waits for its
// start (awaitStart): Standard_Stream sessions have no handshake
// (specs/ssm-protocol.md §5.4) unless the account's Session Manager
// preferences encrypt them with KMS, when api must also be a DataKeyAPI.
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
	sh := &Shell{dc: dc, SessionID: sess.ID, InstanceID: instanceID, api: api, log: log, started: time.Now()}
	if err := sh.awaitStart(ctx, dataKeyFunc(api, sess.ID, instanceID)); err != nil {
		sh.dc.Close()
		transport.Terminate(api, sess.ID)
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	return sh, nil
}

// DataKeyAPI is what an encrypted shell session asks of AWS: a KMS data
// key (awsapi.Client.GenerateDataKey). OpenShell uses it when its api
// has it.
type DataKeyAPI interface {
	GenerateDataKey(ctx context.Context, keyID string, n int, encCtx map[string]string) (plaintext, blob []byte, err error)
}

// dataKeyFunc returns the handshake's KMS step for session id on target,
// or nil when api cannot call KMS.
func dataKeyFunc(api transport.SessionAPI, id, target string) datachannel.DataKeyFunc {
	k, ok := api.(DataKeyAPI)
	if !ok {
		return nil
	}
	return func(ctx context.Context, keyID string) ([]byte, []byte, error) {
		return k.GenerateDataKey(ctx, keyID, datachannel.DataKeyBytes, datachannel.EncryptionContext(id, target))
	}
}

// startPoll is how often awaitStart looks for the shell's first output.
const startPoll = 5 * time.Millisecond

// awaitStart waits for what a shell session starts with, as AWS's plugin
// does ("the session type is set either by handshake or the first packet
// received") before it sends any input: output (no handshake), or the
// agent's handshake, which it answers — with a KMS data key when the
// account's preferences encrypt sessions (then nothing is sent before the
// stream is encrypted). A failed KMS step is returned (*KMSError); any
// other handshake failure ends the session with the agent's reason, which
// Run reports. With neither within the open timeout, input is let through.
func (s *Shell) awaitStart(ctx context.Context, dataKey datachannel.DataKeyFunc) error {
	started := make(chan struct{})
	done := make(chan error, 1)
	hctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		res, err := s.dc.ClientHandshakeWith(hctx, datachannel.HandshakeOptions{DataKey: dataKey, OnRequest: func() { close(started) }})
		if err == nil && res.Encrypted {
			s.log.Debug("the shell session is KMS-encrypted", "message", res.CustomerMessage)
		}
		done <- err
	}()
	wait := time.NewTimer(transport.DefaultOpenTimeout)
	defer wait.Stop()
	tick := time.NewTicker(startPoll)
	defer tick.Stop()
	for {
		select {
		case <-started:
			select {
			case err := <-done:
				var kerr *datachannel.KMSError
				if errors.As(err, &kerr) {
					return err
				}
				if err != nil {
					s.log.Debug("shell handshake failed", "err", err)
				}
				return nil
			case <-ctx.Done():
				cancel()
				return ctx.Err()
			}
		case <-tick.C:
			if s.dc.Buffered() > 0 {
				cancel() // a shell without handshake: stop waiting for one
				return nil
			}
			select {
			case <-s.dc.Done():
				return nil // Run reports how it ended
			default:
			}
		case <-wait.C:
			return nil
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		}
	}
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
	// End is Session Manager's own end of the session under the
	// account's preferences (idle timeout, maximum duration; see
	// Ending), nil for any other end.
	End *Ending
}

// Ending is Session Manager ending a session itself under the account's
// Session Manager preferences, as its channel_closed message said.
type Ending struct {
	Reason datachannel.EndReason
	// Idle is how long no data went either way before the end; After
	// how long the session had lasted.
	Idle, After time.Duration
}

// endingOf is dc's Ending, if the service ended it under its
// preferences; nil otherwise.
func endingOf(dc *datachannel.Session, started time.Time) *Ending {
	why := dc.ChannelClosed().Termination()
	if why == "" {
		return nil
	}
	now := time.Now()
	return &Ending{Reason: why, Idle: now.Sub(dc.LastStreamData()).Round(time.Second), After: now.Sub(started).Round(time.Second)}
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
			res.End = endingOf(s.dc, s.started)
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
