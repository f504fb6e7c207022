package jituser

// Removal and expiry of JIT users.

import (
	"errors"
	"fmt"

	"github.com/jitssh/jitssh/internal/host/audit"
)

// Remove deletes a JIT user: kills its processes, removes its home
// directory and its record, and retires its UID. why goes to the audit.
func (m *Manager) Remove(name, why, source string) (Record, error) {
	var rec Record
	_, err := m.store.update(func(st *State) error {
		r, ok := st.Users[name]
		if !ok {
			return fmt.Errorf("jituser: %s is not a just-in-time user", name)
		}
		rec = *r
		if _, err := KillSessions(r.UID, name); err != nil {
			return fmt.Errorf("jituser: kill sessions of %s: %w", name, err)
		}
		if err := removeHome(m.o.Policy.HomeBase, r.Home, r.UID); err != nil {
			return fmt.Errorf("jituser: %w", err)
		}
		delete(st.Users, name)
		st.Retired[name] = r.UID
		return nil
	})
	if err != nil {
		return Record{}, err
	}
	m.mu.Lock()
	delete(m.logins, name)
	m.mu.Unlock()
	m.record(audit.Event{Event: audit.EventUserRemoved, Source: source, OSUser: name, UID: rec.UID, Reason: why, Detail: "home " + rec.Home})
	return rec, nil
}

// Expire removes JIT users not seen for the policy's ExpireAfter and
// returns their names. It touches nothing when ExpireAfter is zero.
func (m *Manager) Expire() ([]string, error) {
	if m.o.Policy.ExpireAfter <= 0 {
		return nil, nil
	}
	st, err := m.store.snapshot()
	if err != nil {
		return nil, err
	}
	cutoff := m.o.Now().Add(-m.o.Policy.ExpireAfter)
	var removed []string
	var errs []error
	for _, r := range st.Sorted() {
		if r.LastSeen.Before(cutoff) {
			if _, err := m.Remove(r.Name, "expired", "userdb"); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, r.Name)
		}
	}
	return removed, errors.Join(errs...)
}
