// Package jituser is the just-in-time user policy behind `jitssh-host
// userdb`: it decides who exists, creates users on first lookup, and keeps
// their state. It implements userdb.Directory.
//
// A user is created only when a lookup names a user who has a valid,
// verified EC2 Instance Connect key in IMDS right now (the same
// verification as the AuthorizedKeysCommand), whose name passes ValidName,
// is not reserved, and exists neither in /etc/passwd nor in /etc/group.
// Its UID (and the GID of its primary group, named after it) is derived
// from the name by hashing into the configured range, so it is the same on
// every host unless taken, then probed linearly; a UID is never given to
// another name, even after removal. Its home directory is made from the
// skeleton directory. Lookups by UID, group lookups and enumeration only
// ever see users already created.
//
// Supplementary groups come from the [[jit.groups]] rules on the IAM
// caller of the key: they are computed when nss-systemd asks for the
// user's memberships (initgroups at login), from the keys valid at that
// moment; when several keys from different callers are valid, only the
// groups every one of them grants are given. With no valid key, no
// supplementary group is given.
//
// State lives in one JSON file, written atomically under a file lock, and
// re-read when another process (jitssh-host users remove) changed it.
//
// Lookups come from two kinds of peers (Options.Peer): root, which is sshd
// resolving the user of a login, and everyone else, which is any local
// user calling getpwnam. Names that had no valid key are remembered for
// NegativeTTL, for everyone else's lookups only: root's lookups always ask
// IMDS again (one request, the user's key list), so that a login right
// after a push works even if the name was looked up just before. Everyone
// else's verifications are bounded by Limits (per uid and in total, rate
// and concurrency); over them a lookup is answered "no such user" without
// asking IMDS. Root's and everyone else's first lookups of a name never
// wait for each other.
package jituser

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/userdb"
)

// Verifier returns the keys that pass verification for user right now
// (authkeys.Authorize in production).
type Verifier func(ctx context.Context, user string) ([]authkeys.Accepted, error)

// Options configure a Manager.
type Options struct {
	Policy hostconfig.JIT
	Verify Verifier
	// VerifyTimeout bounds one verification; zero means 3 s.
	VerifyTimeout time.Duration
	// Audit records users created and removed; nil records nothing.
	Audit audit.Recorder
	Log   *slog.Logger
	// PasswdFile and GroupFile default to /etc/passwd and /etc/group.
	PasswdFile, GroupFile string
	// Chown defaults to os.Lchown (tests that do not run as root replace it).
	Chown func(path string, uid, gid int) error
	// Now defaults to time.Now.
	Now func() time.Time
	// Peer tells root's lookups from everyone else's (see the package
	// comment); nil treats every lookup as root's.
	Peer PeerFunc
	// Limits bound the verifications lookups by peers other than root cause.
	Limits Limits
}

// Manager is the JIT user directory. It is safe for concurrent use.
type Manager struct {
	o     Options
	store *store

	lim *limiter

	mu         sync.Mutex
	neg        map[string]time.Time // name → until
	flights    map[flightKey]*flight
	groups     map[string]groupsEntry // live memberships by user
	dropReport time.Time              // last log line about lookups over the limits
}

// flightKey: root's and everyone else's verifications of a name run apart,
// so that root never waits for work another user started.
type flightKey struct {
	name string
	root bool
}

type flight struct {
	done chan struct{}
	user userdb.User
	err  error
}

type groupsEntry struct {
	groups []string
	until  time.Time
}

// groupsTTL is how long a computed membership list is reused (initgroups
// asks more than once per login).
const groupsTTL = 5 * time.Second

// maxNegative bounds the negative cache.
const maxNegative = 4096

// New returns a Manager over the state file in o.Policy.
func New(o Options) (*Manager, error) {
	if o.Verify == nil {
		return nil, errors.New("jituser: no verifier")
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = 3 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.PasswdFile == "" {
		o.PasswdFile = "/etc/passwd"
	}
	if o.GroupFile == "" {
		o.GroupFile = "/etc/group"
	}
	if o.Chown == nil {
		o.Chown = os.Lchown
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := o.Policy
	if p.Service == "" || p.StateFile == "" || p.HomeBase == "" || p.Shell == "" || p.UIDMin == 0 || p.UIDMin > p.UIDMax {
		return nil, fmt.Errorf("jituser: incomplete policy %+v", p)
	}
	st, err := newStore(p.StateFile)
	if err != nil {
		return nil, err
	}
	return &Manager{o: o, store: st, lim: newLimiter(o.Limits), neg: map[string]time.Time{}, flights: map[flightKey]*flight{}, groups: map[string]groupsEntry{}}, nil
}

func (m *Manager) user(r *Record) userdb.User {
	return userdb.User{Name: r.Name, UID: r.UID, GID: r.UID, Home: r.Home, Shell: m.o.Policy.Shell, RealName: "jitssh " + r.Name}
}

// State returns a copy of the current state.
func (m *Manager) State() (*State, error) {
	st, err := m.store.snapshot()
	if err != nil {
		return nil, err
	}
	return st.clone(), nil
}

// Eligible reports why name can never be a JIT user here, or nil.
func (m *Manager) Eligible(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if Reserved(name) || slices.Contains(m.o.Policy.Reserved, name) {
		return fmt.Errorf("%s is a reserved name", name)
	}
	db, err := readEtc(m.o.PasswdFile, m.o.GroupFile)
	if err != nil {
		return err
	}
	if db.names[name] {
		return fmt.Errorf("%s exists in %s or %s", name, m.o.PasswdFile, m.o.GroupFile)
	}
	return nil
}

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
	groups, err := m.groupsFor(keys)
	if err != nil {
		return userdb.User{}, err
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
		uid, err := m.allocate(st, name, db)
		if err != nil {
			return err
		}
		if createdHome, err = createHome(home, m.o.Policy.Skel, int(uid), int(uid), m.o.Chown); err != nil {
			return err
		}
		delete(st.Retired, name)
		rec = &Record{Name: name, UID: uid, Home: home, Groups: groups, Created: now, LastSeen: now, Caller: keys[0].Caller}
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
	m.o.Log.Info("jituser: created user", "user", name, "uid", rec.UID, "groups", groups, "caller", keys[0].Caller)
	m.record(audit.Event{
		Time: now, Event: audit.EventUserCreated, Source: "userdb", OSUser: name, UID: rec.UID,
		Fingerprint: keys[0].Fingerprint, Caller: keys[0].Caller, RequestID: keys[0].RequestID, Expires: keys[0].Expires,
		Detail: fmt.Sprintf("home %s, groups %v", home, groups),
	})
	return m.user(rec), nil
}

// errSkipWrite makes store.update change nothing without failing.
var errSkipWrite = errors.New("nothing to write")

func (m *Manager) record(e audit.Event) {
	if m.o.Audit == nil {
		return
	}
	if err := m.o.Audit.Record(e); err != nil {
		m.o.Log.Error("jituser: audit", "err", err)
	}
}

// specialIDs are never given out.
var specialIDs = map[uint32]bool{0: true, 65534: true, 65535: true, 1<<32 - 2: true, 1<<32 - 1: true}

// HashUID is the UID name gets when nothing else holds it: the same on
// every host with the same range.
func HashUID(name string, lo, hi uint32) uint32 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return lo + uint32(h.Sum64()%(uint64(hi-lo)+1))
}

// allocate picks name's UID: its retired UID if it had one, else its hash
// UID, else the next free one after it (wrapping in the range).
func (m *Manager) allocate(st *State, name string, db etcDB) (uint32, error) {
	used := map[uint32]bool{}
	for _, r := range st.Users {
		used[r.UID] = true
	}
	for n, uid := range st.Retired {
		if n != name {
			used[uid] = true
		}
	}
	free := func(uid uint32) bool { return !used[uid] && !db.ids[uid] && !specialIDs[uid] }
	if uid, ok := st.Retired[name]; ok && free(uid) {
		return uid, nil
	}
	lo, hi := m.o.Policy.UIDMin, m.o.Policy.UIDMax
	size := uint64(hi-lo) + 1
	start := uint64(HashUID(name, lo, hi) - lo)
	for i := uint64(0); i < size; i++ {
		if uid := lo + uint32((start+i)%size); free(uid) {
			return uid, nil
		}
	}
	return 0, fmt.Errorf("no free UID left in %d..%d", lo, hi)
}

// groupsFor returns the supplementary groups the verified keys grant: the
// groups every distinct caller's rules grant, limited to groups that exist
// in /etc/group.
func (m *Manager) groupsFor(keys []authkeys.Accepted) ([]string, error) {
	var result map[string]bool
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.Caller] {
			continue
		}
		seen[k.Caller] = true
		grant := map[string]bool{}
		for _, rule := range m.o.Policy.Groups {
			if k.Caller != "" && matchGlob(rule.Caller, k.Caller) {
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

// UserByUID returns a created JIT user; it never creates one.
func (m *Manager) UserByUID(_ context.Context, uid uint32) (userdb.User, error) {
	st, err := m.store.snapshot()
	if err != nil {
		return userdb.User{}, err
	}
	for _, r := range st.Users {
		if r.UID == uid {
			return m.user(r), nil
		}
	}
	return userdb.User{}, userdb.ErrNotFound
}

// GroupByName returns a JIT user's primary group.
func (m *Manager) GroupByName(_ context.Context, name string) (userdb.Group, error) {
	st, err := m.store.snapshot()
	if err != nil {
		return userdb.Group{}, err
	}
	if r, ok := st.Users[name]; ok {
		return userdb.Group{Name: r.Name, GID: r.UID}, nil
	}
	return userdb.Group{}, userdb.ErrNotFound
}

// GroupByGID returns a JIT user's primary group.
func (m *Manager) GroupByGID(ctx context.Context, gid uint32) (userdb.Group, error) {
	u, err := m.UserByUID(ctx, gid)
	if err != nil {
		return userdb.Group{}, err
	}
	return userdb.Group{Name: u.Name, GID: u.GID}, nil
}

// Users lists the created JIT users.
func (m *Manager) Users(context.Context) ([]userdb.User, error) {
	st, err := m.store.snapshot()
	if err != nil {
		return nil, err
	}
	var out []userdb.User
	for _, r := range st.Sorted() {
		out = append(out, m.user(&r))
	}
	return out, nil
}

// Groups lists the JIT users' primary groups.
func (m *Manager) Groups(ctx context.Context) ([]userdb.Group, error) {
	us, err := m.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]userdb.Group, len(us))
	for i, u := range us {
		out[i] = userdb.Group{Name: u.Name, GID: u.GID}
	}
	return out, nil
}

// Memberships lists supplementary memberships. For one user it computes
// them from the keys valid now (and records them and the time the user was
// seen); otherwise it lists the last recorded ones.
func (m *Manager) Memberships(ctx context.Context, user, group string) ([]userdb.Membership, error) {
	st, err := m.store.snapshot()
	if err != nil {
		return nil, err
	}
	var out []userdb.Membership
	if user != "" {
		if _, ok := st.Users[user]; !ok {
			return nil, nil
		}
		groups, err := m.liveGroups(ctx, user)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if group == "" || g == group {
				out = append(out, userdb.Membership{User: user, Group: g})
			}
		}
		return out, nil
	}
	for _, r := range st.Sorted() {
		for _, g := range r.Groups {
			if group == "" || g == group {
				out = append(out, userdb.Membership{User: r.Name, Group: g})
			}
		}
	}
	return out, nil
}

func (m *Manager) liveGroups(ctx context.Context, user string) ([]string, error) {
	now := m.o.Now()
	m.mu.Lock()
	if e, ok := m.groups[user]; ok && now.Before(e.until) {
		m.mu.Unlock()
		return e.groups, nil
	}
	uid, root := m.peer(ctx)
	if !root && !m.lim.admit(uid, now) {
		// Over the limits: the memberships last recorded, unverified
		// now (only root's lookups, at login, decide a session's groups).
		m.reportDropsLocked(now)
		m.mu.Unlock()
		st, err := m.store.snapshot()
		if err != nil {
			return nil, err
		}
		if r, ok := st.Users[user]; ok {
			return slices.Clone(r.Groups), nil
		}
		return nil, nil
	}
	m.mu.Unlock()
	vctx, cancel := context.WithTimeout(ctx, m.o.VerifyTimeout)
	keys, err := m.o.Verify(vctx, user)
	cancel()
	if !root {
		m.lim.done()
	}
	var groups []string
	if err == nil && len(keys) > 0 {
		if groups, err = m.groupsFor(keys); err != nil {
			return nil, err
		}
	}
	seen := err == nil && len(keys) > 0
	_, uerr := m.store.update(func(st *State) error {
		r, ok := st.Users[user]
		if !ok {
			return errSkipWrite
		}
		changed := !slices.Equal(r.Groups, groups)
		if !changed && (!seen || now.Sub(r.LastSeen) < time.Minute) {
			return errSkipWrite
		}
		r.Groups = groups
		if seen {
			r.LastSeen = now
		}
		return nil
	})
	if uerr != nil && !errors.Is(uerr, errSkipWrite) {
		m.o.Log.Error("jituser: record memberships", "user", user, "err", uerr)
	}
	m.mu.Lock()
	m.groups[user] = groupsEntry{groups: groups, until: now.Add(groupsTTL)}
	m.mu.Unlock()
	return groups, nil
}

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
		if _, err := KillSessions("", r.UID, name); err != nil {
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
	delete(m.groups, name)
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
