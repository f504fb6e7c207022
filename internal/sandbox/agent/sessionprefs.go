package agent

import (
	"time"

	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Preferences are the account's Session Manager preferences the agent
// enforces (the SSM-SessionManagerRunShell document's idleSessionTimeout,
// maxSessionDuration, kmsKeyId, runAsEnabled, runAsDefaultUser and
// shellProfile); zero values enforce nothing.
type Preferences struct {
	// IdleTimeout ends a session that carried no stream data in either
	// direction for this long.
	IdleTimeout time.Duration
	// MaxDuration ends any session this long after it started.
	MaxDuration time.Duration
	// KMSKeyID, when set, encrypts shell (Standard_Stream) sessions: the
	// agent's handshake asks the client for a data key under it, which
	// Handler.DecryptKey recovers (shell.go). Port sessions are not
	// encrypted, as with AWS's agent.
	KMSKeyID string
	// RunAsEnabled runs shells as the caller's SSMSessionRunAs tag, else
	// as RunAsDefaultUser (runas.go).
	RunAsEnabled     bool
	RunAsDefaultUser string
	// ShellProfile is typed into a shell when it starts, as AWS's agent
	// does with shellProfile.linux.
	ShellProfile string
}

// prefsTick bounds how late the agent notices an expired session.
func prefsTick(p Preferences) time.Duration {
	t := time.Second
	for _, d := range []time.Duration{p.IdleTimeout, p.MaxDuration} {
		if d > 0 && d/10 < t {
			t = max(d/10, 10*time.Millisecond)
		}
	}
	return t
}

// enforcePreferences watches a session until it ends (done) and, when
// its idle timeout or maximum duration passes, records why, terminates it
// in the world (which makes the serving code send channel_closed with
// endOutput) and tells OnPreferenceEnd.
func (h *Handler) enforcePreferences(sess *world.Session, dc *datachannel.Session, done <-chan struct{}) {
	p := h.Preferences
	if p.IdleTimeout <= 0 && p.MaxDuration <= 0 {
		return
	}
	t := time.NewTicker(prefsTick(p))
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-sess.Done():
			return
		case <-dc.Done():
			return
		case now := <-t.C:
			var why datachannel.EndReason
			switch {
			case p.MaxDuration > 0 && now.Sub(sess.Started) >= p.MaxDuration:
				why = datachannel.EndMaxDuration
			case p.IdleTimeout > 0 && now.Sub(dc.LastStreamData()) >= p.IdleTimeout:
				why = datachannel.EndIdleTimeout
			default:
				continue
			}
			h.mu.Lock()
			if h.ended == nil {
				h.ended = map[string]datachannel.EndReason{}
			}
			h.ended[sess.ID] = why
			h.mu.Unlock()
			h.log().Info("session ended by Session Manager preferences", "session", sess.ID, "reason", why)
			h.world(sess.ID).TerminateSession(sess.ID)
			if h.OnPreferenceEnd != nil {
				h.OnPreferenceEnd(sess.ID, why)
			}
			return
		}
	}
}

// endOutput is the channel_closed Output for a session that ended: the
// service's text when the preferences ended it, else none.
func (h *Handler) endOutput(sessionID string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.ended[sessionID] {
	case datachannel.EndIdleTimeout:
		return datachannel.IdleTimeoutOutput
	case datachannel.EndMaxDuration:
		return datachannel.MaxDurationOutput
	}
	return ""
}
