package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/awscreds"
	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/targets"
)

// SessionAPI is what the ssm transport asks of AWS: SSM sessions.
type SessionAPI interface {
	StartSession(ctx context.Context, target, document string, params map[string][]string, reason string) (*awsapi.Session, error)
	TerminateSession(ctx context.Context, id string) error
	ResumeSession(ctx context.Context, id string) (*awsapi.Session, error)
}

// SSHDocument is the SSM document that tunnels to a port of the instance.
const SSHDocument = "AWS-StartSSHSession"

// SSM tunnels through SSM Session Manager (AWS-StartSSHSession).
type SSM struct {
	API    SessionAPI
	Reason string
	Tunnel TunnelConfig
}

// Name implements Transport.
func (SSM) Name() string { return NameSSM }

// Dial implements Transport.
func (t SSM) Dial(ctx context.Context, inst targets.Instance, port int) (Conn, error) {
	tun, err := OpenTunnelWith(ctx, t.API, inst.ID, port, t.Reason, t.Tunnel)
	if err != nil {
		return nil, err
	}
	return &ssmConn{Tunnel: tun}, nil
}

// ssmConn is a Tunnel as a Conn.
type ssmConn struct {
	*Tunnel
	once sync.Once
}

func (c *ssmConn) CloseWrite() error { return c.Close() }

func (c *ssmConn) LocalAddr() net.Addr              { return Addr{Net: NameSSM, Name: "local"} }
func (c *ssmConn) RemoteAddr() net.Addr             { return Addr{Net: NameSSM, Name: c.InstanceID} }
func (c *ssmConn) SetDeadline(time.Time) error      { return nil }
func (c *ssmConn) SetReadDeadline(time.Time) error  { return nil }
func (c *ssmConn) SetWriteDeadline(time.Time) error { return nil }

// Close shuts the tunnel down politely (see Tunnel.Shutdown), once.
func (c *ssmConn) Close() error {
	c.once.Do(func() { c.Shutdown(context.Background()) })
	return nil
}

// Tunnel is an open SSM session speaking to a port on the instance.
type Tunnel struct {
	*datachannel.Session
	SessionID  string
	InstanceID string
	// API ends the session (TerminateSession) on Shutdown.
	API SessionAPI
}

// TunnelConfig tunes a tunnel's data channel; the zero value is right for
// AWS.
type TunnelConfig struct {
	// MaxPayload is the largest payload per data-channel message the
	// client sends; 0 means 1024, what AWS's own plugin sends (see
	// docs/protocol.md, "Message size").
	MaxPayload int
	// Timeouts bound StartSession (API) and the data-channel handshake
	// with the agent (Open).
	Timeouts Timeouts
}

// Limits of TunnelConfig.MaxPayload.
const (
	MinPayload = 256
	MaxPayload = 64 << 10
)

// OpenTunnel starts an AWS-StartSSHSession session to port on the instance
// DialSession opens the data channel of a session StartSession returned,
// through the session's HTTP client (CA bundle, proxy), resuming the same
// session when the websocket drops (AWS closes data channels about
// hourly, and networks drop): the one dial of SSH tunnels, port
// forwarding and shells.
func DialSession(ctx context.Context, api SessionAPI, sess *awsapi.Session, cfg datachannel.Config) (*datachannel.Session, error) {
	return datachannel.Dial(ctx, sess.StreamURL, sess.Token, datachannel.DialOptions{
		HTTPClient: sess.HTTPClient,
		Session:    cfg,
		Resume: func(ctx context.Context) (string, string, error) {
			r, err := api.ResumeSession(ctx, sess.ID)
			if err != nil {
				if resumeRefused(err) {
					return "", "", datachannel.StopResuming(err)
				}
				return "", "", err
			}
			return r.StreamURL, r.Token, nil
		},
	})
}

// resumeRefused reports whether a ResumeSession failure is one that
// retrying cannot mend: the session is over, AWS refused the
// credentials (expired and not refreshable, as temporary credentials
// exported in the environment are after an hour; or not allowed), or
// refreshing them needs an MFA code, which is not asked for mid-session.
// The SDK has refreshed whatever credentials can be refreshed before the
// call.
func resumeRefused(err error) bool {
	var noCode *awscreds.NoTerminalError
	if errors.Is(err, awsapi.ErrSessionTimedOut) || errors.As(err, &noCode) {
		return true
	}
	var ae *awsapi.APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Fix == awsapi.FixSignIn || strings.Contains(ae.Code, "AccessDenied")
}

// and completes the data-channel handshake.
func OpenTunnel(ctx context.Context, api SessionAPI, instanceID string, port int, reason string) (*Tunnel, error) {
	return OpenTunnelWith(ctx, api, instanceID, port, reason, TunnelConfig{})
}

// OpenTunnelWith is OpenTunnel with a TunnelConfig.
func OpenTunnelWith(ctx context.Context, api SessionAPI, instanceID string, port int, reason string, tc TunnelConfig) (*Tunnel, error) {
	if tc.MaxPayload != 0 && (tc.MaxPayload < MinPayload || tc.MaxPayload > MaxPayload) {
		return nil, fmt.Errorf("data-channel payload size %d out of range %d-%d", tc.MaxPayload, MinPayload, MaxPayload)
	}
	var sess *awsapi.Session
	err := Within(ctx, tc.Timeouts.APITimeout(), "SSM to start a session to "+instanceID, CauseAPI, func(ctx context.Context) (err error) {
		sess, err = api.StartSession(ctx, instanceID, SSHDocument, map[string][]string{"portNumber": {strconv.Itoa(port)}}, reason)
		return err
	})
	if err != nil {
		return nil, err
	}
	var dc *datachannel.Session
	err = WithinAgent(ctx, tc.Timeouts.OpenTimeout(), fmt.Sprintf("the SSM agent on %s to answer session %s", instanceID, sess.ID), instanceID,
		func(ctx context.Context) error {
			var err error
			dc, err = DialSession(ctx, api, sess, datachannel.Config{Keepalive: 30 * time.Second, MaxPayload: tc.MaxPayload})
			if err != nil {
				return err
			}
			if _, err := dc.ClientHandshake(ctx); err != nil {
				dc.Close()
				dc = nil
				return err
			}
			return nil
		})
	if err != nil {
		Terminate(api, sess.ID)
		var te *TimeoutError
		if errors.As(err, &te) {
			return nil, err
		}
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	return &Tunnel{Session: dc, SessionID: sess.ID, InstanceID: instanceID, API: api}, nil
}

// Shutdown ends the tunnel politely: it waits (bounded) for the agent to
// acknowledge what was sent, tells it to terminate, and ends the session.
func (t *Tunnel) Shutdown(ctx context.Context) {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	// After channel_closed the service has ended the session and
	// acknowledges nothing more: no waiting (it cost 5 s).
	if t.ChannelClosed() == nil && t.Flush(fctx) == nil {
		_ = t.SendFlag(datachannel.FlagTerminateSession)
		_ = t.Flush(fctx)
	}
	cancel()
	t.Close()
	Terminate(t.API, t.SessionID)
}

// Terminate ends session id (TerminateSession), bounded, ignoring
// failure: the service ends an abandoned session by itself.
func Terminate(api SessionAPI, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = api.TerminateSession(ctx, id)
}
