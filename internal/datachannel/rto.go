package datachannel

import "time"

// Retransmission timing, RFC 6298-style, with AWS's plugin's constants
// (session-manager-plugin src/config: DefaultRoundTripTime 100 ms,
// DefaultTransmissionTimeout 200 ms, ClockGranularity 10 ms,
// MaxTransmissionTimeout 1 s, RTTConstant 1/8, RTTVConstant 1/4). The
// plugin checks for expired messages every 100 ms (ResendSleepInterval),
// so it never resends sooner than that: minRTO is that floor.
const (
	initialRTO       = 200 * time.Millisecond
	minRTO           = 100 * time.Millisecond
	maxRTO           = time.Second
	clockGranularity = 10 * time.Millisecond
	resendTick       = 50 * time.Millisecond
)

// rtoEstimator computes the retransmission timeout from measured
// acknowledgement times (RFC 6298 §2): SRTT and RTTVAR smoothed with
// gains 1/8 and 1/4, RTO = SRTT + max(G, 4·RTTVAR), clamped to
// [minRTO, maxRTO]. backoff doubles the RTO after a timeout (§5.5); the
// next sample recomputes it (§5.7). The caller applies Karn's rule: no
// samples from retransmitted messages.
type rtoEstimator struct {
	srtt, rttvar time.Duration
	rto          time.Duration
	sampled      bool
}

func newRTOEstimator() rtoEstimator { return rtoEstimator{rto: initialRTO} }

// sample folds in one measured acknowledgement time.
func (e *rtoEstimator) sample(r time.Duration) {
	if r < 0 {
		r = 0
	}
	if !e.sampled {
		e.srtt, e.rttvar, e.sampled = r, r/2, true
	} else {
		diff := e.srtt - r
		if diff < 0 {
			diff = -diff
		}
		e.rttvar = e.rttvar*3/4 + diff/4
		e.srtt = e.srtt*7/8 + r/8
	}
	e.rto = min(max(e.srtt+max(clockGranularity, 4*e.rttvar), minRTO), maxRTO)
}

// backoff doubles the timeout after a retransmission timeout, up to maxRTO.
func (e *rtoEstimator) backoff() { e.rto = min(e.rto*2, maxRTO) }

// timeout is the current retransmission timeout.
func (e *rtoEstimator) timeout() time.Duration { return e.rto }
