package jituser

// Supplementary groups bound to the key that authenticated the login.

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/userdb"
)

// groupsFor returns the supplementary groups callers grant: the groups
// every one of them is granted by the [[jit.groups]] rules, limited to
// groups that exist in /etc/group. No caller grants nothing.
func (m *Manager) groupsFor(callers []string) ([]string, error) {
	var result map[string]bool
	for _, caller := range callers {
		grant := map[string]bool{}
		for _, rule := range m.o.Policy.Groups {
			if caller != "" && matchGlob(rule.Caller, caller) {
				for _, g := range rule.Groups {
					grant[g] = true
				}
			}
		}
		if result == nil {
			result = grant
			continue
		}
		for g := range result {
			if !grant[g] {
				delete(result, g)
			}
		}
	}
	if len(result) == 0 {
		return nil, nil
	}
	groups, err := readGroupNames(m.o.GroupFile)
	if err != nil {
		return nil, err
	}
	var out []string
	for g := range result {
		if groups[g] {
			out = append(out, g)
		} else {
			m.o.Log.Warn("jituser: group in [[jit.groups]] does not exist in the group file; not granted", "group", g)
		}
	}
	sort.Strings(out)
	return out, nil
}

func readGroupNames(path string) (map[string]bool, error) {
	db, err := readEtc("", path)
	if err != nil {
		return nil, err
	}
	return db.names, nil
}

// NoteLogin records that keys were served to sshd for user (by the
// io.jitssh.Keys service, before it replies): their callers count for
// user's supplementary groups for GroupsWindow. It also records that the
// user was seen. Names that are not JIT users are ignored.
func (m *Manager) NoteLogin(user string, keys []authkeys.Accepted) {
	if len(keys) == 0 {
		return
	}
	st, err := m.store.snapshot()
	if err != nil {
		m.o.Log.Error("jituser: note login", "user", user, "err", err)
		return
	}
	r, ok := st.Users[user]
	if !ok {
		return
	}
	now := m.o.Now()
	m.mu.Lock()
	l := m.logins[user]
	if l == nil {
		l = &logins{callers: map[string]time.Time{}}
		m.logins[user] = l
	}
	m.pruneLocked(l, now)
	for _, k := range keys {
		if _, known := l.callers[k.Caller]; !known && len(l.callers) >= maxCallers {
			l.overflow = now.Add(m.o.Policy.GroupsWindow)
			continue
		}
		l.callers[k.Caller] = now
	}
	// Forget users with nothing left (bounded by the JIT users anyway).
	for u, other := range m.logins {
		if m.pruneLocked(other, now); len(other.callers) == 0 && !now.Before(other.overflow) {
			delete(m.logins, u)
		}
	}
	m.logins[user] = l
	m.mu.Unlock()
	if now.Sub(r.LastSeen) < time.Minute {
		return
	}
	if _, err := m.store.update(func(st *State) error {
		r, ok := st.Users[user]
		if !ok {
			return errSkipWrite
		}
		r.LastSeen = now
		return nil
	}); err != nil && !errors.Is(err, errSkipWrite) {
		m.o.Log.Error("jituser: record last seen", "user", user, "err", err)
	}
}

func (m *Manager) pruneLocked(l *logins, now time.Time) {
	for c, at := range l.callers {
		if now.Sub(at) >= m.o.Policy.GroupsWindow {
			delete(l.callers, c)
		}
	}
}

// loginCallers returns the callers noted for user within the window, or
// nil when there are none or too many.
func (m *Manager) loginCallers(user string) []string {
	now := m.o.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.logins[user]
	if l == nil {
		return nil
	}
	m.pruneLocked(l, now)
	if now.Before(l.overflow) {
		return nil
	}
	out := make([]string, 0, len(l.callers))
	for c := range l.callers {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Memberships lists supplementary memberships: for each user, the groups
// every caller noted for it within the window grants (see the package
// comment). It never asks IMDS. For one user it also records the answer
// in the state (shown by `jitssh-host users list`).
func (m *Manager) Memberships(_ context.Context, user, group string) ([]userdb.Membership, error) {
	st, err := m.store.snapshot()
	if err != nil {
		return nil, err
	}
	var names []string
	if user != "" {
		if _, ok := st.Users[user]; !ok {
			return nil, nil
		}
		names = []string{user}
	} else {
		for _, r := range st.Sorted() {
			names = append(names, r.Name)
		}
	}
	var out []userdb.Membership
	for _, name := range names {
		groups, err := m.groupsFor(m.loginCallers(name))
		if err != nil {
			return nil, err
		}
		if user != "" {
			m.recordGroups(name, groups)
		}
		for _, g := range groups {
			if group == "" || g == group {
				out = append(out, userdb.Membership{User: name, Group: g})
			}
		}
	}
	return out, nil
}

// recordGroups keeps the last groups given to user in the state file.
func (m *Manager) recordGroups(user string, groups []string) {
	if st, err := m.store.snapshot(); err == nil {
		if r, ok := st.Users[user]; ok && slices.Equal(r.Groups, groups) {
			return
		}
	}
	_, err := m.store.update(func(st *State) error {
		r, ok := st.Users[user]
		if !ok || slices.Equal(r.Groups, groups) {
			return errSkipWrite
		}
		r.Groups = groups
		return nil
	})
	if err != nil && !errors.Is(err, errSkipWrite) {
		m.o.Log.Error("jituser: record memberships", "user", user, "err", err)
	}
}
