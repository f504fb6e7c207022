package jituser

import (
	"context"
	"sync"
	"time"
)

// Limits bound the verification work that lookups by peers other than root
// cause: any local user can look up any name through NSS, and each lookup of
// a name that is no user yet asks IMDS. Lookups over a limit are answered
// "no such user" without asking IMDS, and are not remembered as misses (a
// later lookup may still create the user). Zero fields take the defaults
// below. Root's lookups (sshd's at login) are never limited.
type Limits struct {
	// PerPeerRate and PerPeerBurst: verifications per second, and at once
	// after a quiet period, for one uid.
	PerPeerRate  float64
	PerPeerBurst int
	// Rate and Burst: the same for every uid other than root together.
	Rate  float64
	Burst int
	// Concurrent: verifications under way at once for peers other than root.
	Concurrent int
	// OverDelay: how long a lookup over a limit waits before its "no such
	// user", so that a process looping on lookups waits instead of
	// spinning against the service (its CPU competes with sshd's logins).
	OverDelay time.Duration
}

// Default Limits.
const (
	DefaultPerPeerRate  = 2
	DefaultPerPeerBurst = 10
	DefaultRate         = 10
	DefaultBurst        = 20
	DefaultConcurrent   = 2
	DefaultOverDelay    = 250 * time.Millisecond
)

func (l Limits) withDefaults() Limits {
	if l.PerPeerRate <= 0 {
		l.PerPeerRate = DefaultPerPeerRate
	}
	if l.PerPeerBurst <= 0 {
		l.PerPeerBurst = DefaultPerPeerBurst
	}
	if l.Rate <= 0 {
		l.Rate = DefaultRate
	}
	if l.Burst <= 0 {
		l.Burst = DefaultBurst
	}
	if l.Concurrent <= 0 {
		l.Concurrent = DefaultConcurrent
	}
	if l.OverDelay <= 0 {
		l.OverDelay = DefaultOverDelay
	}
	return l
}

// PeerFunc returns the uid of the process a lookup comes from; ok false
// means an in-process caller, treated like root.
type PeerFunc func(ctx context.Context) (uid uint32, ok bool)

// bucket is a token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

// refill brings b up to now and returns its tokens.
func (b *bucket) refill(now time.Time, rate float64, burst int) float64 {
	if b.at.IsZero() {
		b.tokens = float64(burst)
	} else if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(burst), b.tokens+d.Seconds()*rate)
	}
	b.at = now
	return b.tokens
}

// maxPeers bounds the per-uid buckets kept.
const maxPeers = 1024

// limiter applies Limits. It is safe for concurrent use.
type limiter struct {
	l Limits

	mu      sync.Mutex
	peers   map[uint32]*bucket
	all     bucket
	running int
	dropped map[uint32]int // since the last report
}

func newLimiter(l Limits) *limiter {
	return &limiter{l: l.withDefaults(), peers: map[uint32]*bucket{}, dropped: map[uint32]int{}}
}

// admit reserves one verification for uid, or reports that it is over a
// limit. A reserved verification must be given back with done.
func (lm *limiter) admit(uid uint32, now time.Time) bool {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	b, ok := lm.peers[uid]
	if !ok {
		if len(lm.peers) >= maxPeers {
			for u, pb := range lm.peers { // forget buckets that are full again
				if pb.refill(now, lm.l.PerPeerRate, lm.l.PerPeerBurst) >= float64(lm.l.PerPeerBurst) {
					delete(lm.peers, u)
				}
			}
			if len(lm.peers) >= maxPeers {
				lm.dropped[uid]++
				return false
			}
		}
		b = &bucket{}
		lm.peers[uid] = b
	}
	if lm.running >= lm.l.Concurrent || b.refill(now, lm.l.PerPeerRate, lm.l.PerPeerBurst) < 1 || lm.all.refill(now, lm.l.Rate, lm.l.Burst) < 1 {
		lm.dropped[uid]++
		return false
	}
	b.tokens--
	lm.all.tokens--
	lm.running++
	return true
}

func (lm *limiter) done() {
	lm.mu.Lock()
	lm.running--
	lm.mu.Unlock()
}

// takeDropped returns and resets the lookups refused per uid.
func (lm *limiter) takeDropped() map[uint32]int {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if len(lm.dropped) == 0 {
		return nil
	}
	d := lm.dropped
	lm.dropped = map[uint32]int{}
	return d
}
