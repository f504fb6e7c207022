//go:build unix

package placekey

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/sandbox/passwdns"
)

// These tests run the real script the way the SSM agent does, as root
// (`sh -c` of the commands jitssh sends), against a real account (a
// private /etc/passwd in a mount namespace, package passwdns: the
// machine's files are untouched) whose home the test fills with what a
// process of that user could plant. They need root, as in CI.

const testUser = "jitsshpk"

type rig struct {
	t        *testing.T
	db       *passwdns.DB
	uid, gid int
	home     string
	victim   string // root-owned directory outside the home
	secret   string // root-only file in it
	file     string // root-owned, world-readable file in it
	path     string // PATH for the script ("" = the usual one)
	snap     map[string]string
}

const secretText = "ROOT-ONLY-SECRET-3f1c\n"

func newRig(t *testing.T, shell string) *rig {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the script runs as root and drops to a real account")
	}
	if err := passwdns.Usable(); err != nil {
		t.Skipf("no private account database here: %v", err)
	}
	var b [4]byte
	rand.Read(b[:])
	id := 200000 + int(binary.BigEndian.Uint32(b[:])%100000)
	dir := t.TempDir()
	// Let the user traverse to the home (t.TempDir is 0700).
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	db, err := passwdns.New(filepath.Join(dir, "etc"), "", []passwdns.Account{{Name: testUser, UID: uint32(id), GID: uint32(id), Shell: shell}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.MakeHome(testUser); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, db: db, uid: id, gid: id, home: db.Home(testUser), victim: filepath.Join(dir, "victim")}
	if err := os.Mkdir(r.victim, 0o755); err != nil {
		t.Fatal(err)
	}
	r.secret = filepath.Join(r.victim, "secret")
	r.file = filepath.Join(r.victim, "config")
	if err := os.WriteFile(r.secret, []byte(secretText), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.file, []byte("root's file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.snap = r.snapshot()
	return r
}

// snapshot records every root-owned object outside the home: owner,
// mode, content.
func (r *rig) snapshot() map[string]string {
	m := map[string]string{}
	filepath.WalkDir(r.victim, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			m[p] = "error " + err.Error()
			return nil
		}
		var st syscall.Stat_t
		syscall.Lstat(p, &st)
		v := fmt.Sprintf("%d:%d %o", st.Uid, st.Gid, st.Mode)
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			v += " " + string(b)
		}
		m[p] = v
		return nil
	})
	return m
}

// checkUntouched fails if anything outside the user's own files changed,
// or a root-only file's text reached the home.
func (r *rig) checkUntouched() {
	r.t.Helper()
	now := r.snapshot()
	for p, v := range r.snap {
		if now[p] != v {
			r.t.Errorf("root-owned %s changed: was %q, now %q", p, v, now[p])
		}
	}
	for p, v := range now {
		if _, ok := r.snap[p]; !ok {
			r.t.Errorf("new object %s (%s) in a root-owned directory", p, v)
		}
	}
	secret, _ := os.Stat(r.secret)
	filepath.WalkDir(r.home, func(p string, d fs.DirEntry, err error) error {
		if fi, _ := os.Lstat(p); fi != nil && secret != nil && os.SameFile(fi, secret) {
			return nil // the planted hard link itself
		}
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(strings.TrimSpace(secretText))) {
				r.t.Errorf("the root-only secret was copied into the user's %s", p)
			}
		}
		return nil
	})
}

// place runs the script for key until exp as root; it returns the
// output and the exit error.
func (r *rig) place(key ssh.PublicKey, exp time.Time) (string, error) {
	r.t.Helper()
	cmds, err := Script(testUser, key, exp)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", strings.Join(cmds, "\n"))
	path := r.path
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	cmd.Env = []string{"PATH=" + path, "HOME=/root", "LANG=C"}
	cmd.Dir = "/"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err = r.db.Start(cmd.Start)
	if err == nil {
		err = cmd.Wait()
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("the script hung (killed after 20s): %w", err)
	}
	return out.String(), err
}

func (r *rig) ownedByUser(p string, mode os.FileMode) {
	r.t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		r.t.Fatal(err)
	}
	if int(st.Uid) != r.uid || os.FileMode(st.Mode).Perm() != mode || st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		r.t.Errorf("%s: uid %d mode %o, want the user's (%d), %o, not a link", p, st.Uid, st.Mode, r.uid, mode)
	}
}

func keyLine(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + Comment
}

// asUser makes p the user's (what the user could have made it).
func (r *rig) asUser(p string) {
	r.t.Helper()
	if err := os.Lchown(p, r.uid, r.gid); err != nil {
		r.t.Fatal(err)
	}
}

// TestPlaceAsRootNormal: a normal placement appends the key with its
// expiry-time, prunes this form's expired lines, keeps the user's own
// lines, and leaves ~/.ssh (0700) and authorized_keys (0600) the user's;
// the same with the user's login shell nologin, and with runuser or su
// instead of setpriv.
func TestPlaceAsRootNormal(t *testing.T) {
	for _, c := range []struct{ name, shell, without string }{
		{"setpriv", "/bin/sh", ""},
		{"nologin", "/usr/sbin/nologin", ""},
		{"runuser", "/usr/sbin/nologin", "setpriv"},
		{"su", "/bin/sh", "setpriv runuser"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, c.shell)
			if c.without != "" {
				r.path = pathWithout(t, strings.Fields(c.without))
			}
			now := time.Now().UTC()
			own := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhX8J1sZ4f0l0rXz3m7r0xyFzYqk2t6H3HkJtqM0y9Q me@laptop"
			expired := `expiry-time="` + now.Add(-time.Hour).Format(timeLayout) + `Z" ` + keyLine(testKey(t))
			live := `expiry-time="` + now.Add(30*time.Minute).Format(timeLayout) + `Z" ` + keyLine(testKey(t))
			ownExpiry := `expiry-time="20200101000000Z" ` + own // the user's own, not this form's: kept
			ssh := filepath.Join(r.home, ".ssh")
			os.Mkdir(ssh, 0o700)
			r.asUser(ssh)
			ak := filepath.Join(ssh, "authorized_keys")
			os.WriteFile(ak, []byte(own+"\n"+expired+"\n"+ownExpiry+"\n"+live+"\n"), 0o600)
			r.asUser(ak)
			k := testKey(t)
			exp := now.Add(time.Minute).Truncate(time.Second)
			if out, err := r.place(k, exp); err != nil {
				t.Fatalf("placement: %v\n%s", err, out)
			}
			b, _ := os.ReadFile(ak)
			want := own + "\n" + ownExpiry + "\n" + live + "\n" + `expiry-time="` + exp.Format(timeLayout) + `Z" ` + keyLine(k) + "\n"
			if string(b) != want {
				t.Errorf("authorized_keys:\n%s\nwant:\n%s", b, want)
			}
			r.ownedByUser(ssh, 0o700)
			r.ownedByUser(ak, 0o600)
			// Placement into a home without ~/.ssh creates it, 0700.
			os.RemoveAll(ssh)
			if out, err := r.place(k, exp); err != nil {
				t.Fatalf("placement without ~/.ssh: %v\n%s", err, out)
			}
			r.ownedByUser(ssh, 0o700)
			r.ownedByUser(ak, 0o600)
			if ents, _ := os.ReadDir(ssh); len(ents) != 1 {
				t.Errorf("~/.ssh holds %d entries, want authorized_keys only (no temporary file left)", len(ents))
			}
			r.checkUntouched()
		})
	}
}

// pathWithout returns a PATH directory of links to every command the
// script may use, except those named.
func pathWithout(t *testing.T, except []string) string {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for _, c := range []string{"sh", "getent", "cut", "setpriv", "runuser", "su", "id", "mkdir", "mktemp", "date", "awk", "chmod", "mv", "rm", "cat"} {
		skip := false
		for _, e := range except {
			skip = skip || e == c
		}
		if p, err := exec.LookPath(c); err == nil && !skip {
			if err := os.Symlink(p, filepath.Join(dir, c)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestPlaceAsRootPlantedLinks: whatever the user planted in the home, the
// root-run script reads no root file into the user's, chowns and
// overwrites nothing of root's, creates nothing outside the home, and
// does not hang.
func TestPlaceAsRootPlantedLinks(t *testing.T) {
	type plant func(r *rig)
	sshDir := func(r *rig) string { return filepath.Join(r.home, ".ssh") }
	mkSSH := func(r *rig) string {
		d := sshDir(r)
		os.Mkdir(d, 0o700)
		r.asUser(d)
		return d
	}
	link := func(r *rig, target, name string) {
		if err := os.Symlink(target, name); err != nil {
			r.t.Fatal(err)
		}
		r.asUser(name)
	}
	for _, c := range []struct {
		name  string
		plant plant
		ok    bool // the placement succeeds (into the user's own file)
	}{
		{"ssh dir links to a root directory", func(r *rig) { link(r, r.victim, sshDir(r)) }, false},
		{"authorized_keys links to a root-only file", func(r *rig) {
			link(r, r.secret, filepath.Join(mkSSH(r), "authorized_keys"))
		}, false},
		{"authorized_keys links to a root-owned readable file", func(r *rig) {
			link(r, r.file, filepath.Join(mkSSH(r), "authorized_keys"))
		}, true},
		{"authorized_keys is a hard link to a root-only file", func(r *rig) {
			if err := os.Link(r.secret, filepath.Join(mkSSH(r), "authorized_keys")); err != nil {
				r.t.Fatal(err)
			}
		}, false},
		{"the v1 temporary name links to a root file", func(r *rig) {
			link(r, r.file, filepath.Join(mkSSH(r), "authorized_keys.jitssh"))
		}, true},
		{"the v1 temporary name is a fifo", func(r *rig) {
			p := filepath.Join(mkSSH(r), "authorized_keys.jitssh")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				r.t.Fatal(err)
			}
			r.asUser(p)
		}, true},
		{"authorized_keys is a fifo", func(r *rig) {
			p := filepath.Join(mkSSH(r), "authorized_keys")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				r.t.Fatal(err)
			}
			r.asUser(p)
		}, false},
		{"authorized_keys dangles into a root directory", func(r *rig) {
			link(r, filepath.Join(r.victim, "new"), filepath.Join(mkSSH(r), "authorized_keys"))
		}, false},
		{"the home itself links to a root directory", func(r *rig) {
			os.Remove(r.home)
			if err := os.Symlink(r.victim, r.home); err != nil { // root's doing: the user cannot write its parent
				r.t.Fatal(err)
			}
		}, false},
		{"the home is missing", func(r *rig) { os.Remove(r.home) }, false},
		{"the home is root's", func(r *rig) { os.Lchown(r.home, 0, 0) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, "/usr/sbin/nologin")
			c.plant(r)
			out, err := r.place(testKey(t), time.Now().Add(time.Minute))
			t.Logf("exit: %v\n%s", err, out)
			if strings.Contains(out, "hung") || err != nil && strings.Contains(err.Error(), "hung") {
				t.Errorf("the script hung")
			}
			if c.ok != (err == nil) {
				t.Errorf("placement error %v, want success %v", err, c.ok)
			}
			if err == nil {
				ak := filepath.Join(r.home, ".ssh", "authorized_keys")
				r.ownedByUser(ak, 0o600)
			}
			r.checkUntouched()
		})
	}
}

// TestPlaceAsRootRace: while placements run, "the user" swaps ~/.ssh and
// ~/.ssh/authorized_keys between real ones and links to root's objects
// as fast as it can; nothing of root's changes and no root-only text
// reaches the home.
func TestPlaceAsRootRace(t *testing.T) {
	r := newRig(t, "/bin/sh")
	ssh := filepath.Join(r.home, ".ssh")
	real := filepath.Join(r.home, "real")
	os.Mkdir(real, 0o700)
	r.asUser(real)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tmp := filepath.Join(r.home, ".swap")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.Remove(tmp)
			if i%2 == 0 {
				os.Symlink(r.victim, tmp)
			} else {
				os.Symlink(real, tmp)
			}
			os.Lchown(tmp, r.uid, r.gid)
			os.Rename(tmp, ssh)
			ak := filepath.Join(real, "authorized_keys")
			os.Remove(ak + ".l")
			os.Symlink(r.secret, ak+".l")
			os.Lchown(ak+".l", r.uid, r.gid)
			if i%3 == 0 {
				os.Rename(ak+".l", ak)
			}
		}
	}()
	for i := 0; i < 15; i++ {
		out, err := r.place(testKey(t), time.Now().Add(time.Minute))
		if err != nil && strings.Contains(err.Error(), "hung") {
			t.Errorf("run %d hung: %s", i, out)
		}
	}
	close(stop)
	wg.Wait()
	r.checkUntouched()
}
