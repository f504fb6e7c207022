package datachannel

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func TestRTOEstimatorFollowsRFC6298(t *testing.T) {
	e := newRTOEstimator()
	if e.timeout() != initialRTO {
		t.Fatalf("initial RTO %v, want %v", e.timeout(), initialRTO)
	}
	// First sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR.
	e.sample(100 * time.Millisecond)
	if e.srtt != 100*time.Millisecond || e.rttvar != 50*time.Millisecond || e.timeout() != 300*time.Millisecond {
		t.Fatalf("after one sample: srtt %v rttvar %v rto %v; want 100ms 50ms 300ms", e.srtt, e.rttvar, e.timeout())
	}
	// Then RTTVAR = 3/4·RTTVAR + 1/4·|SRTT−R|, SRTT = 7/8·SRTT + 1/8·R.
	e.sample(180 * time.Millisecond)
	if e.rttvar != 57500*time.Microsecond || e.srtt != 110*time.Millisecond || e.timeout() != 340*time.Millisecond {
		t.Fatalf("after two samples: srtt %v rttvar %v rto %v; want 110ms 57.5ms 340ms", e.srtt, e.rttvar, e.timeout())
	}
	// Loopback-fast acknowledgements settle on the floor, not below.
	for range 200 {
		e.sample(200 * time.Microsecond)
	}
	if e.timeout() != minRTO {
		t.Fatalf("RTO with 0.2 ms samples %v, want the floor %v", e.timeout(), minRTO)
	}
	// A huge sample is capped.
	e.sample(30 * time.Second)
	if e.timeout() != maxRTO {
		t.Fatalf("RTO after a 30 s sample %v, want the ceiling %v", e.timeout(), maxRTO)
	}
}

func TestRTOBacksOffExponentiallyUntilTheNextSample(t *testing.T) {
	e := newRTOEstimator()
	want := []time.Duration{400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for i, w := range want {
		e.backoff()
		if e.timeout() != w {
			t.Fatalf("after %d back-offs RTO %v, want %v", i+1, e.timeout(), w)
		}
	}
	e.sample(20 * time.Millisecond)
	if e.timeout() != minRTO {
		t.Fatalf("a sample after back-off left RTO at %v, want it recomputed (%v)", e.timeout(), minRTO)
	}
}

// rtoTestSession is a Session with no connection or loops, for driving
// acked and due by hand with chosen times.
func rtoTestSession(t *testing.T, n int, sent time.Time) *Session {
	t.Helper()
	s := &Session{cfg: Config{UnackedExpiry: time.Minute}, est: newRTOEstimator(), ids: newIDSource(),
		log: slog.New(slog.DiscardHandler), pending: map[int64]*Message{}}
	s.cond = sync.NewCond(&s.mu)
	s.readCond = sync.NewCond(&s.mu)
	for i := range n {
		m := Message{Type: TypeInputStreamData, SequenceNumber: int64(i), ID: s.ids.next(), PayloadType: PayloadOutput, Payload: []byte{byte(i)}}
		f, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		s.unacked = append(s.unacked, outMsg{seq: int64(i), frame: f, id: m.ID, firstSent: sent, lastSent: sent})
	}
	s.outSeq = int64(n)
	s.lastAck = sent
	return s
}

func seqsOf(t *testing.T, frames [][]byte) []int64 {
	t.Helper()
	var seqs []int64
	for _, f := range frames {
		m, err := Unmarshal(f)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, m.SequenceNumber)
	}
	return seqs
}

func TestKarnNoRTTSampleFromARetransmittedMessage(t *testing.T) {
	t0 := time.Now().Add(-50 * time.Millisecond)
	s := rtoTestSession(t, 2, t0)
	s.unacked[0].retransmits = 1
	s.acked(0, s.unacked[0].id.String())
	if s.est.sampled {
		t.Fatalf("the acknowledgement of a retransmitted message was sampled: srtt %v", s.est.srtt)
	}
	s.acked(1, s.unacked[0].id.String())
	if !s.est.sampled || s.est.srtt < 50*time.Millisecond {
		t.Fatalf("the acknowledgement of a first transmission was not sampled: srtt %v", s.est.srtt)
	}
}

func TestSilenceResendsOnlyTheOldestAndBacksOff(t *testing.T) {
	t0 := time.Now()
	s := rtoTestSession(t, 5, t0)
	rto := s.est.timeout()
	if frames, _, _ := s.due(t0.Add(rto)); len(frames) != 0 {
		t.Fatalf("resent %v before the RTO passed", seqsOf(t, frames))
	}
	oldID := s.unacked[0].id
	at := t0.Add(rto + time.Millisecond)
	frames, _, _ := s.due(at)
	if got := seqsOf(t, frames); len(got) != 1 || got[0] != 0 {
		t.Fatalf("after an RTO of silence resent %v, want only [0] (a probe)", got)
	}
	if s.est.timeout() != 2*rto {
		t.Fatalf("RTO after a timeout %v, want %v", s.est.timeout(), 2*rto)
	}
	m, _ := Unmarshal(frames[0])
	if m.ID == oldID || m.ID != s.unacked[0].id || m.Payload[0] != 0 {
		t.Fatalf("the probe went with id %v (first %v, recorded %v), payload %v: want a new recorded id, the same payload", m.ID, oldID, s.unacked[0].id, m.Payload)
	}
	// Still nothing acknowledged: the next probe waits for the doubled RTO.
	if frames, _, _ := s.due(at.Add(rto)); len(frames) != 0 {
		t.Fatalf("resent %v before the backed-off RTO passed", seqsOf(t, frames))
	}
	if frames, _, _ := s.due(at.Add(2*rto + time.Millisecond)); len(frames) != 1 {
		t.Fatalf("second probe: resent %d messages, want 1", len(frames))
	}
}

func TestLateButSteadyAcknowledgementsResendNothing(t *testing.T) {
	t0 := time.Now().Add(-time.Second)
	s := rtoTestSession(t, 5, t0)
	// Acknowledgements keep arriving, in order, each long after its
	// message was sent (a receiver working through a queue).
	s.acked(0, s.unacked[0].id.String())
	if frames, _, _ := s.due(time.Now()); len(frames) != 0 {
		t.Fatalf("resent %v although acknowledgements are flowing and none was overtaken", seqsOf(t, frames))
	}
}

func TestMessagesOvertakenByALaterAcknowledgementAreResent(t *testing.T) {
	t0 := time.Now().Add(-time.Second)
	s := rtoTestSession(t, 4, t0)
	s.acked(2, s.unacked[2].id.String()) // 0 and 1 were sent with it: lost
	frames, _, _ := s.due(time.Now())
	if got := seqsOf(t, frames); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("resent %v, want [0 1]", got)
	}
}

func TestAcknowledgedProbeTellsLossFromDelay(t *testing.T) {
	for _, tc := range []struct {
		name       string
		probeAcked bool // the acknowledgement names the probe's id
		want       int
	}{{"original acknowledged: a spurious probe", false, 0}, {"probe acknowledged: the rest was lost", true, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now().Add(-2 * time.Second)
			s := rtoTestSession(t, 3, t0)
			s.lastAck = t0
			firstID := s.unacked[0].id.String()
			probeAt := t0.Add(time.Second)
			if frames, _, _ := s.due(probeAt); len(frames) != 1 {
				t.Fatalf("probe: %d frames", len(frames))
			}
			id := firstID
			if tc.probeAcked {
				id = s.unacked[0].id.String()
			}
			s.acked(0, id)
			frames, _, _ := s.due(time.Now())
			if len(frames) != tc.want {
				t.Fatalf("after the acknowledgement resent %v, want %d messages", seqsOf(t, frames), tc.want)
			}
		})
	}
}

func TestAckOnDeliveryAcknowledgesAfterTheNextRead(t *testing.T) {
	ca, cb := memPipe()
	client := NewSession(ca, Config{Role: RoleClient})
	agent := NewSession(cb, Config{Role: RoleAgent, AckOnDelivery: true})
	defer client.Close()
	defer agent.Close()
	if _, err := client.Write(make([]byte, 3*DefaultMaxPayload)); err != nil {
		t.Fatal(err)
	}
	unacked := func() int {
		client.mu.Lock()
		defer client.mu.Unlock()
		return len(client.unacked)
	}
	buf := make([]byte, DefaultMaxPayload)
	if _, err := agent.Read(buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if n := unacked(); n != 3 {
		t.Fatalf("%d messages unacknowledged before the agent read again, want 3", n)
	}
	if _, err := agent.Read(buf); err != nil { // acknowledges the first
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for unacked() != 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := unacked(); n != 2 {
		t.Fatalf("%d messages unacknowledged after the agent's second read, want 2", n)
	}
	if d := agent.DuplicatesReceived(); d != 0 {
		t.Fatalf("%d duplicates received", d)
	}
}

func TestAckOnDeliveryLeavesADuplicateOfUndeliveredDataToTheFirstAck(t *testing.T) {
	ca, cb := memPipe()
	client := NewSession(ca, Config{Role: RoleClient})
	agent := NewSession(cb, Config{Role: RoleAgent, AckOnDelivery: true})
	defer client.Close()
	defer agent.Close()
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	// Nobody reads: after the initial RTO (200 ms) the client probes.
	deadline := time.Now().Add(3 * time.Second)
	for agent.DuplicatesReceived() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if agent.DuplicatesReceived() == 0 {
		t.Fatal("the client never resent its unacknowledged message")
	}
	client.mu.Lock()
	n := len(client.unacked)
	client.mu.Unlock()
	if n != 1 {
		t.Fatalf("the duplicate of an undelivered message was acknowledged (%d unacknowledged)", n)
	}
	buf := make([]byte, 16)
	if k, err := agent.Read(buf); err != nil || string(buf[:k]) != "x" {
		t.Fatalf("Read = %q, %v", buf[:k], err)
	}
	go agent.Read(buf) // acknowledges the delivered message, then waits
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Flush(ctx); err != nil {
		t.Fatalf("not acknowledged after delivery: %v", err)
	}
}
