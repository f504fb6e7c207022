package jituser

// Lookups of a name, and the creation of a JIT user when the policy allows.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/userdb"
)

// UserByName returns a JIT user, creating it when the policy allows.
func (m *Manager) UserByName(ctx context.Context, name string) (userdb.User, error) {
	st, err := m.store.snapshot()
	if err != nil {
		return userdb.User{}, err
	}
	if r, ok := st.Users[name]; ok {
		return m.user(r), nil
	}
	if ValidName(name) != nil || Reserved(name) {
		return userdb.User{}, userdb.ErrNotFound // the fast path: no I/O
	}
	uid, root := m.peer(ctx)
	now := m.o.Now()
	key := flightKey{name: name, root: root}
	m.mu.Lock()
	if until, ok := m.neg[name]; ok && !root && now.Before(until) {
		m.mu.Unlock()
		return userdb.User{}, userdb.ErrNotFound
	}
	f, running := m.flights[key]
	if !running {
		if !root && !m.lim.admit(uid, now) {
			m.reportDropsLocked(now)
			m.mu.Unlock()
			overDelay(ctx, m.lim.l.OverDelay)
			return userdb.User{}, userdb.ErrNotFound // not verified: not remembered
		}
		f = &flight{done: make(chan struct{})}
		m.flights[key] = f
	}
	m.mu.Unlock()
	if !running {
		// Detached from the caller: other lookups wait for this result.
		f.user, f.err = m.create(context.WithoutCancel(ctx), name)
		if !root {
			m.lim.done()
		}
		m.mu.Lock()
		delete(m.flights, key)
		if errors.Is(f.err, userdb.ErrNotFound) && m.o.Policy.NegativeTTL > 0 {
			m.rememberMissLocked(name, m.o.Now())
		}
		m.mu.Unlock()
		close(f.done)
	}
	select {
	case <-f.done:
		return f.user, f.err
	case <-ctx.Done():
		return userdb.User{}, ctx.Err()
	}
}

// overDelay waits d, or until ctx is done: the answer to a lookup over
// the limits is slow, so that a flood paces itself.
func overDelay(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// peer returns the uid a lookup comes from and whether it counts as root's.
func (m *Manager) peer(ctx context.Context) (uint32, bool) {
	if m.o.Peer == nil {
		return 0, true
	}
	uid, ok := m.o.Peer(ctx)
	return uid, !ok || uid == 0
}

// rememberMissLocked adds name to the negative cache, making room by
// dropping expired entries (or, failing that, all of them).
func (m *Manager) rememberMissLocked(name string, now time.Time) {
	if len(m.neg) >= maxNegative {
		for n, until := range m.neg {
			if !now.Before(until) {
				delete(m.neg, n)
			}
		}
		if len(m.neg) >= maxNegative {
			clear(m.neg)
		}
	}
	m.neg[name] = now.Add(m.o.Policy.NegativeTTL)
}

// dropReportEvery is how often lookups refused over the limits are logged,
// as one line with counts per uid.
const dropReportEvery = time.Minute

func (m *Manager) reportDropsLocked(now time.Time) {
	if now.Sub(m.dropReport) < dropReportEvery {
		return
	}
	if d := m.lim.takeDropped(); d != nil {
		m.dropReport = now
		m.o.Log.Warn("jituser: lookups by non-root users over the verification limits answered \"no such user\" without asking IMDS", "by_uid", d)
	}
}

// create verifies name's keys and creates the user.
func (m *Manager) create(ctx context.Context, name string) (userdb.User, error) {
	if err := m.Eligible(name); err != nil {
		m.o.Log.Debug("jituser: not eligible", "user", name, "err", err)
		if errors.Is(err, ErrBlocked) {
			m.o.Log.Info("jituser: not creating a blocked user", "user", name)
			m.record(audit.Event{Time: m.o.Now(), Event: audit.EventUserRefused, Source: "userdb", OSUser: name, Reason: "blocked", Detail: err.Error()})
		}
		return userdb.User{}, userdb.ErrNotFound
	}
	vctx, cancel := context.WithTimeout(ctx, m.o.VerifyTimeout)
	keys, err := m.o.Verify(vctx, name)
	cancel()
	if err != nil {
		m.o.Log.Info("jituser: not creating user: key verification failed", "user", name, "reason", authkeys.ReasonOf(err), "err", err)
		return userdb.User{}, userdb.ErrNotFound
	}
	if len(keys) == 0 {
		return userdb.User{}, userdb.ErrNotFound
	}
	now := m.o.Now()
	var (
		rec         *Record
		createdHome bool
		existed     bool
	)
	home := filepath.Join(m.o.Policy.HomeBase, name)
	_, err = m.store.update(func(st *State) error {
		if r, ok := st.Users[name]; ok {
			rec, existed = r, true
			return errSkipWrite
		}
		if err := m.Eligible(name); err != nil { // /etc/passwd may have changed
			return fmt.Errorf("%w: %v", userdb.ErrNotFound, err)
		}
		db, err := readEtc(m.o.PasswdFile, m.o.GroupFile)
		if err != nil {
			return err
		}
		sub, err := m.subIDs()
		if err != nil {
			return err
		}
		uid, err := m.allocate(st, name, db, sub)
		if err != nil {
			return err
		}
		if createdHome, err = createHome(m.o.Policy.HomeBase, name, m.o.Policy.Skel, int(uid), int(uid), m.o.Chown); err != nil {
			return err
		}
		delete(st.Retired, name)
		rec = &Record{Name: name, UID: uid, Home: home, Created: now, LastSeen: now, Caller: keys[0].Caller}
		st.Users[name] = rec
		return nil
	})
	if existed {
		return m.user(rec), nil
	}
	if err != nil {
		if createdHome {
			os.RemoveAll(home)
		}
		if errors.Is(err, userdb.ErrNotFound) {
			return userdb.User{}, userdb.ErrNotFound
		}
		m.o.Log.Error("jituser: could not create user", "user", name, "err", err)
		return userdb.User{}, fmt.Errorf("create %s: %w", name, err)
	}
	m.o.Log.Info("jituser: created user", "user", name, "uid", rec.UID, "caller", keys[0].Caller)
	m.record(audit.Event{
		Time: now, Event: audit.EventUserCreated, Source: "userdb", OSUser: name, UID: rec.UID,
		Fingerprint: keys[0].Fingerprint, Caller: keys[0].Caller, RequestID: keys[0].RequestID, Expires: keys[0].Expires,
		Detail: "home " + home,
	})
	return m.user(rec), nil
}
