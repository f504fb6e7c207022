package jituser_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/blocklist"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/jituser"
	"github.com/jitssh/jitssh/internal/host/userdb"
)

const (
	admin = "arn:aws:sts::123456789012:assumed-role/Admin/alice"
	dev   = "arn:aws:sts::123456789012:assumed-role/Developer/bob"
)

// keys is a fake Verifier: the keys valid now, by user.
type keys struct {
	mu    sync.Mutex
	by    map[string][]authkeys.Accepted
	fail  map[string]error
	calls atomic.Int64
}

func (k *keys) set(user string, callers ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var acc []authkeys.Accepted
	for i, c := range callers {
		acc = append(acc, authkeys.Accepted{Fingerprint: fmt.Sprintf("SHA256:fp%d", i), Caller: c, RequestID: "req", Expires: time.Now().Add(time.Minute)})
	}
	k.by[user] = acc
}

// served is what io.jitssh.Keys served for a login: one key per caller.
func served(callers ...string) []authkeys.Accepted {
	var acc []authkeys.Accepted
	for i, c := range callers {
		acc = append(acc, authkeys.Accepted{Fingerprint: fmt.Sprintf("SHA256:fp%d", i), Caller: c})
	}
	return acc
}

func (k *keys) verify(ctx context.Context, user string) ([]authkeys.Accepted, error) {
	k.calls.Add(1)
	time.Sleep(2 * time.Millisecond) // an IMDS round trip: lets concurrent lookups pile up
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.fail[user]; err != nil {
		return nil, err
	}
	return k.by[user], nil
}

type rec struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *rec) Record(e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

type fixture struct {
	t      *testing.T
	dir    string
	keys   *keys
	audit  *rec
	opts   jituser.Options
	owners sync.Map // path → "uid:gid", when not root
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	skel := filepath.Join(dir, "skel")
	os.MkdirAll(filepath.Join(skel, ".config"), 0o755)
	os.WriteFile(filepath.Join(skel, ".bashrc"), []byte("# skel\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "passwd"), []byte("root:x:0:0:root:/root:/bin/bash\nolduser:x:1000:1000::/home/olduser:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "group"), []byte("root:x:0:\nsudo:x:27:olduser\nadm:x:4:\nolduser:x:1000:\n"), 0o644)
	f := &fixture{t: t, dir: dir, keys: &keys{by: map[string][]authkeys.Accepted{}, fail: map[string]error{}}, audit: &rec{}}
	pol := hostconfig.Default().JIT
	pol.StateFile = filepath.Join(dir, "state", "users.json")
	pol.HomeBase = filepath.Join(dir, "home")
	pol.Skel = skel
	pol.UIDMin, pol.UIDMax = 5000, 5999
	pol.Groups = []hostconfig.GroupRule{
		{Caller: "arn:aws:sts::*:assumed-role/Admin/*", Groups: []string{"sudo", "adm", "nosuchgroup"}},
		{Caller: "arn:aws:sts::*:assumed-role/*", Groups: []string{"adm"}},
	}
	f.opts = jituser.Options{
		Policy: pol, Verify: f.keys.verify, Audit: f.audit, Peer: peerOf,
		PasswdFile: filepath.Join(dir, "passwd"), GroupFile: filepath.Join(dir, "group"),
		SubUIDFile: filepath.Join(dir, "subuid"), SubGIDFile: filepath.Join(dir, "subgid"),
		BlockFile: filepath.Join(dir, "blocked"),
	}
	if os.Geteuid() != 0 {
		f.opts.Chown = func(p string, uid, gid int) error {
			f.owners.Store(p, fmt.Sprintf("%d:%d", uid, gid))
			return nil
		}
	}
	return f
}

func (f *fixture) manager() *jituser.Manager {
	f.t.Helper()
	m, err := jituser.New(f.opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fixture) owner(p string) string {
	if os.Geteuid() != 0 {
		v, _ := f.owners.Load(p)
		s, _ := v.(string)
		return s
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return ""
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

func TestValidName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"alice", "marcus.young", "a_b-c", "_x", "u1"} {
		if err := jituser.ValidName(ok); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "../x", "a/b", "a b", strings.Repeat("a", 300), strings.Repeat("a", 33),
		"ROOT", "Root", "Alice", "-x", "-oProxyCommand=x", "1abc", "a..b", "a.", ".a", "a@b", "a$", "a\x00b", "a\nb", "é"} {
		if jituser.ValidName(bad) == nil {
			t.Errorf("ValidName(%q) accepted", bad)
		}
	}
}

func TestCreateOnVerifiedKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	f.keys.set("alice", admin)

	u, err := m.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.UID != jituser.HashUID("alice", 5000, 5999) || u.GID != u.UID || u.Home != filepath.Join(f.dir, "home", "alice") || u.Shell != "/bin/bash" {
		t.Errorf("user = %+v", u)
	}
	fi, err := os.Stat(u.Home)
	if err != nil || fi.Mode().Perm() != jituser.HomeMode {
		t.Fatalf("home: %v, %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(u.Home, ".bashrc")); err != nil || string(b) != "# skel\n" {
		t.Errorf("skel .bashrc: %q, %v", b, err)
	}
	want := fmt.Sprintf("%d:%d", u.UID, u.GID)
	for _, p := range []string{u.Home, filepath.Join(u.Home, ".bashrc"), filepath.Join(u.Home, ".config")} {
		if got := f.owner(p); got != want {
			t.Errorf("owner of %s = %q, want %q", p, got, want)
		}
	}
	// No login yet: no supplementary group.
	if ms, err := m.Memberships(ctx, "alice", ""); err != nil || len(ms) != 0 {
		t.Errorf("memberships before a login = %v, %v", ms, err)
	}
	// A login with the Admin's key gets sudo and adm (nosuchgroup is not
	// in the group file).
	m.NoteLogin("alice", served(admin))
	ms, err := m.Memberships(ctx, "alice", "")
	if err != nil || fmt.Sprint(ms) != "[{alice adm} {alice sudo}]" {
		t.Errorf("memberships = %v, %v", ms, err)
	}
	if g, err := m.GroupByName(ctx, "alice"); err != nil || g.GID != u.UID {
		t.Errorf("primary group = %+v, %v", g, err)
	}
	if got, err := m.UserByUID(ctx, u.UID); err != nil || got != u {
		t.Errorf("by uid = %+v, %v", got, err)
	}
	ev := f.audit.events
	if len(ev) != 1 || ev[0].Event != audit.EventUserCreated || ev[0].Caller != admin || ev[0].UID != u.UID || ev[0].Source != "userdb" {
		t.Errorf("audit = %+v", ev)
	}

	// A restart keeps the user and its UID; another manager sees it too.
	m2 := f.manager()
	if u2, err := m2.UserByName(ctx, "alice"); err != nil || u2 != u {
		t.Errorf("after restart: %+v, %v", u2, err)
	}
}

func TestNeverCreated(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.opts.Policy.Reserved = []string{"deploy"}
	m := f.manager()
	ctx := context.Background()
	// A group that exists only in the group file, and a blocked name.
	os.WriteFile(f.opts.GroupFile, []byte("root:x:0:\nsudo:x:27:olduser\nadm:x:4:\nolduser:x:1000:\npowerful:x:990:\n"), 0o644)
	os.WriteFile(f.opts.BlockFile, []byte("# blocked\nmallory\n"), 0o644)
	names := []string{"root", "olduser", "sudo", "nobody", "deploy", "systemd-x", "../x", "a b", strings.Repeat("a", 300), "ROOT", "Root", "-x", "nokey", "failing",
		// Group names with powers on common images, existing or not.
		"admin", "wheel", "adm", "docker", "lxd", "systemd-journal", "libvirt", "incus-admin", "google-sudoers", "powerful", "mallory"}
	for _, n := range names {
		if n != "nokey" {
			f.keys.set(n, admin) // a valid key would be there
		}
	}
	f.keys.fail["failing"] = &authkeys.Error{Reason: authkeys.ReasonUntrustedSigner, Err: errors.New("x")}
	for _, n := range names {
		if u, err := m.UserByName(ctx, n); !errors.Is(err, userdb.ErrNotFound) {
			t.Errorf("UserByName(%q) = %+v, %v; want not found", n, u, err)
		}
	}
	st, _ := m.State()
	if len(st.Users) != 0 {
		t.Errorf("users created: %v", st.Users)
	}
	entries, _ := os.ReadDir(filepath.Join(f.dir, "home"))
	if len(entries) != 0 {
		t.Errorf("home directories created: %v", entries)
	}
	// Only the two eligible names reached IMDS.
	if n := f.keys.calls.Load(); n != 2 {
		t.Errorf("%d verifications, want 2 (nokey, failing)", n)
	}
	// The blocked name's refusal is audited.
	var refused bool
	for _, e := range f.audit.events {
		refused = refused || (e.Event == audit.EventUserRefused && e.OSUser == "mallory" && e.Reason == "blocked")
	}
	if !refused {
		t.Errorf("no user-refused audit event for the blocked name: %+v", f.audit.events)
	}
	// The deny list is documented in docs/instance.md.
	doc, err := os.ReadFile("../../../docs/instance.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range jituser.ReservedNames() {
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("reserved name %q is not listed in docs/instance.md", n)
		}
	}
}

// TestBlockListRefusesCreation: a blocked name is not created (nor
// re-created after removal while its key is valid); an unreadable block
// list refuses every creation; unblocking lets it be created again.
func TestBlockListRefusesCreation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.opts.Policy.NegativeTTL = 0
	m := f.manager()
	ctx := context.Background()
	f.keys.set("bob", dev)
	if _, err := m.UserByName(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := blocklist.Add(f.opts.BlockFile, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Remove("bob", "test", "cli"); err != nil {
		t.Fatal(err)
	}
	if u, err := m.UserByName(ctx, "bob"); !errors.Is(err, userdb.ErrNotFound) {
		t.Errorf("blocked bob re-created after remove: %+v, %v", u, err)
	}
	os.WriteFile(f.opts.BlockFile, []byte("bob\n"), 0o666)
	os.Chmod(f.opts.BlockFile, 0o666)
	f.keys.set("carl", dev)
	if u, err := m.UserByName(ctx, "carl"); !errors.Is(err, userdb.ErrNotFound) {
		t.Errorf("created with a group-writable block list: %+v, %v", u, err)
	}
	os.Remove(f.opts.BlockFile)
	if _, err := m.UserByName(ctx, "bob"); err != nil {
		t.Errorf("unblocked bob: %v", err)
	}
}

// peerKey carries the uid of a test lookup's peer; none is root's.
type peerKey struct{}

func asUID(uid uint32) context.Context {
	return context.WithValue(context.Background(), peerKey{}, uid)
}

func peerOf(ctx context.Context) (uint32, bool) {
	uid, ok := ctx.Value(peerKey{}).(uint32)
	return uid, ok
}

// Misses are remembered for lookups by users other than root; root's
// lookups (sshd's, at login) ask again, so a login right after a lookup of
// a not-yet-pushed name works (issue 10: a getent before the push made the
// login fail).
func TestNegativeCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	var mu sync.Mutex
	f.opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := f.manager()
	user := asUID(1000)
	for i := 0; i < 20; i++ {
		m.UserByName(user, "carol")
	}
	if n := f.keys.calls.Load(); n != 1 {
		t.Errorf("%d verifications for 20 lookups, want 1", n)
	}
	f.keys.set("carol", dev)
	if _, err := m.UserByName(user, "carol"); !errors.Is(err, userdb.ErrNotFound) {
		t.Errorf("within the negative TTL: %v", err)
	}
	mu.Lock()
	now = now.Add(hostconfig.DefaultNegativeTTL + time.Millisecond)
	mu.Unlock()
	if _, err := m.UserByName(user, "carol"); err != nil {
		t.Errorf("after the negative TTL: %v", err)
	}

	// Root: looked up (by root or anyone), pushed, looked up by root at
	// once: created.
	for _, first := range []context.Context{asUID(0), asUID(1000), context.Background()} {
		name := fmt.Sprintf("dave%d", f.keys.calls.Load())
		if _, err := m.UserByName(first, name); !errors.Is(err, userdb.ErrNotFound) {
			t.Fatalf("before the push: %v", err)
		}
		f.keys.set(name, dev)
		for _, root := range []context.Context{asUID(0), context.Background()} {
			if u, err := m.UserByName(root, name); err != nil || u.Name != name {
				t.Errorf("root's lookup right after the push: %+v, %v", u, err)
			}
		}
	}
}

// Lookups of made-up names by a user other than root verify at most the
// configured burst, per uid and in total; the rest are answered "no such
// user" without a verification (and not remembered, so the name can be
// created later); root's lookups are never limited, and never wait for a
// verification someone else started.
func TestLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.opts.Limits = jituser.Limits{PerPeerRate: 0.001, PerPeerBurst: 5, Rate: 0.001, Burst: 8, Concurrent: 2, OverDelay: time.Millisecond}
	m := f.manager()
	for i := 0; i < 100; i++ {
		m.UserByName(asUID(1000), fmt.Sprintf("flood%d", i))
	}
	if n := f.keys.calls.Load(); n != 5 {
		t.Errorf("uid 1000: %d verifications for 100 names, want 5 (its burst)", n)
	}
	for i := 0; i < 100; i++ {
		m.UserByName(asUID(1001), fmt.Sprintf("other%d", i))
	}
	if n := f.keys.calls.Load(); n != 8 {
		t.Errorf("uids 1000 and 1001: %d verifications, want 8 (the total burst)", n)
	}
	// A name refused over the limit was not remembered: root creates it.
	f.keys.set("flood99", dev)
	if u, err := m.UserByName(asUID(0), "flood99"); err != nil || u.Name != "flood99" {
		t.Errorf("root after the flood: %+v, %v", u, err)
	}
	before := f.keys.calls.Load()
	for i := 0; i < 50; i++ {
		m.UserByName(asUID(0), fmt.Sprintf("rootflood%d", i))
	}
	if n := f.keys.calls.Load() - before; n != 50 {
		t.Errorf("root: %d verifications for 50 names, want 50", n)
	}
}

// A lookup over the limits answers "no such user" only after OverDelay, so
// that a flood paces itself instead of spinning against the service; root's
// lookups never wait.
func TestOverLimitAnswersSlowly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.opts.Limits = jituser.Limits{PerPeerRate: 0.001, PerPeerBurst: 1, Rate: 0.001, Burst: 1, Concurrent: 1, OverDelay: 300 * time.Millisecond}
	m := f.manager()
	m.UserByName(asUID(1000), "first") // the burst
	start := time.Now()
	if _, err := m.UserByName(asUID(1000), "second"); !errors.Is(err, userdb.ErrNotFound) {
		t.Fatalf("over the limit: %v, want not found", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("a lookup over the limit answered after %v, want about 300ms", d)
	}
	start = time.Now()
	m.UserByName(asUID(0), "rootname")
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("root's lookup took %v", d)
	}
}

// A verification a non-root user started (slow IMDS) does not hold up
// root's lookup of the same name.
func TestRootDoesNotWait(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	release := make(chan struct{})
	f.opts.Verify = func(ctx context.Context, user string) ([]authkeys.Accepted, error) {
		if uid, ok := peerOf(ctx); ok && uid != 0 {
			<-release
		}
		return f.keys.verify(ctx, user)
	}
	m := f.manager()
	f.keys.set("erin", dev)
	done := make(chan error, 1)
	go func() { _, err := m.UserByName(asUID(1000), "erin"); done <- err }()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(asUID(0), 5*time.Second)
	defer cancel()
	if u, err := m.UserByName(ctx, "erin"); err != nil || u.Name != "erin" {
		t.Errorf("root's lookup while another user's is stuck: %+v, %v", u, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("the other user's lookup: %v", err)
	}
}

// TestConcurrentFirstLookups: 50 concurrent lookups of 10 new names create
// exactly 10 users with distinct UIDs, verifying each name once.
func TestConcurrentFirstLookups(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	m2 := f.manager() // a second process on the same state file
	var names []string
	for i := 0; i < 10; i++ {
		n := fmt.Sprintf("user%d", i)
		names = append(names, n)
		f.keys.set(n, dev)
	}
	var wg sync.WaitGroup
	uids := make([]uint32, 50)
	errs := make([]error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mm := m
			if i%2 == 1 {
				mm = m2
			}
			u, err := mm.UserByName(context.Background(), names[i%10])
			uids[i], errs[i] = u.UID, err
		}()
	}
	wg.Wait()
	byName := map[string]uint32{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
		if prev, ok := byName[names[i%10]]; ok && prev != uids[i] {
			t.Errorf("%s got UIDs %d and %d", names[i%10], prev, uids[i])
		}
		byName[names[i%10]] = uids[i]
	}
	st, _ := m.State()
	seen := map[uint32]string{}
	for _, r := range st.Users {
		if other, dup := seen[r.UID]; dup {
			t.Errorf("UID %d given to %s and %s", r.UID, other, r.Name)
		}
		seen[r.UID] = r.Name
	}
	if len(st.Users) != 10 || len(seen) != 10 {
		t.Errorf("%d users with %d UIDs, want 10", len(st.Users), len(seen))
	}
	if n := f.keys.calls.Load(); n > 20 {
		t.Errorf("%d verifications for 10 names in 2 processes", n)
	}
}

func TestUIDCollisionsAndRetirement(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Take alice's hash UID in /etc/passwd.
	h := jituser.HashUID("alice", 5000, 5999)
	os.WriteFile(f.opts.PasswdFile, fmt.Appendf(nil, "root:x:0:0::/root:/bin/sh\nsquatter:x:%d:%d::/:/bin/sh\n", h, h), 0o644)
	m := f.manager()
	ctx := context.Background()
	f.keys.set("alice", dev)
	u, err := m.UserByName(ctx, "alice")
	if err != nil || u.UID == h || u.UID < 5000 || u.UID > 5999 {
		t.Fatalf("alice = %+v, %v; want a UID other than %d in range", u, err, h)
	}
	if _, err := m.Remove("alice", "test", "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(u.Home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("home still there: %v", err)
	}
	if _, err := m.UserByUID(ctx, u.UID); !errors.Is(err, userdb.ErrNotFound) {
		t.Errorf("removed user still answered by UID: %v", err)
	}
	st, _ := m.State()
	if st.Retired["alice"] != u.UID {
		t.Errorf("retired = %v", st.Retired)
	}
	// Back again: the same UID.
	u2, err := m.UserByName(ctx, "alice")
	if err != nil || u2.UID != u.UID {
		t.Errorf("alice again = %+v, %v; want UID %d", u2, err, u.UID)
	}
	if _, err := m.Remove("nobody-here", "test", "cli"); err == nil {
		t.Error("removed a user that is not a JIT user")
	}
}

// TestGroupsBoundToLogins: supplementary groups come from the callers of
// the keys served for logins within the window, never from other keys that
// are valid in IMDS; two roles within the window get only what both grant.
func TestGroupsBoundToLogins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	var mu sync.Mutex
	f.opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f.opts.Policy.GroupsWindow = 10 * time.Second
	m := f.manager()
	ctx := context.Background()
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	f.keys.set("dana", admin, dev) // both roles' keys valid in IMDS all along
	if _, err := m.UserByName(ctx, "dana"); err != nil {
		t.Fatal(err)
	}
	check := func(what, want string) {
		t.Helper()
		ms, err := m.Memberships(ctx, "dana", "")
		if err != nil || fmt.Sprint(ms) != want {
			t.Errorf("%s: memberships %v, %v; want %s", what, ms, err, want)
		}
	}
	check("no login", "[]")
	m.NoteLogin("dana", served(admin))
	check("admin login", "[{dana adm} {dana sudo}]")
	// The leak: a read-only login right after the admin's gets no sudo.
	advance(3 * time.Second)
	m.NoteLogin("dana", served(dev))
	check("developer login 3s after the admin's", "[{dana adm}]")
	advance(8 * time.Second) // the admin's login is out of the window
	check("developer alone", "[{dana adm}]")
	advance(3 * time.Second)
	check("nobody within the window", "[]")
	m.NoteLogin("dana", served(admin))
	check("admin again", "[{dana adm} {dana sudo}]")
	if ms, _ := m.Memberships(ctx, "", "sudo"); fmt.Sprint(ms) != "[{dana sudo}]" {
		t.Errorf("enumeration = %v", ms)
	}
	advance(11 * time.Second)
	if ms, _ := m.Memberships(ctx, "", "sudo"); len(ms) != 0 {
		t.Errorf("enumeration still lists sudo: %v", ms)
	}
	// Non-JIT users are not remembered.
	m.NoteLogin("olduser", served(admin))
	if ms, _ := m.Memberships(ctx, "olduser", ""); len(ms) != 0 {
		t.Errorf("olduser memberships = %v", ms)
	}
}

// TestGroupsRace: logins of two roles racing for one user; a membership
// answer after the developer's key was served never holds sudo.
func TestGroupsRace(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	f.keys.set("erin", admin)
	if _, err := m.UserByName(ctx, "erin"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var leaks atomic.Int64
	for i := 0; i < 200; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			m.NoteLogin("erin", served(admin))
			m.Memberships(ctx, "erin", "")
		}()
		go func() {
			defer wg.Done()
			m.NoteLogin("erin", served(dev))
			ms, _ := m.Memberships(ctx, "erin", "")
			for _, g := range ms {
				if g.Group == "sudo" {
					leaks.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := leaks.Load(); n != 0 {
		t.Errorf("%d developer logins got sudo", n)
	}
}

// TestSubIDRangesAvoided: UIDs in /etc/subuid or /etc/subgid ranges are
// never given out, not even a retired one; a malformed file stops creation.
func TestSubIDRangesAvoided(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h := jituser.HashUID("alice", 5000, 5999)
	// alice's hash UID and the 100 after it belong to containers.
	os.WriteFile(f.opts.SubUIDFile, fmt.Appendf(nil, "# containers\nlxd:%d:50\n", h), 0o644)
	os.WriteFile(f.opts.SubGIDFile, fmt.Appendf(nil, "1000:%d:100\n", h+10), 0o644)
	m := f.manager()
	ctx := context.Background()
	f.keys.set("alice", dev)
	u, err := m.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.UID >= h && u.UID < h+110 {
		t.Errorf("alice got UID %d, inside a subordinate range %d..%d", u.UID, h, h+109)
	}
	if u.UID < 5000 || u.UID > 5999 {
		t.Errorf("alice got UID %d, outside the range", u.UID)
	}
	// The whole range taken: no UID, no user.
	os.WriteFile(f.opts.SubUIDFile, []byte("x:4000:3000\n"), 0o644)
	f.keys.set("bob", dev)
	if u, err := m.UserByName(ctx, "bob"); err == nil {
		t.Errorf("bob created inside the subordinate ranges: %+v", u)
	}
	os.WriteFile(f.opts.SubUIDFile, []byte("x:notanumber:3\n"), 0o644)
	f.keys.set("carl", dev)
	if u, err := m.UserByName(ctx, "carl"); err == nil {
		t.Errorf("carl created with a malformed subuid file: %+v", u)
	}
}

// TestCrashLeftovers: what a crashed creation or state write leaves (a
// staging home, a temporary state file) is cleaned up by the next one;
// another name's staging directory is left alone. (The real thing, SIGKILL
// at every step, is hostcli's TestJITCrashSafety.)
func TestCrashLeftovers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	home := filepath.Join(f.dir, "home")
	os.MkdirAll(filepath.Join(home, ".jitssh-new-gina~123", ".config"), 0o700)
	os.MkdirAll(filepath.Join(home, ".jitssh-new-gina.b~456"), 0o700) // another name's: kept
	stateDir := filepath.Dir(f.opts.Policy.StateFile)
	os.WriteFile(filepath.Join(stateDir, ".users.json.tmp-999"), []byte("{"), 0o600)
	f.keys.set("gina", dev)
	u, err := m.UserByName(ctx, "gina")
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(home)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if fmt.Sprint(names) != "[.jitssh-new-gina.b~456 gina]" {
		t.Errorf("home base holds %v", names)
	}
	entries, _ = os.ReadDir(stateDir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "tmp") {
			t.Errorf("temporary state file %s left", e.Name())
		}
	}
	if got := f.owner(u.Home); got != fmt.Sprintf("%d:%d", u.UID, u.UID) {
		t.Errorf("home owner %q", got)
	}
}

func TestExpire(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	var mu sync.Mutex
	f.opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f.opts.Policy.ExpireAfter = 24 * time.Hour
	m := f.manager()
	ctx := context.Background()
	f.keys.set("erin", dev)
	f.keys.set("frank", dev)
	m.UserByName(ctx, "erin")
	m.UserByName(ctx, "frank")
	mu.Lock()
	now = now.Add(20 * time.Hour)
	mu.Unlock()
	m.NoteLogin("frank", served(dev)) // frank logs in again
	mu.Lock()
	now = now.Add(5 * time.Hour)
	mu.Unlock()
	removed, err := m.Expire()
	if err != nil || fmt.Sprint(removed) != "[erin]" {
		t.Errorf("Expire = %v, %v; want [erin]", removed, err)
	}
	st, _ := m.State()
	if _, ok := st.Users["frank"]; !ok || len(st.Users) != 1 {
		t.Errorf("users left = %v", st.Users)
	}
}

func TestStateFileChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	os.MkdirAll(filepath.Dir(f.opts.Policy.StateFile), 0o700)
	for _, tc := range []struct{ body string }{{"{not json"}, {`{"version":2,"users":{}}`}, {`{"version":1,"users":{"Bad":{"name":"Bad"}}}`}, {`{"version":1,"extra":1}`}} {
		os.WriteFile(f.opts.Policy.StateFile, []byte(tc.body), 0o600)
		if _, err := jituser.New(f.opts); err == nil {
			t.Errorf("state %q accepted", tc.body)
		}
	}
	os.WriteFile(f.opts.Policy.StateFile, []byte(`{"version":1,"users":{}}`), 0o666)
	os.Chmod(f.opts.Policy.StateFile, 0o666)
	if _, err := jituser.New(f.opts); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("world-writable state accepted: %v", err)
	}
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"alice", "../x", "a b", "ROOT", "-x", "a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if jituser.ValidName(s) != nil {
			return
		}
		if authkeys.ValidUser(s) != nil {
			t.Fatalf("%q is a valid JIT name but not a valid EIC user", s)
		}
		if strings.ToLower(s) != s || strings.ContainsAny(s, "/ \x00\n:") || strings.HasPrefix(s, "-") || len(s) > 32 {
			t.Fatalf("ValidName accepted %q", s)
		}
	})
}
