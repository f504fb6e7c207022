// Package fault injects data-channel faults in the sandbox: it wraps the
// agent's FrameConn to drop, duplicate, reorder and delay frames in both
// directions, and to close the websocket after a while the way AWS closes
// data channels about hourly, so that every client is tested against the
// conditions the real service produces.
package fault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/datachannel"
)

// Config describes the faults applied to one data-channel connection. The
// zero value injects nothing.
type Config struct {
	// Drop, Duplicate and Reorder are per-frame probabilities (0..1),
	// applied to frames in both directions.
	Drop      float64 `json:"drop"`
	Duplicate float64 `json:"duplicate"`
	Reorder   float64 `json:"reorder"`
	// Delay is added before every frame the agent sends.
	Delay Duration `json:"delay"`
	// CloseAfter closes the websocket (code 1000 "Bye", as AWS does)
	// this long after it was opened; the client must resume.
	CloseAfter Duration `json:"close_after"`
	// Seed makes the random choices repeatable; 0 picks one.
	Seed uint64 `json:"seed"`
}

// Duration is a time.Duration that reads and writes JSON as "1.5s".
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Validate reports a configuration that makes no sense.
func (c Config) Validate() error {
	for name, p := range map[string]float64{"drop": c.Drop, "duplicate": c.Duplicate, "reorder": c.Reorder} {
		if p < 0 || p > 0.5 {
			return fmt.Errorf("fault %s probability %v must be between 0 and 0.5", name, p)
		}
	}
	if c.Delay < 0 || c.CloseAfter < 0 {
		return errors.New("fault delay and close_after must not be negative")
	}
	if c.CloseAfter != 0 && time.Duration(c.CloseAfter) < 50*time.Millisecond {
		return errors.New("fault close_after must be at least 50ms, or 0 for never")
	}
	return nil
}

// Active reports whether c injects anything.
func (c Config) Active() bool {
	return c.Drop+c.Duplicate+c.Reorder > 0 || c.Delay > 0 || c.CloseAfter > 0
}

// Stats counts what was injected.
type Stats struct {
	Frames, Dropped, Duplicated, Reordered, Closed int
}

// Counters accumulates Stats over many connections; safe for concurrent use.
type Counters struct {
	mu sync.Mutex
	s  Stats
}

// Snapshot returns the totals so far.
func (c *Counters) Snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

func (c *Counters) add(f func(*Stats)) {
	if c == nil {
		return
	}
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

// Conn wraps a FrameConn with faults.
type Conn struct {
	inner datachannel.FrameConn
	cfg   Config

	totals  *Counters
	mu      sync.Mutex
	rng     *rand.Rand
	heldOut []byte
	heldIn  []byte
	dupIn   []byte
	stats   Stats
	timer   *time.Timer
}

// Closer is implemented by connections that can close with a status, like
// AWS's hourly close (code 1000 "Bye").
type Closer interface {
	CloseWithStatus(code int, reason string) error
}

// Wrap returns inner with cfg's faults applied, counting them also in
// totals (which may be nil).
func Wrap(inner datachannel.FrameConn, cfg Config, totals *Counters) *Conn {
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	c := &Conn{inner: inner, cfg: cfg, totals: totals, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	if cfg.CloseAfter > 0 {
		c.timer = time.AfterFunc(time.Duration(cfg.CloseAfter), func() {
			c.count(func(s *Stats) { s.Closed++ })
			if cl, ok := inner.(Closer); ok {
				cl.CloseWithStatus(1000, "Bye")
			} else {
				inner.Close()
			}
		})
	}
	return c
}

// Stats returns what was injected so far on this connection.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// count records an injection here and in the totals; call with c.mu held,
// except from the close timer.
func (c *Conn) count(f func(*Stats)) {
	f(&c.stats)
	c.totals.add(f)
}

// ReadFrame implements datachannel.FrameConn, faulting frames from the client.
func (c *Conn) ReadFrame(ctx context.Context) ([]byte, error) {
	for {
		c.mu.Lock()
		if c.dupIn != nil {
			b := c.dupIn
			c.dupIn = nil
			c.mu.Unlock()
			return b, nil
		}
		c.mu.Unlock()
		b, err := c.inner.ReadFrame(ctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.count(func(s *Stats) { s.Frames++ })
		switch {
		case c.rng.Float64() < c.cfg.Drop:
			c.count(func(s *Stats) { s.Dropped++ })
			c.mu.Unlock()
			continue
		case c.heldIn == nil && c.rng.Float64() < c.cfg.Reorder:
			c.count(func(s *Stats) { s.Reordered++ })
			c.heldIn = b
			c.mu.Unlock()
			continue
		}
		if c.rng.Float64() < c.cfg.Duplicate {
			c.count(func(s *Stats) { s.Duplicated++ })
			c.dupIn = b
		}
		if c.heldIn != nil { // deliver the held frame after this one
			if c.dupIn == nil {
				c.dupIn = c.heldIn
			}
			c.heldIn = nil
		}
		c.mu.Unlock()
		return b, nil
	}
}

// WriteFrame implements datachannel.FrameConn, faulting frames to the client.
func (c *Conn) WriteFrame(ctx context.Context, b []byte) error {
	if c.cfg.Delay > 0 {
		select {
		case <-time.After(time.Duration(c.cfg.Delay)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	c.count(func(s *Stats) { s.Frames++ })
	if c.rng.Float64() < c.cfg.Drop {
		c.count(func(s *Stats) { s.Dropped++ })
		c.mu.Unlock()
		return nil
	}
	if c.heldOut == nil && c.rng.Float64() < c.cfg.Reorder {
		c.count(func(s *Stats) { s.Reordered++ })
		c.heldOut = append([]byte(nil), b...)
		c.mu.Unlock()
		return nil
	}
	dup := c.rng.Float64() < c.cfg.Duplicate
	if dup {
		c.count(func(s *Stats) { s.Duplicated++ })
	}
	held := c.heldOut
	c.heldOut = nil
	c.mu.Unlock()
	if err := c.inner.WriteFrame(ctx, b); err != nil {
		return err
	}
	if dup {
		if err := c.inner.WriteFrame(ctx, b); err != nil {
			return err
		}
	}
	if held != nil {
		return c.inner.WriteFrame(ctx, held)
	}
	return nil
}

// Ping passes keepalives through.
func (c *Conn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(datachannel.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Close implements datachannel.FrameConn.
func (c *Conn) Close() error {
	if c.timer != nil {
		c.timer.Stop()
	}
	return c.inner.Close()
}
