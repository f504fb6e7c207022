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
	"log/slog"
	"os"
	"slices"
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
