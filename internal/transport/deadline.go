package transport

import (
	"context"
	"fmt"
	"time"
)

// Timeouts bound the network steps of a connection, so that nothing
// waits silently forever; a zero field takes its default.
type Timeouts struct {
	// API bounds each AWS step: resolving, pushing a key, asking SSM and
	// EC2 for the transport's facts, StartSession (the SDK's retries of a
	// throttled call happen within it). Default 30 s; placing a key on a
	// managed instance (Run Command, polled) gets twice as long.
	API time.Duration
	// Open bounds opening the path once AWS said yes: the data-channel
	// handshake with the SSM agent, the EICE websocket, logging in to a
	// jump host. Default 20 s.
	Open time.Duration
	// Forward bounds a jump host's connection to the target (the
	// direct-tcpip channel): a jump host that cannot reach its target
	// usually lets the TCP connect hang for minutes. Default 15 s.
	Forward time.Duration
	// Banner bounds the wait for sshd's first byte once the path is open.
	// Default 20 s.
	Banner time.Duration
}

// Default timeouts (see Timeouts).
const (
	DefaultAPITimeout     = 30 * time.Second
	DefaultOpenTimeout    = 20 * time.Second
	DefaultForwardTimeout = 15 * time.Second
	DefaultBannerTimeout  = 20 * time.Second
)

// APITimeout is API or its default.
func (t Timeouts) APITimeout() time.Duration { return orDefault(t.API, DefaultAPITimeout) }

// OpenTimeout is Open or its default.
func (t Timeouts) OpenTimeout() time.Duration { return orDefault(t.Open, DefaultOpenTimeout) }

// ForwardTimeout is Forward or its default.
func (t Timeouts) ForwardTimeout() time.Duration { return orDefault(t.Forward, DefaultForwardTimeout) }

// BannerTimeout is Banner or its default.
func (t Timeouts) BannerTimeout() time.Duration { return orDefault(t.Banner, DefaultBannerTimeout) }

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// TimeoutError is a step that did not finish within its deadline: what
// was being waited for, for how long, and the likely cause.
type TimeoutError struct {
	Waiting string
	After   time.Duration
	Cause   string
	// InstanceID and Look: the instance a further look may explain the
	// wait, and which look (the command line words it; this package names
	// no command).
	InstanceID string
	Look       Look
}

// Look is a further look at an instance that may explain a TimeoutError.
type Look int

const (
	LookNone Look = iota
	// LookAgent: the state of the instance's SSM agent.
	LookAgent
	// LookWithoutSSHD: the instance reached without its sshd (an SSM
	// shell session).
	LookWithoutSSHD
	// LookCalls: the AWS calls themselves, each logged as it is made
	// (every wait with CauseAPI).
	LookCalls
)

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("gave up after %v waiting for %s: %s", e.After.Round(100*time.Millisecond), e.Waiting, e.Cause)
}

// Unwrap makes a TimeoutError a context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Likely causes, shared by the steps.
const (
	CauseAPI         = "AWS did not answer in time: a slow or blocked network path to the AWS endpoints (proxy, VPN, firewall) or heavy throttling"
	CauseDataChannel = "the websocket to the ssmmessages endpoint did not open: a proxy or firewall may block websockets, or the network is slow"
	// CauseAgent is why an agent that SSM handed a session to stays
	// silent (see WithinAgent).
	CauseAgent = "SSM accepted the session but the agent did not take it up: the agent may be overloaded or restarting, the instance stopping, or the websocket to ssmmessages blocked"
)

// WithinAgent is Within for a wait on the SSM agent of instanceID: its
// TimeoutError has CauseAgent and LookAgent at the instance.
func WithinAgent(ctx context.Context, d time.Duration, waiting, instanceID string, f func(context.Context) error) error {
	err := Within(ctx, d, waiting, CauseAgent, f)
	if te, ok := err.(*TimeoutError); ok {
		te.InstanceID, te.Look = instanceID, LookAgent
	}
	return err
}

// Within runs f with a deadline d; if the deadline (not ctx) ended it, the
// error is a *TimeoutError saying what was awaited and why that may be
// (with CauseAPI, LookCalls).
func Within(ctx context.Context, d time.Duration, waiting, cause string, f func(context.Context) error) error {
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := f(tctx)
	if err != nil && ctx.Err() == nil && tctx.Err() == context.DeadlineExceeded {
		te := &TimeoutError{Waiting: waiting, After: d, Cause: cause}
		if cause == CauseAPI {
			te.Look = LookCalls
		}
		return te
	}
	return err
}
