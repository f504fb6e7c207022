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
	"encoding/json"
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
	"github.com/google/uuid"

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
	World *world.World
	// WorldOf, when set, returns the world holding a session (an
	// organization's (account, region) world, package world's Org); nil
	// or a nil answer means World.
	WorldOf func(sessionID string) *world.World
	Dial    Dialer
	Logger  *slog.Logger
	// MaxPayload is the payload size the fast agent sends; 0 = the
	// protocol's 1024. The AWS-like agent always sends 1024.
	MaxPayload int
	// Fast selects the sandbox's own fast agent: MaxPayload-sized
	// messages as fast as the destination gives them, acknowledgements on
	// receipt, no agent_session_state, a websocket close frame. By
	// default the agent behaves like AWS's (see AWSLike).
	Fast bool
	// Faults returns the faults to inject on a session's connections;
	// nil injects none.
	Faults func(sessionID string) fault.Config

	// FaultCounters totals the faults injected (may be nil).
	FaultCounters *fault.Counters
	// Netns returns the network namespace an instance's shell sessions
	// run in (nil: this machine's network); may be nil.
	Netns func(instanceID string) *netns.NS
	// Preferences are the Session Manager preferences enforced on every
	// session (sessionprefs.go); OnPreferenceEnd, if set, is told of a
	// session they ended (the sandbox records it in CloudTrail).
	Preferences     Preferences
	OnPreferenceEnd func(sessionID string, why datachannel.EndReason)
	// DecryptKey recovers an encrypted session's data key from the
	// ciphertext blob the client sent (kms:Decrypt as the instance, with
	// the session's encryption context, plus the agent's random
	// challenge when the client acknowledged it); needed when
	// Preferences.KMSKeyID is set.
	DecryptKey func(ctx context.Context, sess *world.Session, keyID string, blob []byte, challenge string) ([]byte, error)

	mu      sync.Mutex
	live    map[string]*datachannel.Session // running agent sessions, for resume
	resumes int
	dups    map[string]int // duplicates received by ended sessions
	ended   map[string]datachannel.EndReason
}

// DuplicatesReceived returns how many stream messages the agent received
// more than once in a session (the client's unneeded resends, and
// duplicates injected by faults), live or ended; "" totals every session.
func (h *Handler) DuplicatesReceived(sessionID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for id, d := range h.dups {
		if sessionID == "" || id == sessionID {
			n += d
		}
	}
	for id, dc := range h.live {
		if sessionID == "" || id == sessionID {
			n += dc.DuplicatesReceived()
		}
	}
	return n
}

// AWSLike documents what the default agent does like AWS's own agent
// (amazon-ssm-agent 3.3, measured against its session code): it sends
// at most 1024 bytes per message and sleeps 1 ms between reads of its
// destination; it acknowledges a message only once it has handed the
// data on to the destination; its first frame is agent_session_state;
// it ends by closing the websocket without a close frame.
const AWSLike = "1024-byte messages 1 ms apart, acknowledgement after delivery, agent_session_state first, no close frame"

// Resumes returns how many times clients resumed a data channel.
func (h *Handler) Resumes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.resumes
}

// HandshakeTimeout is how long the agent waits for the client's
// HandshakeResponse, as the real agent does.
const HandshakeTimeout = 15 * time.Second

// world returns the world holding session id (WorldOf, else World).
func (h *Handler) world(id string) *world.World {
	if h.WorldOf != nil {
		if w := h.WorldOf(id); w != nil {
			return w
		}
	}
	return h.World
}

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// ServeHTTP accepts one data-channel websocket.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/v1/data-channel/")
	sess, ok := h.world(id).Session(id)
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
	if !h.world(sess.ID).ValidSessionToken(sess.ID, open.TokenValue) {
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
		// A resume: the client must reconnect with a fresh token from
		// ResumeSession. The agent's session carries on.
		if !h.World.UseResumeToken(id, open.TokenValue) {
			h.mu.Unlock()
			log.Warn("resumed data channel refused: its token is not a new one from ResumeSession")
			c.Close(websocket.StatusPolicyViolation, "invalid token: resume with a token from ResumeSession")
			return
		}
		h.resumes++
		h.mu.Unlock()
		log.Info("client resumed the data channel")
		<-running.Attach(conn)
		return
	}
	maxPayload := datachannel.DefaultMaxPayload
	if h.Fast {
		maxPayload = h.MaxPayload
	} else {
		if err := sendSessionState(ctx, conn, id); err != nil {
			h.mu.Unlock()
			log.Info("agent_session_state not sent", "err", err)
			c.CloseNow()
			return
		}
	}
	ts := &termSize{}
	dc := datachannel.NewSession(conn, datachannel.Config{
		Role: datachannel.RoleAgent, MaxPayload: maxPayload, Logger: log,
		AwaitAttach: true, OnSize: ts.set, AckOnDelivery: !h.Fast,
	})
	if h.live == nil {
		h.live = map[string]*datachannel.Session{}
	}
	h.live[id] = dc
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.live, id)
		if h.dups == nil {
			h.dups = map[string]int{}
		}
		h.dups[id] += dc.DuplicatesReceived()
		h.mu.Unlock()
		if !h.Fast {
			// AWS's agent drops the connection without a close frame.
			c.CloseNow()
		}
		dc.Close()
	}()
	watchDone := make(chan struct{})
	defer close(watchDone)
	go h.enforcePreferences(sess, dc, watchDone)
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

// AWSMessageCost is how long the AWS-like agent takes to handle one
// received message before it takes the next: AWS's agent handles and
// acknowledges each message in its websocket read loop, which bounded
// uploads to 12 MB/s over loopback (about 80 µs per 1 KiB message), and
// makes acknowledgements wait behind every message queued before them.
const AWSMessageCost = 80 * time.Microsecond

// AWSStall and AWSStallEvery model the long tail of AWS's agent's
// acknowledgement times (p50 43 ms, p99 226 ms during a 64 MiB upload
// over loopback; a fixed 100 ms retransmission timer resent 1.3 %):
// the AWS-like agent pauses AWSStall once every AWSStallEvery messages
// it hands on (the first time after an eighth of that, so that an 8 MiB
// transfer meets one), and every message queued meanwhile is
// acknowledged that much later.
const (
	AWSStall      = 200 * time.Millisecond
	AWSStallEvery = 16384
)

// input is the client's stream as the agent hands it to the destination:
// as it is for the fast agent; for the AWS-like one a message at a time
// (reads of at most 1024 bytes), each costing AWSMessageCost. Since the
// session acknowledges data when it is read again (AckOnDelivery), each
// acknowledgement follows the delivery of its message.
func (h *Handler) input(dc *datachannel.Session) io.Reader {
	if h.Fast {
		return dc
	}
	return &perMessageReader{r: dc, cost: AWSMessageCost, stall: AWSStall, stallEvery: AWSStallEvery}
}

// output is where the agent's multiplexer writes its frames to the
// client: the session itself for the fast agent; for the AWS-like one in
// messages of at most 1024 bytes with 1 ms after each, as AWS's agent
// reads its smux pipe (pump does the same for a single stream).
func (h *Handler) output(dc *datachannel.Session) io.Writer {
	if h.Fast {
		return dc
	}
	return pacedWriter{dc}
}

// pacedWriter writes in messages of at most DefaultMaxPayload bytes and
// sleeps 1 ms after each.
type pacedWriter struct{ w io.Writer }

func (p pacedWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), datachannel.DefaultMaxPayload)
		m, err := p.w.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
		time.Sleep(time.Millisecond)
	}
	return n, nil
}

// perMessageReader reads at most one protocol message's worth at a time
// and spends cost per read, on average (it sleeps once the time owed
// reaches a millisecond, as short sleeps overshoot), plus stall after
// every stallEvery reads.
type perMessageReader struct {
	r          io.Reader
	cost       time.Duration
	stall      time.Duration
	stallEvery int
	reads      int
	next       time.Time
}

func (p *perMessageReader) Read(b []byte) (int, error) {
	if now := time.Now(); p.next.Before(now) {
		p.next = now
	} else if wait := p.next.Sub(now); wait >= time.Millisecond {
		time.Sleep(wait)
	}
	if len(b) > datachannel.DefaultMaxPayload {
		b = b[:datachannel.DefaultMaxPayload]
	}
	n, err := p.r.Read(b)
	if n > 0 {
		p.next = p.next.Add(p.cost)
		if p.reads++; p.stallEvery > 0 && p.reads%p.stallEvery == p.stallEvery/8 {
			p.next = p.next.Add(p.stall)
		}
	}
	return n, err
}

// sendSessionState sends the agent_session_state frame AWS's agent sends
// first on a new data channel (sequence 0, flags 3, not acknowledged).
func sendSessionState(ctx context.Context, conn datachannel.FrameConn, sessionID string) error {
	payload, _ := json.Marshal(struct {
		SchemaVersion int
		SessionState  string
		SessionID     string `json:"SessionId"`
	}{1, "Connected", sessionID})
	m := datachannel.Message{Type: datachannel.TypeAgentSessionState, Flags: 3, ID: uuid.New(), Payload: payload}
	frame, err := m.Marshal()
	if err != nil {
		return err
	}
	// Not a context that is cancelled afterwards: the websocket adapter
	// closes the connection when the first cancellable context it sees
	// ends (datachannel.WebSocket.opCtx).
	return conn.WriteFrame(ctx, frame)
}

// pump copies the destination's output to the client, paced like AWS's
// agent unless h.Fast.
func (h *Handler) pump(dc *datachannel.Session, dst io.Reader) error {
	if h.Fast {
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
		io.Copy(dst, h.input(dc))
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
		return dc.SendChannelClosed(sess.ID, sess.Target, h.endOutput(sess.ID))
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
	srv, err := mux.Server(keepOpen{struct {
		io.Reader
		io.Writer
	}{h.input(dc), h.output(dc)}}, clientVersion)
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
				return dc.SendChannelClosed(sess.ID, sess.Target, h.endOutput(sess.ID))
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
