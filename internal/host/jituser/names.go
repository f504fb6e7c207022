package jituser

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
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

// builtinReserved are names never created even when absent from
// /etc/passwd: system accounts of common distributions and group names with
// powers.
var builtinReserved = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`root toor daemon bin sys sync games man lp mail news uucp proxy
		www-data backup list irc gnats nobody nogroup _apt sshd messagebus polkitd syslog
		adm wheel sudo staff users shadow utmp tty disk kmem dialout operator halt shutdown
		ftp postfix ntp chrony _chrony dbus tss jitssh ssm-user ec2-instance-connect
		dnsmasq avahi rpc rpcuser nfsnobody libstoragemgmt systemd-network systemd-resolve
		systemd-timesync systemd-coredump docker lxd input kvm render audio video plugdev
		netdev ssh_keys cdrom floppy tape src voice sasl fax crontab mlocate`) {
		builtinReserved[n] = true
	}
}

// Reserved reports whether name is on the built-in reserved list (or has a
// reserved prefix such as "systemd-").
func Reserved(name string) bool {
	return builtinReserved[name] || strings.HasPrefix(name, "systemd-") || strings.HasPrefix(name, "_")
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
