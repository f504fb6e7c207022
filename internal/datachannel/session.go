package datachannel

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Role says which end of the data channel a Session plays.
type Role int

const (
	// RoleClient is the end a user runs (session-manager-plugin's role): it
	// sends input_stream_data and receives output_stream_data.
	RoleClient Role = iota
	// RoleAgent is the instance end (amazon-ssm-agent's role).
	RoleAgent
)

func (r Role) String() string {
	if r == RoleAgent {
		return "agent"
	}
	return "client"
}

// FrameConn carries whole binary frames. Implementations must allow one
// concurrent reader alongside writers; Session serialises its writes.
type FrameConn interface {
	ReadFrame(ctx context.Context) ([]byte, error)
	WriteFrame(ctx context.Context, frame []byte) error
	Close() error
}

// Defaults for Config fields left zero.
const (
	DefaultMaxPayload    = 1024
	DefaultWindow        = 1024
	DefaultMaxBuffered   = 8 << 20
	DefaultUnackedExpiry = 2 * time.Minute
)

// Config tunes a Session. The zero value of every field selects its default.
type Config struct {
	Role Role
	// MaxPayload is the largest payload put in one stream message
	// (default 1024, what AWS's own endpoints send).
	MaxPayload int
	// Window is the most stream messages in flight without an
	// acknowledgement; Write blocks beyond it (default 1024).
	Window int
	// MaxBuffered bounds received bytes not yet Read; beyond it in-order data
	// is left unacknowledged so the peer retransmits later (default 8 MiB).
	// It bounds, separately, the bytes of out-of-order messages held until
	// the gap before them is filled.
	MaxBuffered int
	// UnackedExpiry is how long a message may stay unacknowledged before the
	// session fails (default 2 minutes).
	UnackedExpiry time.Duration
	// Keepalive is the websocket ping interval; 0 disables pings. Only
	// honoured by FrameConns that implement Pinger.
	Keepalive time.Duration
	// AckOnDelivery acknowledges in-order stream data only once it was
	// handed on: when Read is called again after returning it (the
	// caller has written it on), as AWS's agent acknowledges only after
	// writing to its local socket. Default: on receipt.
	AckOnDelivery bool
	// OnSize receives terminal size messages (agent role).
	OnSize func(cols, rows uint32)
	// Reconnect, when set, is called after the connection fails (the
	// client role: ResumeSession, dial, OpenDataChannel). It is retried
	// with back-off until ResumeTimeout; sequence state, unacknowledged
	// messages and buffered data carry over, so nothing is lost or
	// duplicated.
	Reconnect func(ctx context.Context) (FrameConn, error)
	// AwaitAttach makes a failed connection wait up to ResumeTimeout for
	// Attach (the service/agent side of a resume) instead of failing.
	AwaitAttach bool
	// ResumeTimeout bounds how long a lost connection may take to come
	// back (default DefaultResumeTimeout).
	ResumeTimeout time.Duration
	Logger        *slog.Logger
}

// DefaultResumeTimeout is how long a session waits for a lost connection
// to be resumed before it fails.
const DefaultResumeTimeout = time.Minute

// maxPause bounds a pause_publication that is never followed by
// start_publication or any traffic from the peer.
const maxPause = 10 * time.Second

// Pinger is implemented by FrameConns that can send keepalive pings.
type Pinger interface {
	Ping(ctx context.Context) error
}

// idSource makes message ids: random (version 4) UUIDs, from a ChaCha8
// stream seeded by crypto/rand, so as unpredictable as uuid.New's without
// a getrandom call for every message and acknowledgement.
type idSource struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func newIDSource() *idSource {
	var seed [32]byte
	crand.Read(seed[:])
	return &idSource{r: rand.NewChaCha8(seed)}
}

func (g *idSource) next() uuid.UUID {
	var u uuid.UUID
	g.mu.Lock()
	g.r.Read(u[:])
	g.mu.Unlock()
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// ackRef is what an acknowledgement of a received message names.
type ackRef struct {
	typ string
	id  uuid.UUID
	seq int64
}

type outMsg struct {
	seq   int64
	frame []byte
	// id is the message id of the latest transmission: every
	// retransmission gets a new one, and the acknowledgement echoes the
	// id it answers, so an acknowledged retransmission tells whether it
	// or an earlier copy arrived.
	id          uuid.UUID
	firstSent   time.Time
	lastSent    time.Time
	retransmits int
}

// Session is one end of a data channel: a reliable, ordered byte stream with
// the protocol's acknowledgements and retransmissions. Read and Write are the
// stream; the handshake methods run before data flows.
type Session struct {
	cfg  Config
	conn FrameConn
	log  *slog.Logger

	sendMu sync.Mutex // serialises stream senders (sequence order = wire order)
	wmu    sync.Mutex // serialises frame writes

	// conn and connGen change on reconnect/attach (guarded by mu);
	// broken is set while no connection is usable.
	connGen  int
	broken   bool
	connDone chan struct{} // closed when the current conn is replaced or lost

	mu sync.Mutex
	// cond wakes senders (window, pause) and Flush; readCond wakes Read.
	// Both are broadcast on every change of state (error, close, EOF,
	// connection); acknowledgements wake only cond and received data only
	// readCond, so neither wakes the other side's goroutine per message.
	cond     *sync.Cond
	readCond *sync.Cond
	outSeq   int64
	unacked  []outMsg // ordered by seq
	expected int64
	pending  map[int64]*Message
	// pendingBytes is what pending holds (payloads plus headers): out-of-
	// order messages are bounded in bytes by MaxBuffered, not only in
	// number, or a hostile peer could park 4*Window frames of up to
	// MaxFrameSize each (4 GiB with the defaults).
	pendingBytes int
	readBuf      [][]byte
	// readAcks are the deferred acknowledgements (AckOnDelivery) of
	// readBuf's entries, index for index; delivered are those of
	// entries Read returned, sent when Read is called again.
	readAcks  []ackRef
	delivered []ackRef
	buffered  int
	est       rtoEstimator
	// lastAck is when an acknowledgement last removed a message; with
	// messages outstanding, no acknowledgement for an RTO is a timeout.
	lastAck time.Time
	// rackSent/rackSeq order the latest-sent acknowledged message: a
	// message sent before it and still unacknowledged was probably lost
	// (RFC 8985's idea, with the RTO as the reordering allowance).
	rackSent time.Time
	rackSeq  int64
	// dupsReceived counts stream messages received more than once.
	dupsReceived int
	err          error // terminal error
	eof          bool  // peer ended the stream
	closed       bool
	paused       bool
	pausedAt     time.Time
	// terminating is set once we asked the agent to end the session.
	terminating bool
	exitCode    *int
	closedMsg   *ChannelClosed
	// lastData is when stream data last went either way (UnixNano), for
	// idle timeouts (LastStreamData).
	lastData atomic.Int64

	ids     *idSource
	frames  [][]byte    // send's scratch (guarded by sendMu)
	sendIDs []uuid.UUID // send's scratch (guarded by sendMu)
	hs      chan *Message
	// cipher seals and opens stream payloads of an encrypted session
	// (SetCipher); openErr is a payload that did not open, for
	// receiveStream to fail the session with once mu is released.
	cipher  *StreamCipher
	openErr error
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// ErrClosed is returned by operations on a closed Session.
var ErrClosed = errors.New("datachannel: session closed")

// NewSession starts a Session over conn. Call Close to release it.
func NewSession(conn FrameConn, cfg Config) *Session {
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = DefaultMaxBuffered
	}
	if cfg.UnackedExpiry <= 0 {
		cfg.UnackedExpiry = DefaultUnackedExpiry
	}
	if cfg.ResumeTimeout <= 0 {
		cfg.ResumeTimeout = DefaultResumeTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		cfg:     cfg,
		conn:    conn,
		log:     log.With("role", cfg.Role.String()),
		pending: map[int64]*Message{},
		est:     newRTOEstimator(),
		ids:     newIDSource(),
		hs:      make(chan *Message, 16),
		ctx:     ctx,
		cancel:  cancel,
	}
	s.cond = sync.NewCond(&s.mu)
	s.readCond = sync.NewCond(&s.mu)
	s.lastData.Store(time.Now().UnixNano())
	s.connDone = make(chan struct{})
	s.wg.Add(2)
	go s.readLoop(conn, 0, s.connDone)
	go s.resendLoop()
	if cfg.Keepalive > 0 {
		s.wg.Add(1)
		go s.pingLoop()
	}
	return s
}

func (s *Session) sendType() string {
	if s.cfg.Role == RoleAgent {
		return TypeOutputStreamData
	}
	return TypeInputStreamData
}

func (s *Session) recvType() string {
	if s.cfg.Role == RoleAgent {
		return TypeInputStreamData
	}
	return TypeOutputStreamData
}

// Write sends p as stream data, split into messages of at most MaxPayload
// bytes. It blocks while the send window is full. Bytes are never rewritten.
func (s *Session) Write(p []byte) (int, error) {
	if len(p) > 0 {
		s.lastData.Store(time.Now().UnixNano())
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	n := 0
	for len(p) > 0 {
		k, err := s.send(PayloadOutput, p, false)
		n += k
		p = p[k:]
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// SendFlag sends a Flag message (e.g. FlagTerminateSession) on the stream.
// After FlagTerminateSession a lost connection ends the session quietly
// instead of resuming it: the agent is expected to close.
func (s *Session) SendFlag(flag uint32) error {
	if flag == FlagTerminateSession {
		s.mu.Lock()
		s.terminating = true
		s.mu.Unlock()
	}
	return s.SendStream(PayloadFlag, flagPayload(flag))
}

// SendStream sends one sequenced stream message with the given payload type.
func (s *Session) SendStream(pt PayloadType, payload []byte) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	_, err := s.send(pt, payload, true)
	return err
}

// send sends a prefix of p as stream messages of at most MaxPayload bytes
// (exactly one message, however long p is, if single): as many as the
// send window has room for, waiting while it has none. It returns how
// many bytes of p it sent. The messages are encoded outside s.mu (the
// digests are the costly part) and written in one go. Call with sendMu
// held: sequence numbers are taken in order and not reused.
func (s *Session) send(pt PayloadType, p []byte, single bool) (int, error) {
	s.mu.Lock()
	for (len(s.unacked) >= s.cfg.Window || s.pausedNow()) && s.err == nil && !s.closed {
		s.cond.Wait()
	}
	if err := s.stateErr(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	room := s.cfg.Window - len(s.unacked)
	seq := s.outSeq // only send changes it, under sendMu
	ciph := s.cipher
	s.mu.Unlock()
	if ciph != nil && !sealedSend(s.cfg.Role, pt) {
		ciph = nil
	}

	frames := s.frames[:0]
	ids := s.sendIDs[:0]
	n := 0
	for len(frames) < room {
		chunk := p[n:]
		if len(chunk) > s.cfg.MaxPayload && !single {
			chunk = chunk[:s.cfg.MaxPayload]
		}
		var flags uint64
		if s.cfg.Role == RoleAgent && seq == 0 {
			flags = FlagSYN
		}
		payload := chunk
		if ciph != nil && len(chunk) > 0 {
			payload = ciph.Seal(chunk)
		}
		m := Message{Type: s.sendType(), SequenceNumber: seq, Flags: flags, ID: s.ids.next(), PayloadType: pt, Payload: payload}
		frame, err := m.Marshal()
		if err != nil {
			return 0, err
		}
		frames = append(frames, frame)
		ids = append(ids, m.ID)
		n += len(chunk)
		seq++
		if single || n == len(p) {
			break
		}
	}
	now := time.Now()
	s.mu.Lock()
	if err := s.stateErr(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	for i, f := range frames {
		s.unacked = append(s.unacked, outMsg{seq: s.outSeq, frame: f, id: ids[i], firstSent: now, lastSent: now})
		s.outSeq++
	}
	s.mu.Unlock()
	// A failed write is a lost connection, not lost data: the messages
	// are queued and go out again once the connection is resumed.
	_ = s.writeFrames(frames)
	clear(frames)
	s.frames = frames[:0]
	s.sendIDs = ids[:0]
	return n, s.Err()
}

// pausedNow reports whether the service asked us to stop sending; a pause
// lapses after maxPause. Call with mu held.
func (s *Session) pausedNow() bool {
	if s.paused && time.Since(s.pausedAt) > maxPause {
		s.log.Debug("pause_publication lapsed without start_publication")
		s.paused = false
	}
	return s.paused
}

func (s *Session) stateErr() error {
	if s.err != nil {
		return s.err
	}
	if s.closed {
		return ErrClosed
	}
	return nil
}

// errBroken is returned by writeFrame while the connection is down.
var errBroken = errors.New("datachannel: connection lost, resuming")

// writeFrame writes one frame on the current connection. A write error
// marks the connection lost (and starts a resume where configured).
func (s *Session) writeFrame(frame []byte) error {
	return s.writeFrames([][]byte{frame})
}

// writeFrames writes frames, in order, on the current connection.
func (s *Session) writeFrames(frames [][]byte) error {
	s.mu.Lock()
	conn, gen, broken := s.conn, s.connGen, s.broken
	s.mu.Unlock()
	if broken {
		return errBroken
	}
	var err error
	s.wmu.Lock()
	for _, f := range frames {
		// No per-frame deadline: a stalled peer is detected by the
		// resend expiry, and Close cancels s.ctx, which unblocks the
		// write.
		if err = conn.WriteFrame(s.ctx, f); err != nil {
			break
		}
	}
	s.wmu.Unlock()
	if err != nil {
		s.connLost(gen, fmt.Errorf("write: %w", err))
	}
	return err
}

// Read reads stream data in order. It returns io.EOF once the peer has ended
// the session (channel_closed for a client, a TerminateSession or
// DisconnectToPort flag for an agent) and every byte before that was read.
func (s *Session) Read(p []byte) (int, error) {
	s.mu.Lock()
	if len(s.delivered) > 0 {
		acks := s.delivered
		s.delivered = nil
		s.mu.Unlock()
		for _, a := range acks {
			s.sendAckRef(a)
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	for len(s.readBuf) == 0 && !s.eof && s.err == nil && !s.closed {
		s.readCond.Wait()
	}
	if len(s.readBuf) > 0 {
		// As much as p holds: many small messages make one write to
		// the destination, not one each.
		n := 0
		for n < len(p) && len(s.readBuf) > 0 {
			c := copy(p[n:], s.readBuf[0])
			n += c
			if c == len(s.readBuf[0]) {
				s.readBuf[0] = nil
				s.readBuf = s.readBuf[1:]
				if s.cfg.AckOnDelivery {
					s.delivered = append(s.delivered, s.readAcks[0])
					s.readAcks = s.readAcks[1:]
				}
			} else {
				s.readBuf[0] = s.readBuf[0][c:]
			}
		}
		s.buffered -= n
		return n, nil
	}
	if s.eof {
		return 0, io.EOF
	}
	return 0, s.stateErr()
}

// Flush waits until every message sent so far is acknowledged.
func (s *Session) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.unacked) > 0 && s.err == nil && !s.closed && ctx.Err() == nil {
		s.cond.Wait()
	}
	if len(s.unacked) == 0 {
		return nil
	}
	if err := s.stateErr(); err != nil {
		return err
	}
	return fmt.Errorf("flush: %d messages unacknowledged: %w", len(s.unacked), ctx.Err())
}

// Err returns the error that ended the session, if any.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// ChannelClosed returns the service's channel_closed message once received.
func (s *Session) ChannelClosed() *ChannelClosed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closedMsg
}

// LastStreamData returns when stream data last went either way (sent with
// Write or received from the peer), or when the session began: what
// Session Manager's idle timeout measures.
func (s *Session) LastStreamData() time.Time { return time.Unix(0, s.lastData.Load()) }

// ExitCode returns the exit code reported by the agent, if any.
func (s *Session) ExitCode() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exitCode == nil {
		return 0, false
	}
	return *s.exitCode, true
}

// Done is closed when the session's background loops have stopped.
func (s *Session) Done() <-chan struct{} { return s.ctx.Done() }

// Close stops the session and closes the underlying connection. Unread data
// is discarded. It does not wait for acknowledgements; call Flush first.
func (s *Session) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.wake()
	s.mu.Unlock()
	if already {
		return nil
	}
	s.cancel()
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	err := conn.Close()
	s.wg.Wait()
	return err
}

// wake wakes every waiter (senders, Flush and Read) after a change of
// state. Call with mu held.
func (s *Session) wake() {
	s.cond.Broadcast()
	s.readCond.Broadcast()
}

func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.err == nil && !s.closed {
		s.err = err
		s.log.Debug("session failed", "err", err)
	}
	s.wake()
	s.mu.Unlock()
	s.cancel()
}

func (s *Session) readLoop(conn FrameConn, gen int, done chan struct{}) {
	defer s.wg.Done()
	for {
		frame, err := conn.ReadFrame(s.ctx)
		if err != nil {
			s.mu.Lock()
			finished := s.closed || s.eof
			s.mu.Unlock()
			if finished {
				s.cancel()
				s.mu.Lock()
				s.wake()
				s.mu.Unlock()
				return
			}
			s.connLost(gen, fmt.Errorf("read: %w", err))
			return
		}
		m, err := Unmarshal(frame)
		if err != nil {
			// As AWS's endpoints do: drop without acknowledging; a
			// sender retransmits what mattered.
			s.log.Debug("dropping invalid frame", "err", err)
			continue
		}
		s.handle(m)
	}
}

// connLost handles the failure of connection generation gen: it resumes
// (Reconnect), waits for Attach, or fails the session.
func (s *Session) connLost(gen int, err error) {
	s.mu.Lock()
	if gen != s.connGen || s.broken || s.closed || s.err != nil {
		s.mu.Unlock()
		return
	}
	s.broken = true
	close(s.connDone)
	old := s.conn
	if s.terminating {
		// We asked the agent to end the session; its closing the
		// connection is the answer, not a failure to resume from.
		s.eof = true
		s.wake()
		s.mu.Unlock()
		old.Close()
		s.cancel()
		return
	}
	s.wake()
	s.mu.Unlock()
	old.Close()
	switch {
	case s.cfg.Reconnect != nil:
		s.log.Info("data channel connection lost; resuming", "err", err)
		s.wg.Add(1)
		go s.reconnectLoop(err)
	case s.cfg.AwaitAttach:
		s.log.Info("data channel connection lost; waiting for the client to resume", "err", err)
		time.AfterFunc(s.cfg.ResumeTimeout, func() {
			s.mu.Lock()
			still := s.broken && s.connGen == gen
			s.mu.Unlock()
			if still {
				s.fail(fmt.Errorf("connection lost and not resumed within %s: %w", s.cfg.ResumeTimeout, err))
			}
		})
	default:
		s.fail(fmt.Errorf("data channel %w", err))
	}
}

// StopResuming marks an error of Config.Reconnect as final: the session
// fails with it at once instead of retrying until ResumeTimeout (the
// service refused the resume for a reason time does not mend: expired
// credentials that could not be refreshed, access denied, a session that
// ended).
func StopResuming(err error) error { return &stopResuming{err} }

type stopResuming struct{ err error }

func (e *stopResuming) Error() string { return e.err.Error() }
func (e *stopResuming) Unwrap() error { return e.err }

func (s *Session) reconnectLoop(cause error) {
	defer s.wg.Done()
	deadline := time.Now().Add(s.cfg.ResumeTimeout)
	backoff := 100 * time.Millisecond
	var last error // the last failure that was not the deadline itself
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithDeadline(s.ctx, deadline)
		conn, err := s.cfg.Reconnect(ctx)
		cancel()
		if err == nil {
			s.Attach(conn)
			s.log.Info("data channel resumed", "attempt", attempt)
			return
		}
		if s.ctx.Err() != nil {
			return
		}
		var stop *stopResuming
		if errors.As(err, &stop) {
			s.fail(fmt.Errorf("connection lost (%v) and cannot be resumed: %w", cause, stop.err))
			return
		}
		if !errors.Is(err, context.DeadlineExceeded) || last == nil {
			last = err
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			s.fail(fmt.Errorf("connection lost (%v) and not resumed within %s: %w", cause, s.cfg.ResumeTimeout, last))
			return
		}
		s.log.Debug("resume attempt failed", "attempt", attempt, "err", err)
		select {
		case <-time.After(min(backoff, remaining)):
		case <-s.ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Attach makes conn the session's connection, replacing the current one
// (which is closed). Unacknowledged messages are resent at once. The
// returned channel is closed when conn is lost or replaced, or the session
// ends.
func (s *Session) Attach(conn FrameConn) <-chan struct{} {
	s.mu.Lock()
	if s.closed || s.err != nil {
		s.mu.Unlock()
		conn.Close()
		done := make(chan struct{})
		close(done)
		return done
	}
	old := s.conn
	if !s.broken {
		close(s.connDone)
	}
	s.conn = conn
	s.connGen++
	s.broken = false
	done := make(chan struct{})
	s.connDone = done
	for i := range s.unacked {
		s.unacked[i].lastSent = time.Time{} // due now
	}
	gen := s.connGen
	s.wake()
	s.mu.Unlock()
	if old != conn {
		old.Close()
	}
	s.wg.Add(1)
	go s.readLoop(conn, gen, done)
	return done
}

func (s *Session) unpause() {
	s.mu.Lock()
	if s.paused {
		s.paused = false
		s.cond.Broadcast()
	}
	s.mu.Unlock()
}

func (s *Session) handle(m *Message) {
	if m.Type == TypeAcknowledge || m.Type == s.recvType() {
		s.unpause() // as the agent does: the peer is reading again
	}
	switch m.Type {
	case TypeAcknowledge:
		seq, id, err := ackSequenceID(m.Payload)
		if err != nil {
			s.log.Debug("dropping malformed acknowledge", "err", err)
			return
		}
		s.acked(seq, id)
	case s.recvType():
		s.receiveStream(m)
	case TypeChannelClosed:
		var cc ChannelClosed
		_ = json.Unmarshal(m.Payload, &cc) // the message itself is what counts
		s.mu.Lock()
		s.closedMsg = &cc
		s.eof = true
		s.wake()
		s.mu.Unlock()
	case TypePausePublication:
		s.mu.Lock()
		s.paused, s.pausedAt = true, time.Now()
		s.mu.Unlock()
	case TypeStartPublication:
		s.unpause()
	default:
		s.log.Debug("ignoring message", "type", m.Type)
	}
}

// acked handles the acknowledgement of message seq, naming message id.
func (s *Session) acked(seq int64, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.unacked), func(i int) bool { return s.unacked[i].seq >= seq })
	if i == len(s.unacked) || s.unacked[i].seq != seq {
		return // duplicate or unknown acknowledge
	}
	om := &s.unacked[i]
	now := time.Now()
	if om.retransmits == 0 { // Karn: only unambiguous samples
		s.est.sample(now.Sub(om.lastSent))
	}
	s.lastAck = now
	// The acknowledged copy's send time orders it: the retransmission's
	// if the acknowledgement names its id, else (an earlier copy; which
	// one is not known) the first transmission's, so that a spurious
	// resend's acknowledgement does not make everything sent meanwhile
	// look lost.
	sent := om.firstSent
	if om.retransmits > 0 && id == om.id.String() {
		sent = om.lastSent
	}
	if sent.After(s.rackSent) || sent.Equal(s.rackSent) && om.seq > s.rackSeq {
		s.rackSent, s.rackSeq = sent, om.seq
	}
	if i == 0 { // the usual case: acknowledgements arrive in order
		s.unacked[0] = outMsg{}
		s.unacked = s.unacked[1:]
	} else {
		s.unacked = append(s.unacked[:i], s.unacked[i+1:]...)
	}
	s.cond.Broadcast()
}

func (s *Session) receiveStream(m *Message) {
	s.lastData.Store(time.Now().UnixNano())
	s.mu.Lock()
	seq := m.SequenceNumber
	switch {
	case seq < s.expected:
		s.dupsReceived++
		if s.ackDeferred(seq) {
			// AckOnDelivery: the first copy is not handed on yet, and
			// its acknowledgement will answer both (a receiver that
			// handles messages in order sees this copy only after it).
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.sendAck(m) // duplicate: re-acknowledge so the sender stops resending
		return
	case seq > s.expected:
		size := heldSize(m)
		if seq-s.expected > int64(4*s.cfg.Window) || len(s.pending) >= 4*s.cfg.Window || s.pendingBytes+size > s.cfg.MaxBuffered {
			s.mu.Unlock()
			return // too far ahead, or too much, to hold; it will be resent
		}
		if _, dup := s.pending[seq]; !dup {
			s.pending[seq] = m
			s.pendingBytes += size
		} else {
			s.dupsReceived++
		}
		s.mu.Unlock()
		s.sendAck(m)
		return
	}
	if s.buffered > s.cfg.MaxBuffered {
		s.mu.Unlock()
		return // reader is behind: leave it unacknowledged for now
	}
	// Stream data is queued for Read here, under the same lock that
	// advances s.expected, so it is queued in sequence order even while
	// an old connection's reader and a resumed one's overlap; other
	// payloads are handled after the acknowledgement.
	var others []*Message
	deferAck := false
	if !s.queueOutput(m) {
		others = append(others, m)
	} else if s.cfg.AckOnDelivery && len(m.Payload) > 0 {
		s.readAcks = append(s.readAcks, ackRef{m.Type, m.ID, m.SequenceNumber})
		deferAck = true
	}
	s.expected++
	for {
		next, ok := s.pending[s.expected]
		if !ok {
			break
		}
		delete(s.pending, s.expected)
		s.pendingBytes -= heldSize(next)
		if !s.queueOutput(next) {
			others = append(others, next)
		} else if s.cfg.AckOnDelivery && len(next.Payload) > 0 {
			s.readAcks = append(s.readAcks, ackRef{seq: -1}) // acknowledged on receipt
		}
		s.expected++
	}
	openErr := s.openErr
	s.mu.Unlock()
	if openErr != nil {
		s.fail(openErr)
		return
	}
	if !deferAck {
		s.sendAck(m)
	}
	for _, r := range others {
		s.process(r)
	}
}

// ackDeferred reports whether message seq's acknowledgement is deferred
// until delivery (AckOnDelivery). Call with mu held.
func (s *Session) ackDeferred(seq int64) bool {
	for _, list := range [][]ackRef{s.delivered, s.readAcks} {
		for _, a := range list {
			if a.seq >= 0 {
				return seq >= a.seq
			}
		}
	}
	return false
}

// heldSize is what holding m costs, counted against MaxBuffered.
func heldSize(m *Message) int { return headerLength + len(m.Payload) }

// queueOutput queues m's payload for Read if m is stream data, reporting
// whether it was. Call with mu held.
func (s *Session) queueOutput(m *Message) bool {
	if m.PayloadType != PayloadOutput {
		return false
	}
	if len(m.Payload) > 0 && s.cipher != nil && s.openErr == nil {
		p, err := s.cipher.Open(m.Payload)
		if err != nil {
			s.openErr = fmt.Errorf("stream message %d: %w", m.SequenceNumber, err)
			return true
		}
		m.Payload = p
	}
	if len(m.Payload) > 0 && s.openErr == nil {
		if len(s.readBuf) == 0 {
			s.readCond.Broadcast() // a reader may be waiting for data
		}
		s.readBuf = append(s.readBuf, m.Payload)
		s.buffered += len(m.Payload)
	}
	return true
}

func (s *Session) process(m *Message) {
	s.mu.Lock()
	ciph := s.cipher
	s.mu.Unlock()
	if ciph != nil && len(m.Payload) > 0 && sealedRecv(s.cfg.Role, m.PayloadType) {
		p, err := ciph.Open(m.Payload)
		if err != nil {
			s.fail(fmt.Errorf("stream message %d: %w", m.SequenceNumber, err))
			return
		}
		m.Payload = p
	}
	switch m.PayloadType {
	case PayloadHandshakeRequest, PayloadHandshakeResponse, PayloadHandshakeComplete,
		PayloadEncChallengeRequest, PayloadEncChallengeResponse:
		select {
		case s.hs <- m:
		default:
			s.log.Debug("dropping excess handshake message", "payload_type", m.PayloadType)
		}
	case PayloadFlag:
		f, err := parseFlag(m.Payload)
		if err != nil {
			s.log.Debug("bad flag", "err", err)
			return
		}
		if s.cfg.Role == RoleAgent && (f == FlagTerminateSession || f == FlagDisconnectToPort) {
			s.mu.Lock()
			s.eof = true
			s.wake()
			s.mu.Unlock()
		}
		if s.cfg.Role == RoleClient && f == FlagConnectToPortError {
			// One multiplexed connection failed on the agent's side; the
			// session (and its other connections) carry on, as with AWS.
			s.log.Warn("the agent could not connect to the destination port; check the port and the SSM agent's logs")
		}
	case PayloadSize:
		var sz struct{ Cols, Rows uint32 }
		if json.Unmarshal(m.Payload, &sz) == nil && s.cfg.OnSize != nil {
			s.cfg.OnSize(sz.Cols, sz.Rows)
		}
	case PayloadExitCode:
		var code int
		if _, err := fmt.Sscanf(string(m.Payload), "EXIT_CODE: %d", &code); err == nil {
			s.mu.Lock()
			s.exitCode = &code
			s.mu.Unlock()
		}
	default:
		s.log.Debug("ignoring payload", "payload_type", m.PayloadType)
	}
}

func (s *Session) sendAck(m *Message) {
	s.sendAckRef(ackRef{m.Type, m.ID, m.SequenceNumber})
}

// sendAckRef acknowledges a; a seq of -1 marks one already acknowledged.
func (s *Session) sendAckRef(a ackRef) {
	if a.seq < 0 {
		return
	}
	frame := ackFrame(s.ids.next(), a.typ, a.id, a.seq)
	_ = s.writeFrame(frame) // a lost ack is re-sent when the peer resends
}

// DuplicatesReceived returns how many stream messages arrived again after
// they had been received (the peer's resends that were not needed, or
// duplicated by the network).
func (s *Session) DuplicatesReceived() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dupsReceived
}

// resendLoop retransmits, on each tick, the messages that are due (see
// due); a timeout (nothing acknowledged for an RTO) backs the RTO off.
func (s *Session) resendLoop() {
	defer s.wg.Done()
	t := time.NewTicker(resendTick)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		s.mu.Lock()
		if s.broken || s.pausedNow() {
			s.mu.Unlock()
			continue
		}
		frames, expiredSeq, expired := s.due(now)
		s.mu.Unlock()
		if expired {
			s.fail(fmt.Errorf("stream message seq %d not acknowledged within %s", expiredSeq, s.cfg.UnackedExpiry))
			return
		}
		if len(frames) > 0 {
			_ = s.writeFrames(frames) // on a lost connection the frames stay queued
		}
	}
}

// due marks for retransmission, and returns, the messages outstanding
// for longer than the RTO that are evidently lost: a message sent after
// them was acknowledged. When nothing at all was acknowledged for an RTO
// (the retransmission timer of RFC 6298 §5.3, restarted by every
// acknowledgement), only the oldest is resent, as a probe, and the RTO
// backs off: a peer that acknowledges late but steadily, as AWS's agent
// does, or stalls for a while, costs one resend, not a window's worth;
// if the probe's own acknowledgement comes back, everything sent before
// it is evidently lost and goes at the next tick. Messages of a resumed
// connection are due at once. It reports a message unacknowledged for
// UnackedExpiry. Call with mu held.
func (s *Session) due(now time.Time) (frames [][]byte, expiredSeq int64, expired bool) {
	rto := s.est.timeout()
	silent := now.Sub(s.lastAck) > rto
	probed := false
	for i := range s.unacked {
		om := &s.unacked[i]
		if now.Sub(om.firstSent) > s.cfg.UnackedExpiry {
			return nil, om.seq, true
		}
		if !om.lastSent.IsZero() {
			if now.Sub(om.lastSent) <= rto {
				continue
			}
			overtaken := om.lastSent.Before(s.rackSent) || om.lastSent.Equal(s.rackSent) && om.seq < s.rackSeq
			if !overtaken {
				if !silent || probed {
					continue
				}
				probed = true
			}
		}
		om.lastSent = now
		om.retransmits++
		om.id = s.ids.next()
		om.frame = withID(om.frame, om.id)
		frames = append(frames, om.frame)
	}
	if probed {
		// Exponential back-off while nothing gets through; the timer
		// restarts from now.
		s.est.backoff()
		s.lastAck = now
	}
	return frames, 0, false
}

// withID returns a copy of frame with its message id replaced (the frame
// may still be queued for writing, so it is not changed in place).
func withID(frame []byte, id uuid.UUID) []byte {
	f := append([]byte(nil), frame...)
	putUUID(f[64:80], id)
	return f
}

func (s *Session) pingLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Keepalive)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		p, ok := s.conn.(Pinger)
		broken := s.broken
		s.mu.Unlock()
		if !ok || broken {
			continue
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Keepalive)
		err := p.Ping(ctx)
		cancel()
		if err != nil && s.ctx.Err() == nil {
			s.log.Debug("keepalive ping failed", "err", err)
		}
	}
}
