// Package ssmsession is the SSM sessions jitssh opens other than the SSH
// tunnel (which is the ssm transport's, internal/transport): multiplexed
// port forwarding (OpenForward, Forward.Serve: AWS-StartPortForwardingSession
// with smux streams per local connection, and a linger instead of the
// half-close smux v1 lacks) for `tunnel`, and Standard_Stream shell
// sessions (OpenShell, Shell.Run: no handshake, Size messages, Ctrl-D at
// the end of piped input, the agent-reported exit code) for `shell`. It
// asks AWS only for sessions (transport.SessionAPI).
package ssmsession

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/datachannel/mux"
	"github.com/jitssh/jitssh/internal/transport"
)

// Port-forwarding session documents.
const (
	PortForwardingDocument       = "AWS-StartPortForwardingSession"
	PortForwardingToHostDocument = "AWS-StartPortForwardingSessionToRemoteHost"
)

// ForwardOptions configures OpenForward.
type ForwardOptions struct {
	API        transport.SessionAPI
	InstanceID string
	// Port is the destination port; RemoteHost, if set, is the host the
	// instance connects to (an RDS endpoint, another instance's private
	// address), else the instance itself.
	Port       int
	RemoteHost string
	// LocalPort is reported to SSM as localPortNumber (informational).
	LocalPort int
	Reason    string
	Logger    *slog.Logger
	// Linger bounds how long a connection whose local side has finished
	// sending waits for the rest of the remote side's answer (smux v1 has
	// no half-close); 0 means 2 seconds.
	Linger time.Duration
}

// Forward is a multiplexed port-forwarding session: every local
// connection is one smux stream over one SSM session.
type Forward struct {
	SessionID  string
	InstanceID string
	Dest       string // host:port as the instance sees it
	dc         *datachannel.Session
	sm         *mux.Session
	api        transport.SessionAPI
	log        *slog.Logger
	linger     time.Duration
	conns      atomic.Int64
	failed     atomic.Int64
	closing    atomic.Bool
	wg         sync.WaitGroup
	closeOnce  sync.Once
	started    time.Time
}

// OpenForward starts an AWS-StartPortForwardingSession (or …ToRemoteHost)
// session, completes the handshake and starts smux over it.
func OpenForward(ctx context.Context, o ForwardOptions) (*Forward, error) {
	if o.Port < 1 || o.Port > 65535 {
		return nil, fmt.Errorf("port %d: want 1-65535", o.Port)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	doc := PortForwardingDocument
	params := map[string][]string{"portNumber": {strconv.Itoa(o.Port)}, "localPortNumber": {strconv.Itoa(o.LocalPort)}}
	dest := net.JoinHostPort("localhost", strconv.Itoa(o.Port))
	if o.RemoteHost != "" {
		doc = PortForwardingToHostDocument
		params["host"] = []string{o.RemoteHost}
		dest = net.JoinHostPort(o.RemoteHost, strconv.Itoa(o.Port))
	}
	var sess *awsapi.Session
	err := transport.Within(ctx, transport.DefaultAPITimeout, "SSM to start a port-forwarding session to "+o.InstanceID, transport.CauseAPI, func(ctx context.Context) (err error) {
		sess, err = o.API.StartSession(ctx, o.InstanceID, doc, params, o.Reason)
		return err
	})
	if err != nil {
		return nil, err
	}
	var dc *datachannel.Session
	err = transport.Within(ctx, transport.DefaultOpenTimeout, fmt.Sprintf("the data channel of session %s to open", sess.ID), transport.CauseDataChannel, func(ctx context.Context) (err error) {
		// The session's logger reports the agent's ConnectToPortError.
		dc, err = transport.DialSession(ctx, o.API, sess, datachannel.Config{Keepalive: 30 * time.Second, Logger: log})
		return err
	})
	if err != nil {
		transport.Terminate(o.API, sess.ID)
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	fail := func(err error) (*Forward, error) {
		dc.Close()
		transport.Terminate(o.API, sess.ID)
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	var hs *datachannel.ClientHandshakeResult
	err = transport.WithinAgent(ctx, transport.DefaultOpenTimeout, fmt.Sprintf("the SSM agent on %s to answer session %s", o.InstanceID, sess.ID), o.InstanceID, func(ctx context.Context) (err error) {
		hs, err = dc.ClientHandshake(ctx)
		return err
	})
	if err != nil {
		var te *transport.TimeoutError
		if errors.As(err, &te) {
			dc.Close()
			transport.Terminate(o.API, sess.ID)
			return nil, err
		}
		return fail(err)
	}
	var props datachannel.PortProperties
	if err := json.Unmarshal(hs.Properties, &props); err != nil || props.Type != "LocalPortForwarding" {
		return fail(fmt.Errorf("the agent did not start a port-forwarding session (properties %s)", hs.Properties))
	}
	if !mux.ClientMultiplexes(hs.AgentVersion) {
		return fail(fmt.Errorf("SSM agent %s is too old for multiplexed port forwarding (needs a version above %s): update the agent on %s", hs.AgentVersion, mux.MinAgentVersion, o.InstanceID))
	}
	sm, err := mux.Client(dc, hs.AgentVersion)
	if err != nil {
		return fail(err)
	}
	linger := o.Linger
	if linger == 0 {
		linger = 2 * time.Second
	}
	return &Forward{SessionID: sess.ID, InstanceID: o.InstanceID, Dest: dest, dc: dc, sm: sm, api: o.API, log: log, linger: linger, started: time.Now()}, nil
}

// Stats are a forward's connection counts.
type Stats struct {
	Connections int64 // accepted
	Refused     int64 // ended by the instance before any byte came back
}

// Stats returns the connection counts so far.
func (f *Forward) Stats() Stats {
	return Stats{Connections: f.conns.Load(), Refused: f.failed.Load()}
}

// ErrSessionEnded is returned by Serve when the SSM session ended from
// the other side (terminated, or the agent closed it).
var ErrSessionEnded = errors.New("the SSM session ended")

// Serve accepts local connections on ln and forwards each over its own
// smux stream until ctx is done (nil error) or the session ends. It closes
// ln and shuts the session down before returning.
func (f *Forward) Serve(ctx context.Context, ln net.Listener) error {
	ended := make(chan error, 1)
	go func() {
		select {
		case <-f.sm.CloseChan():
			ended <- ErrSessionEnded
		case <-f.dc.Done():
			ended <- ErrSessionEnded
		case <-ctx.Done():
			ended <- nil
		}
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		f.wg.Add(1)
		go f.handle(c)
	}
	err := <-ended
	if err != nil {
		if e := f.dc.Err(); e != nil {
			err = fmt.Errorf("%w: %v", err, e)
		} else if cc := f.dc.ChannelClosed(); cc != nil && cc.Output != "" {
			err = fmt.Errorf("%w: %s", err, cc.Output)
		}
	}
	f.Shutdown()
	return err
}

// Ending reports Session Manager's own end of the session under the
// account's preferences (idle timeout, maximum duration), once Serve has
// returned ErrSessionEnded; nil for any other end.
func (f *Forward) Ending() *Ending { return endingOf(f.dc, f.started) }

// Dial opens one forwarded connection (what Serve does per accepted
// connection), for callers that want a net.Conn without a listener.
func (f *Forward) Dial() (net.Conn, error) {
	st, err := f.sm.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("open a connection over session %s: %w", f.SessionID, err)
	}
	return st, nil
}

func (f *Forward) handle(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	n := f.conns.Add(1)
	log := f.log.With("conn", n, "from", c.RemoteAddr().String())
	st, err := f.sm.OpenStream()
	if err != nil {
		log.Warn("cannot open a connection over the SSM session", "err", err)
		return
	}
	defer st.Close()
	var localDone atomic.Bool
	go func() {
		_, _ = io.Copy(st, c)
		// smux v1 has no half-close: give the remote side a moment to
		// answer what was sent, then close the stream.
		localDone.Store(true)
		_ = st.SetReadDeadline(time.Now().Add(f.linger))
	}()
	var got int64
	buf := make([]byte, 32<<10)
	for {
		if localDone.Load() {
			_ = st.SetReadDeadline(time.Now().Add(f.linger))
		}
		k, err := st.Read(buf)
		if k > 0 {
			got += int64(k)
			if _, werr := c.Write(buf[:k]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if got == 0 && !localDone.Load() && !f.closing.Load() {
		f.failed.Add(1)
		log.Warn(fmt.Sprintf("connection closed by the instance before any data: is anything listening on %s as seen from %s?", f.Dest, f.InstanceID))
	}
	log.Debug("connection closed", "bytes_in", got)
}

// Shutdown ends the session: open connections are closed, the agent gets
// Flag TerminateSession, and the TerminateSession API ends the session.
func (f *Forward) Shutdown() {
	f.closeOnce.Do(func() {
		f.closing.Store(true)
		if f.dc.ChannelClosed() == nil && f.dc.Err() == nil {
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = f.dc.SendFlag(datachannel.FlagTerminateSession)
			_ = f.dc.Flush(fctx)
			cancel()
		}
		f.sm.Close() // closes every stream and the data channel
		f.dc.Close()
		transport.Terminate(f.api, f.SessionID)
		f.wg.Wait()
	})
}
