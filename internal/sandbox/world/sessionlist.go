package world

import (
	"sort"
	"time"
)

// SessionInfo is a session as SSM's DescribeSessions reports it.
type SessionInfo struct {
	Session
	// Active is true until the session is terminated (by TerminateSession,
	// the instance stopping, or the agent).
	Active bool
	// Ended is when it was terminated (zero while active).
	Ended time.Time
}

// SessionList returns every session, active or not, oldest first (ties
// by id).
func (w *World) SessionList() []SessionInfo {
	w.mu.RLock()
	out := make([]SessionInfo, 0, len(w.sessions))
	for _, s := range w.sessions {
		info := SessionInfo{Session: *s, Active: true}
		select {
		case <-s.done:
			info.Active = false
			if n := s.endedAt.Load(); n != 0 {
				info.Ended = time.Unix(0, n)
			}
		default:
		}
		out = append(out, info)
	}
	w.mu.RUnlock()
	sort.Slice(out, func(a, b int) bool {
		if !out[a].Started.Equal(out[b].Started) {
			return out[a].Started.Before(out[b].Started)
		}
		return out[a].ID < out[b].ID
	})
	return out
}
