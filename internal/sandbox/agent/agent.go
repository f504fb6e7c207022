// Package agent plays the SSM service's data-channel endpoint and the SSM
// agent on a simulated instance, merged into one: it accepts the client's
// data-channel websocket for a started session, checks its token, runs the
// agent's side of the handshake, connects the stream to the session's
// destination (the instance's sshd for AWS-StartSSHSession) and, when the
// destination closes or the session is terminated, sends channel_closed as
// the service does.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/datachannel/mux"
	"github.com/jitssh/jitssh/internal/sandbox/fault"
	"github.com/jitssh/jitssh/internal/sandbox/netns"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Version is the agent version the sandbox reports in handshakes.
const Version = "3.3.987.0"

// Conn is a connection to a session's destination. CloseWrite signals that
// the client is done sending (for sshd -i: its stdin is closed).
type Conn interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// Dialer connects, from an instance, to host:port; host "" means the
// instance itself (its localhost).
type Dialer func(ctx context.Context, instanceID, host string, port int) (Conn, error)

// Handler serves /v1/data-channel/<session-id>.
type Handler struct {
	World  *world.World
	Dial   Dialer
	Logger *slog.Logger
	// MaxPayload is the payload size the agent sends; 0 = the protocol's
	// 1024. The sandbox sends larger messages unless pacing like AWS.
	MaxPayload int
	// Paced makes the agent behave like AWS's: it reads its destination
	// 1024 bytes at a time and sleeps 1 ms after each message.
	Paced bool
	// Faults returns the faults to inject on a session's connections;
	// nil injects none.
	Faults func(sessionID string) fault.Config

	// FaultCounters totals the faults injected (may be nil).
	FaultCounters *fault.Counters
	// Netns returns the network namespace an instance's shell sessions
	// run in (nil: this machine's network); may be nil.
	Netns func(instanceID string) *netns.NS

	mu      sync.Mutex
	live    map[string]*datachannel.Session // running agent sessions, for resume
	resumes int
}

// Resumes returns how many times clients resumed a data channel.
func (h *Handler) Resumes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.resumes
}

// HandshakeTimeout is how long the agent waits for the client's
// HandshakeResponse, as the real agent does.
const HandshakeTimeout = 15 * time.Second

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// ServeHTTP accepts one data-channel websocket.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/v1/data-channel/")
	sess, ok := h.World.Session(id)
	if !ok || id == "" || strings.Contains(id, "/") {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		h.log().Warn("websocket upgrade failed", "session", id, "err", err)
		return
	}
	ctx := context.Background()
	open, err := datachannel.AcceptOpen(ctx, c)
	if err != nil {
		c.Close(websocket.StatusPolicyViolation, err.Error())
		return
	}
	if !h.World.ValidSessionToken(sess.ID, open.TokenValue) {
		h.log().Warn("data channel refused: bad token", "session", id)
		c.Close(websocket.StatusPolicyViolation, "invalid token")
		return
	}
	log := h.log().With("session", id, "target", sess.Target)
	var conn datachannel.FrameConn = datachannel.NewWebSocket(c)
	if h.Faults != nil {
		if fc := h.Faults(id); fc.Active() {
			conn = fault.Wrap(conn, fc, h.FaultCounters)
			log.Debug("injecting faults", "faults", fc)
		}
	}
	h.mu.Lock()
	if running := h.live[id]; running != nil {
		// A resume: the client reconnected with a token from
		// ResumeSession. The agent's session carries on.
		h.resumes++
		h.mu.Unlock()
		log.Info("client resumed the data channel")
		<-running.Attach(conn)
		return
	}
	maxPayload := h.MaxPayload
	if h.Paced {
		maxPayload = datachannel.DefaultMaxPayload
	}
	ts := &termSize{}
	dc := datachannel.NewSession(conn, datachannel.Config{
		Role: datachannel.RoleAgent, MaxPayload: maxPayload, Logger: log,
		AwaitAttach: true, OnSize: ts.set,
	})
	if h.live == nil {
		h.live = map[string]*datachannel.Session{}
	}
	h.live[id] = dc
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.live, id)
		h.mu.Unlock()
		dc.Close()
	}()
	if err := h.run(ctx, sess, dc, ts, log); err != nil {
		select {
		case <-dc.Done(): // the client is gone; nobody to tell
			log.Debug("session ended after the client left", "err", err)
		default:
			log.Info("session ended with error", "err", err)
			_ = dc.SendChannelClosed(sess.ID, sess.Target, err.Error())
		}
		return
	}
	log.Info("session ended")
}

// pump copies the destination's output to the client, paced like AWS's
// agent when h.Paced.
func (h *Handler) pump(dc *datachannel.Session, dst io.Reader) error {
	if !h.Paced {
		_, err := io.Copy(dc, dst)
		return err
	}
	buf := make([]byte, datachannel.DefaultMaxPayload)
	for {
		n, err := dst.Read(buf)
		if n > 0 {
			if _, werr := dc.Write(buf[:n]); werr != nil {
				return werr
			}
			time.Sleep(time.Millisecond)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Session documents the sandbox agent runs.
const (
	SSHDocument                  = "AWS-StartSSHSession"
	PortForwardingDocument       = "AWS-StartPortForwardingSession"
	PortForwardingToHostDocument = "AWS-StartPortForwardingSessionToRemoteHost"
)

func (h *Handler) run(ctx context.Context, sess *world.Session, dc *datachannel.Session, ts *termSize, log *slog.Logger) error {
	if sess.DocumentName == ShellDocument {
		return h.runShell(ctx, sess, dc, ts, log)
	}
	param := func(name, def string) string {
		if v := sess.Parameters[name]; len(v) == 1 && v[0] != "" {
			return v[0]
		}
		return def
	}
	port, err := strconv.Atoi(param("portNumber", "22"))
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("invalid portNumber %q", param("portNumber", ""))
	}
	props := datachannel.PortProperties{PortNumber: strconv.Itoa(port)}
	switch sess.DocumentName {
	case SSHDocument:
	case PortForwardingDocument, PortForwardingToHostDocument:
		props.Type = "LocalPortForwarding"
		props.LocalPortNumber = param("localPortNumber", "0")
		props.Host = param("host", "")
	default:
		return fmt.Errorf("the sandbox agent does not run %q sessions yet", sess.DocumentName)
	}
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	resp, err := dc.AgentHandshake(hctx, Version, datachannel.SessionTypePort, props)
	cancel()
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if props.Type == "LocalPortForwarding" {
		if !mux.AgentMultiplexes(resp.ClientVersion) {
			return fmt.Errorf("client version %s is too old for port forwarding (the sandbox agent only multiplexes, which needs %s or later)", resp.ClientVersion, mux.MinClientVersion)
		}
		return h.serveMux(ctx, sess, dc, resp.ClientVersion, props.Host, port, log)
	}
	dst, err := h.Dial(ctx, sess.Target, "", port)
	if err != nil {
		return fmt.Errorf("connect to port %d: %w", port, err)
	}
	defer dst.Close()
	log.Debug("connected to destination", "port", port)

	go func() { // client -> destination; ends when either side closes
		io.Copy(dst, dc)
		dst.CloseWrite()
	}()
	outDone := make(chan error, 1)
	go func() { // destination -> client
		outDone <- h.pump(dc, dst)
	}()
	select {
	case err := <-outDone:
		// Destination closed: drain to the client (the agent waits up
		// to 2 s), then the service tells the client the channel closed.
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = dc.Flush(fctx)
		cancel()
		if err != nil && !errors.Is(err, io.EOF) {
			log.Debug("destination read ended", "err", err)
		}
		return dc.SendChannelClosed(sess.ID, sess.Target, "")
	case <-sess.Done():
		return dc.SendChannelClosed(sess.ID, sess.Target, "")
	case <-dc.Done():
		// The client went away without a word (as AWS's plugin does on
		// stdin EOF).
		return nil
	}
}

// keepOpen hides Close from smux, which closes its connection when the
// multiplexer is closed: the data channel must outlive it to carry
// channel_closed after TerminateSession (AWS's plugin then says "Exiting
// session" and exits; without it, it tries ResumeSession and says the
// session "timed out"). ServeHTTP closes the data channel itself.
type keepOpen struct{ io.ReadWriter }

func (keepOpen) Close() error { return nil }

// serveMux runs a multiplexed port-forwarding session: every smux stream
// the client opens is one connection to host:port, dialled from the
// instance. A failed dial is reported with Flag ConnectToPortError, as the
// agent does.
func (h *Handler) serveMux(ctx context.Context, sess *world.Session, dc *datachannel.Session, clientVersion, host string, port int, log *slog.Logger) error {
	srv, err := mux.Server(keepOpen{dc}, clientVersion)
	if err != nil {
		return err
	}
	defer srv.Close()
	go func() {
		select {
		case <-sess.Done():
		case <-dc.Done():
		}
		srv.Close()
	}()
	for {
		st, err := srv.AcceptStream()
		if err != nil {
			select {
			case <-sess.Done():
				return dc.SendChannelClosed(sess.ID, sess.Target, "")
			default:
				return nil // the client ended the session
			}
		}
		go func() {
			defer st.Close()
			dst, err := h.Dial(ctx, sess.Target, host, port)
			if err != nil {
				log.Info("port forwarding: connect failed", "host", host, "port", port, "err", err)
				_ = dc.SendFlag(datachannel.FlagConnectToPortError)
				return
			}
			defer dst.Close()
			go func() {
				io.Copy(dst, st)
				dst.CloseWrite()
			}()
			io.Copy(st, dst)
		}()
	}
}
