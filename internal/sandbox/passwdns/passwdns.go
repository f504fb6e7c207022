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
	// Extra are more files bound over the machine's in the namespace:
	// {source, target} (e.g. the instance's own /etc/pam.d/sshd).
	Extra [][2]string
	homes string
	ids   map[string][2]int // every account's uid and gid
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
	var host [3][]byte
	for i, path := range []string{"/etc/passwd", "/etc/group", "/etc/shadow"} {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("account database: %w", err)
		}
		host[i] = b
	}
	bd := &builder{d: d, names: map[string]bool{}, ids: map[string]bool{}, gnames: map[string]bool{}, gids: map[string]bool{}}
	bd.copyShadow(host[2])
	bd.copyPasswd(host[0])
	bd.copyGroup(host[1])
	for _, a := range accts {
		if err := bd.add(a); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(d.Passwd, bd.pw.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	if err := os.WriteFile(d.Group, bd.gr.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	if err := os.WriteFile(d.Shadow, bd.sh.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("account database: %w", err)
	}
	return d, nil
}

// builder makes the passwd, group and shadow files of a DB, knowing the
// names and ids taken.
type builder struct {
	d                        *DB
	pw, gr, sh               bytes.Buffer
	names, ids, gnames, gids map[string]bool
}

// copyShadow copies the machine's shadow entries, every password "*".
func (b *builder) copyShadow(host []byte) {
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 9 || !nameRE.MatchString(f[0]) {
			continue
		}
		f[1] = "*"
		b.sh.WriteString(strings.Join(f, ":") + "\n")
	}
}

// copyPasswd copies the machine's accounts, every home moved under the
// DB's homes.
func (b *builder) copyPasswd(host []byte) {
	sc := bufio.NewScanner(bytes.NewReader(host))
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
		b.names[f[0]], b.ids[f[2]] = true, true
		b.d.ids[f[0]] = [2]int{uid, gid}
		f[5] = filepath.Join(b.d.homes, f[0])
		b.pw.WriteString(strings.Join(f, ":") + "\n")
	}
}

// copyGroup copies the machine's groups.
func (b *builder) copyGroup(host []byte) {
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 4 {
			continue
		}
		b.gnames[f[0]], b.gids[f[2]] = true, true
		b.gr.WriteString(sc.Text() + "\n")
	}
}

// add adds an own account and its group; its name and ids must be new.
func (b *builder) add(a Account) error {
	if a.UID == 0 && a.GID == 0 {
		// The first id free as both uid and gid.
		for n := uint32(60000); n < 65000; n++ {
			if !b.ids[fmt.Sprint(n)] && !b.gids[fmt.Sprint(n)] {
				a.UID, a.GID = n, n
				break
			}
		}
	}
	uid, gid := fmt.Sprint(a.UID), fmt.Sprint(a.GID)
	switch {
	case !nameRE.MatchString(a.Name):
		return fmt.Errorf("account database: %q is not a POSIX user name", a.Name)
	case b.names[a.Name] || b.gnames[a.Name]:
		return fmt.Errorf("account database: %s exists already", a.Name)
	case b.ids[uid] || b.gids[gid] || a.UID == 0:
		return fmt.Errorf("account database: uid %d or gid %d of %s is taken", a.UID, a.GID, a.Name)
	}
	b.names[a.Name], b.ids[uid], b.gnames[a.Name], b.gids[gid] = true, true, true, true
	if a.Shell == "" {
		a.Shell = "/bin/sh"
	}
	fmt.Fprintf(&b.pw, "%s:x:%s:%s:%s:%s:%s\n", a.Name, uid, gid, a.Name, filepath.Join(b.d.homes, a.Name), a.Shell)
	fmt.Fprintf(&b.gr, "%s:x:%s:\n", a.Name, gid)
	fmt.Fprintf(&b.sh, "%s:*:20000:0:99999:7:::\n", a.Name)
	b.d.ids[a.Name] = [2]int{int(a.UID), int(a.GID)}
	return nil
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
