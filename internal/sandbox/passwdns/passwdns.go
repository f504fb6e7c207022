// Package passwdns gives a simulated instance its own account database.
// Processes started through a DB run in a private mount namespace where
// /etc/passwd, /etc/group and /etc/shadow are the instance's files (bind mounts made
// on a dedicated OS thread, which the child inherits): the machine's
// accounts with every home moved under the DB's directory, plus the
// instance's own accounts. The key-placement script (package placekey)
// and the instance's sshd then work on real accounts and real homes while
// the machine's files and homes are untouched, and any number of DBs can
// exist side by side. It needs root (CAP_SYS_ADMIN); Usable says whether
// it works here.
package passwdns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Account is one of the instance's own accounts, with a group of the
// same name and id as its primary group.
type Account struct {
	Name string
	// UID and GID both 0 mean the first id from 60000 up that is free as
	// both (an own account is never root).
	UID, GID uint32
	// Shell defaults to /bin/sh.
	Shell string
}

// DB is an instance's account database: passwd and group files, and the
// directory holding every account's home (Home).
type DB struct {
	Dir                   string
	Passwd, Group, Shadow string
	homes                 string
	ids                   map[string][2]int // every account's uid and gid
}

var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// New writes dir/passwd, dir/group and dir/shadow: the machine's entries
// (every home moved to homes/<name>, every password "*", so no hash is
// copied and no password works) and accts, whose names and ids must be
// new. homes "" means dir/homes; every directory above it must let the
// accounts through. It creates no home: MakeHome does.
func New(dir, homes string, accts []Account) (*DB, error) {
	if homes == "" {
		homes = filepath.Join(dir, "homes")
	}
	d := &DB{Dir: dir, Passwd: filepath.Join(dir, "passwd"), Group: filepath.Join(dir, "group"), Shadow: filepath.Join(dir, "shadow"),
		homes: homes, ids: map[string][2]int{}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	if err := os.MkdirAll(d.homes, 0o755); err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	hostPW, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	hostGR, err := os.ReadFile("/etc/group")
	if err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	hostSH, err := os.ReadFile("/etc/shadow")
	if err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	var pw, gr, sh bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(hostSH))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 9 || !nameRE.MatchString(f[0]) {
			continue
		}
		f[1] = "*"
		sh.WriteString(strings.Join(f, ":") + "\n")
	}
	names, ids, gnames, gids := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	sc = bufio.NewScanner(bytes.NewReader(hostPW))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 7 || !nameRE.MatchString(f[0]) {
			continue // comments, NIS "+" lines, odd names
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		names[f[0]], ids[f[2]] = true, true
		d.ids[f[0]] = [2]int{uid, gid}
		f[5] = filepath.Join(d.homes, f[0])
		pw.WriteString(strings.Join(f, ":") + "\n")
	}
	sc = bufio.NewScanner(bytes.NewReader(hostGR))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 4 {
			continue
		}
		gnames[f[0]], gids[f[2]] = true, true
		gr.WriteString(sc.Text() + "\n")
	}
	for _, a := range accts {
		if a.UID == 0 && a.GID == 0 {
			// The first id free as both uid and gid.
			for n := uint32(60000); n < 65000; n++ {
				if !ids[fmt.Sprint(n)] && !gids[fmt.Sprint(n)] {
					a.UID, a.GID = n, n
					break
				}
			}
		}
		uid, gid := fmt.Sprint(a.UID), fmt.Sprint(a.GID)
		switch {
		case !nameRE.MatchString(a.Name):
			return nil, fmt.Errorf("account database: %q is not a POSIX user name", a.Name)
		case names[a.Name] || gnames[a.Name]:
			return nil, fmt.Errorf("account database: %s exists already", a.Name)
		case ids[uid] || gids[gid] || a.UID == 0:
			return nil, fmt.Errorf("account database: uid %d or gid %d of %s is taken", a.UID, a.GID, a.Name)
		}
		names[a.Name], ids[uid], gnames[a.Name], gids[gid] = true, true, true, true
		if a.Shell == "" {
			a.Shell = "/bin/sh"
		}
		fmt.Fprintf(&pw, "%s:x:%s:%s:%s:%s:%s\n", a.Name, uid, gid, a.Name, filepath.Join(d.homes, a.Name), a.Shell)
		fmt.Fprintf(&gr, "%s:x:%s:\n", a.Name, gid)
		fmt.Fprintf(&sh, "%s:*:20000:0:99999:7:::\n", a.Name)
		d.ids[a.Name] = [2]int{int(a.UID), int(a.GID)}
	}
	if err := os.WriteFile(d.Passwd, pw.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	if err := os.WriteFile(d.Group, gr.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	if err := os.WriteFile(d.Shadow, sh.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	return d, nil
}

// HostHas says whether the machine's /etc/passwd has the account name.
func HostHas(name string) bool {
	b, err := os.ReadFile("/etc/passwd")
	return err == nil && bytes.Contains(append([]byte("\n"), b...), []byte("\n"+name+":"))
}

// Traversable says whether every directory from / down to dir lets
// others through (o+x), so that accounts can reach homes under it.
func Traversable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" || d == "." {
			return true
		}
	}
}

// Home returns the home directory of the account name.
func (d *DB) Home(name string) string { return filepath.Join(d.homes, name) }

// Has says whether the account name exists.
func (d *DB) Has(name string) bool { _, ok := d.ids[name]; return ok }

// IDs returns the uid and gid of the account name.
func (d *DB) IDs(name string) (uid, gid int, ok bool) {
	id, ok := d.ids[name]
	return id[0], id[1], ok
}

// Lookup returns the account name as os/user would inside d's namespace.
func (d *DB) Lookup(name string) (*user.User, error) {
	id, ok := d.ids[name]
	if !ok {
		return nil, user.UnknownUserError(name)
	}
	return &user.User{Uid: strconv.Itoa(id[0]), Gid: strconv.Itoa(id[1]), Username: name, Name: name, HomeDir: d.Home(name)}, nil
}

// MakeHome creates the home of name (0755, owned by the account).
func (d *DB) MakeHome(name string) error {
	id, ok := d.ids[name]
	if !ok {
		return fmt.Errorf("account database: no account %s", name)
	}
	uid, gid := id[0], id[1]
	h := d.Home(name)
	if err := os.Mkdir(h, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("home of %s: %w", name, err)
	}
	if err := os.Lchown(h, uid, gid); err != nil {
		return fmt.Errorf("home of %s: %w", name, err)
	}
	return nil
}
