// Package jituser is the just-in-time user policy behind `jitssh-host
// userdb`: it decides who exists, creates users on first lookup, and keeps
// their state. It implements userdb.Directory.
//
// A user is created only when a lookup names a user who has a valid,
// verified EC2 Instance Connect key in IMDS right now (the same
// verification as the AuthorizedKeysCommand), whose name passes ValidName,
// is not on the deny list (Reserved, and [jit] reserved), not on the
// runtime block list (internal/host/blocklist), and exists neither in
// /etc/passwd nor in /etc/group. Its UID (and the GID of its primary
// group, named after it) is derived from the name by hashing into the
// configured range, so it is the same on every host unless taken, then
// probed linearly; UIDs in /etc/passwd, /etc/group, /etc/subuid and
// /etc/subgid ranges are never given out, and a UID is never given to
// another name, even after removal. Its home directory is made from the
// skeleton directory, crash-safely (see createHome). Lookups by UID, group
// lookups and enumeration only ever see users already created.
//
// Supplementary groups are bound to the key that authenticated the login,
// not to whatever keys are valid when glibc asks. sshd runs the
// AuthorizedKeysCommand (jitssh-authkeys → io.jitssh.Keys in this
// process) with the offered key's fingerprint; every key the service
// serves is noted with its IAM caller (NoteLogin) for GroupsWindow. When
// sshd then calls initgroups, nss-systemd asks for the user's memberships
// by name only; the answer is the groups that every caller noted for that
// user within the window grants ([[jit.groups]] rules), so:
//
//   - a login can only get groups its own key's caller grants: its own
//     key was noted before sshd accepted it, and the window (sshd's
//     LoginGraceTime plus a margin) covers the time from that note to
//     initgroups, so it is always in the intersection;
//   - when two logins of different roles race, both get only what both
//     callers grant (fail closed: an admin logging in within the window
//     after a read-only login gets no sudo, and can log in again later);
//   - with no noted login (root's su, cron, a lookup long after the
//     login), no supplementary group is given.
//
// The group set of a session is what initgroups gave sshd at login; the
// kernel keeps it for the session's processes (sudo reads it by default,
// group_source=static), whatever later lookups answer.
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
	"github.com/jitssh/jitssh/internal/host/blocklist"
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
	// SubUIDFile and SubGIDFile default to /etc/subuid and /etc/subgid;
	// their ranges are never given out. "-" means none.
	SubUIDFile, SubGIDFile string
	// BlockFile is the runtime block list; "" means none.
	BlockFile string
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
	logins     map[string]*logins // by user: callers of keys recently served
	dropReport time.Time          // last log line about lookups over the limits
}

// flightKey: root's and everyone else's verifications of a name run apart,
// so that root never waits for work another user started.
type flightKey struct {
	name string
	root bool
}

// logins are the IAM callers whose keys were served for one user (to sshd,
// for a login) within the groups window.
type logins struct {
	callers map[string]time.Time // caller → last served
	// overflow: too many distinct callers; no groups until this time.
	overflow time.Time
}

// maxCallers bounds the callers remembered per user; more within the
// window means no supplementary groups until the window has passed.
const maxCallers = 64

type flight struct {
	done chan struct{}
	user userdb.User
	err  error
}

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
	if o.SubUIDFile == "" {
		o.SubUIDFile = "/etc/subuid"
	}
	if o.SubGIDFile == "" {
		o.SubGIDFile = "/etc/subgid"
	}
	if o.Policy.GroupsWindow <= 0 {
		o.Policy.GroupsWindow = hostconfig.DefaultGroupsWindow
	}
	p := o.Policy
	if p.Service == "" || p.StateFile == "" || p.HomeBase == "" || p.Shell == "" || p.UIDMin == 0 || p.UIDMin > p.UIDMax {
		return nil, fmt.Errorf("jituser: incomplete policy %+v", p)
	}
	st, err := newStore(p.StateFile)
	if err != nil {
		return nil, err
	}
	return &Manager{o: o, store: st, lim: newLimiter(o.Limits), neg: map[string]time.Time{}, flights: map[flightKey]*flight{}, logins: map[string]*logins{}}, nil
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
	if blocked, err := blocklist.Blocked(m.o.BlockFile, name); err != nil {
		return err
	} else if blocked {
		return fmt.Errorf("%w: %s is on %s", ErrBlocked, name, m.o.BlockFile)
	}
	return nil
}

// ErrBlocked: the name is on the runtime block list.
var ErrBlocked = errors.New("blocked")

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

// subIDs reads the subordinate UID and GID ranges.
func (m *Manager) subIDs() ([]idRange, error) {
	var paths []string
	for _, p := range []string{m.o.SubUIDFile, m.o.SubGIDFile} {
		if p != "-" {
			paths = append(paths, p)
		}
	}
	return readSubIDs(paths...)
}

// allocate picks name's UID: its retired UID if it had one, else its hash
// UID, else the next free one after it (wrapping in the range). Free means:
// not held by another JIT user, live or retired, not in /etc/passwd or
// /etc/group, not in a /etc/subuid or /etc/subgid range (the UID is the
// GID too), and not a special id. The choice depends only on the state and
// those files, so a creation that crashed after its home was renamed into
// place picks the same UID again and createHome reuses that home; an
// existing home is never adopted by its owner's UID (it could belong to a
// directory user with that UID).
func (m *Manager) allocate(st *State, name string, db etcDB, sub []idRange) (uint32, error) {
	used := map[uint32]bool{}
	for _, r := range st.Users {
		used[r.UID] = true
	}
	for n, uid := range st.Retired {
		if n != name {
			used[uid] = true
		}
	}
	lo, hi := m.o.Policy.UIDMin, m.o.Policy.UIDMax
	free := func(uid uint32) bool {
		if used[uid] || db.ids[uid] || specialIDs[uid] {
			return false
		}
		for _, r := range sub {
			if r.contains(uid) {
				return false
			}
		}
		return true
	}
	if uid, ok := st.Retired[name]; ok && free(uid) {
		return uid, nil
	}
	size := uint64(hi-lo) + 1
	start := uint64(HashUID(name, lo, hi) - lo)
	for i := uint64(0); i < size; i++ {
		uid := lo + uint32((start+i)%size)
		if free(uid) {
			return uid, nil
		}
		// Skip a subordinate range in one step (to its end, or to hi).
		for _, r := range sub {
			if r.contains(uid) {
				i += min(r.start+r.count, uint64(hi)+1) - uint64(uid) - 1
				break
			}
		}
	}
	return 0, fmt.Errorf("no free UID left in %d..%d", lo, hi)
}

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
