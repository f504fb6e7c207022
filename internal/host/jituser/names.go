package jituser

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// MaxNameLength is the longest user name created (useradd's and EIC's
// limit).
const MaxNameLength = 32

// nameRE is a conservative POSIX user name: lower case letters, digits,
// "_", "-" and inner "."; starting with a letter or "_".
var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*$`)

// ValidName reports why name may not be a just-in-time user name, or nil.
// It is stricter than EC2 Instance Connect (no upper case, "@" or "$"), so
// that names differing only in case, or looking like options or paths, are
// never created.
func ValidName(name string) error {
	switch {
	case name == "" || len(name) > MaxNameLength:
		return fmt.Errorf("user name must be 1 to %d characters", MaxNameLength)
	case !nameRE.MatchString(name):
		return fmt.Errorf("user name %q is not lower-case letters, digits, '_', '-', '.' starting with a letter or '_'", clip(name))
	case strings.Contains(name, ".."), strings.HasSuffix(name, "."):
		return fmt.Errorf("user name %q has \"..\" or a trailing \".\"", name)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(s)[1 : len(strconv.Quote(s))-1]
}

// builtinReserved is the documented deny list (docs/instance.md): names
// never created even when absent from /etc/passwd and /etc/group. They are
// system accounts of common distributions and, above all, group names that
// grant power on common images when such a group exists or is named in
// sudoers or polkit rules (Ubuntu's sudoers grants "%admin"; Debian's
// cloud images log in as "admin"): a JIT user's primary group has the
// user's name, so a user named "admin" would be in group "admin".
var builtinReserved = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`root toor daemon bin sys sync games man lp mail news uucp proxy
		www-data backup list irc gnats nobody nogroup nfsnobody _apt sshd messagebus polkitd syslog
		admin admins administrator administrators sudo sudoers wheel adm staff users shadow utmp
		tty disk kmem dialout operator halt shutdown lpadmin sambashare ssl-cert netdev plugdev
		docker podman lxd incus incus-admin libvirt libvirt-qemu libvirtd kvm microk8s
		google-sudoers ec2-user ubuntu debian centos fedora rocky almalinux cloud-user opc
		ftp postfix ntp chrony dbus tss jitssh ssm-user ec2-instance-connect
		dnsmasq avahi rpc rpcuser libstoragemgmt input render audio video
		ssh_keys cdrom floppy tape src voice sasl fax crontab mlocate wireshark
		systemd-journal systemd-network systemd-resolve systemd-timesync systemd-coredump`) {
		builtinReserved[n] = true
	}
}

// ReservedPrefixes are prefixes no created name has: system account
// families ("systemd-journal", "_apt"...).
var ReservedPrefixes = []string{"systemd-", "_"}

// Reserved reports whether name is on the built-in deny list or has a
// reserved prefix.
func Reserved(name string) bool {
	if builtinReserved[name] {
		return true
	}
	for _, p := range ReservedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// ReservedNames returns the built-in deny list, sorted (for the docs and
// `jitssh-host users`).
func ReservedNames() []string {
	out := make([]string, 0, len(builtinReserved))
	for n := range builtinReserved {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// etcDB is what /etc/passwd and /etc/group hold: names and ids in use.
type etcDB struct {
	names map[string]bool
	ids   map[uint32]bool
}

// readEtc parses the passwd and group files (name:x:id:...), which are
// read directly, never through NSS, so that the service never queries
// itself. A missing file counts as empty; any other error is returned.
func readEtc(passwd, group string) (etcDB, error) {
	db := etcDB{names: map[string]bool{}, ids: map[uint32]bool{}}
	for _, path := range []string{passwd, group} {
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return etcDB{}, fmt.Errorf("read %s: %w", path, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == '#' {
				continue
			}
			f := strings.SplitN(line, ":", 4)
			db.names[f[0]] = true
			if len(f) >= 3 {
				if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
					db.ids[uint32(id)] = true
				}
			}
		}
		if err := sc.Err(); err != nil {
			return etcDB{}, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return db, nil
}

// matchGlob reports whether s matches pattern, where '*' matches any run of
// characters ('/' and ':' included) and every other character itself.
func matchGlob(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case px < len(pattern) && pattern[px] == s[sx]:
			px++
			sx++
		case starP >= 0:
			px = starP + 1
			starS++
			sx = starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// idRange is one /etc/subuid or /etc/subgid entry: [start, start+count).
type idRange struct{ start, count uint64 }

func (r idRange) contains(id uint32) bool {
	return uint64(id) >= r.start && uint64(id)-r.start < r.count
}

// parseSubIDs parses /etc/subuid or /etc/subgid content: lines of
// "owner:start:count" (owner a name or a numeric id), '#' comments and
// blank lines ignored. A malformed line is an error: these ranges belong
// to other users' containers, so UIDs are not given out while they are
// unknown.
func parseSubIDs(data []byte) ([]idRange, error) {
	var out []idRange
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || f[0] == "" {
			return nil, fmt.Errorf("line %d: want owner:start:count", n)
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: start and count must be numbers below 2^32", n)
		}
		if count > 0 {
			out = append(out, idRange{start: start, count: count})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// readSubIDs reads the subordinate id files; missing files are empty.
func readSubIDs(paths ...string) ([]idRange, error) {
	var out []idRange
	for _, p := range paths {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		rs, err := parseSubIDs(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}
