package world

import "crypto/subtle"

// ResumeSession issues a fresh token for the live session id, as SSM's
// ResumeSession does. It reports false when the session is unknown or has
// been terminated. Earlier tokens of the session stay valid.
func (w *World) ResumeSession(id string) (token string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.sessions[id]
	if !ok {
		return "", false
	}
	select {
	case <-s.done:
		return "", false
	default:
	}
	token = "AAEAA" + randomHex(48)
	if w.resumed == nil {
		w.resumed = map[string][]string{}
	}
	w.resumed[id] = append(w.resumed[id], token)
	return token, true
}

// ValidSessionToken reports whether token was issued for session id by
// StartSession or ResumeSession. The comparison is constant-time.
func (w *World) ValidSessionToken(id, token string) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	s, ok := w.sessions[id]
	if !ok || token == "" {
		return false
	}
	valid := subtle.ConstantTimeCompare([]byte(s.Token), []byte(token)) == 1
	for _, t := range w.resumed[id] {
		valid = subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 || valid
	}
	return valid
}

// UseResumeToken reports whether token was issued for session id by
// ResumeSession and has not opened a data channel before, and marks it
// used: a client that reconnects a live session's data channel must
// call ResumeSession for it (as AWS's plugin does), not re-send the token
// it started with. The comparison is constant-time.
func (w *World) UseResumeToken(id, token string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if token == "" || w.usedResume[token] {
		return false
	}
	valid := false
	for _, t := range w.resumed[id] {
		valid = subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 || valid
	}
	if valid {
		if w.usedResume == nil {
			w.usedResume = map[string]bool{}
		}
		w.usedResume[token] = true
	}
	return valid
}
