// Package hostconfig owns jitssh-host's configuration file, a small TOML
// file read on every AuthorizedKeysCommand run. sshd starts that command with
// an empty environment, so the file (default /etc/jitssh/host.toml) is the
// only configuration there is; nothing is read from environment variables.
//
// Example:
//
//	imds_endpoint = "http://169.254.169.254"
//	trusted_roots = "/etc/jitssh/signer-roots.pem"  # default: system roots
//	audit_file    = "/var/log/jitssh/audit.jsonl"   # "" disables the file
//	syslog        = true                            # authpriv
//	timeout       = "3s"
//	keys_socket   = "/run/jitssh/io.jitssh.Keys"    # "" = the userdb service does not serve keys
//	block_file    = "/etc/jitssh/blocked"           # jitssh-host users block|unblock; "" = none
//
//	[jit]                                           # jitssh-host userdb
//	service      = "io.jitssh"                      # /run/systemd/userdb/<service>
//	state_file   = "/var/lib/jitssh/users.json"
//	uid_min      = 1000000
//	uid_max      = 1999999
//	home_base    = "/home"
//	skel         = "/etc/skel"                      # "" creates an empty home
//	shell        = "/bin/bash"
//	negative_ttl = "1m"                             # misses, for lookups by peers other than root
//	expire_after = "720h"                           # "0s" (default): never
//	reserved     = ["admin"]                        # on top of the built-in list
//	groups_window = "130s"                          # a login's groups: see docs/instance.md
//
//	[[jit.groups]]                                  # supplementary groups by IAM caller
//	caller = "arn:aws:sts::*:assumed-role/Admin/*"  # '*' matches anything, '/' included
//	groups = ["sudo"]
//
//	[cloudwatch]                                    # ship the audit events (cloudwatch.go)
//	log_group = "/jitssh/instances"
//
// Unknown keys and bad values are errors. Because the file decides which
// signer certificates are trusted, it (and the trusted_roots file) must not
// be writable by group or others, and must be owned by root or by the user
// reading it. This package does not load the roots or open the audit file.
package hostconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/jitssh/jitssh/internal/host/keyproto"
	"github.com/jitssh/jitssh/internal/imds"
)

// Defaults.
const (
	DefaultPath      = "/etc/jitssh/host.toml"
	DefaultAuditFile = "/var/log/jitssh/audit.jsonl"
	DefaultBlockFile = "/etc/jitssh/blocked"
	DefaultTimeout   = 3 * time.Second
	// MinTimeout and MaxTimeout bound the timeout setting. sshd's own
	// patience is LoginGraceTime, but AWS's scripts give up after 5 s.
	MinTimeout = 100 * time.Millisecond
	MaxTimeout = 30 * time.Second
	// MaxFileSize is the largest configuration or roots file read.
	MaxFileSize = 1 << 20
)

// Config is jitssh-host's configuration.
type Config struct {
	// IMDSEndpoint is the IMDS base URL (imds_endpoint); default
	// http://169.254.169.254.
	IMDSEndpoint string
	// TrustedRoots is the PEM file of root certificates the signer chain
	// must verify to (trusted_roots); "" means the system roots.
	TrustedRoots string
	// AuditFile is the JSON-lines audit file (audit_file); default
	// /var/log/jitssh/audit.jsonl, "" disables the file.
	AuditFile string
	// Syslog sends audit events to syslog, facility authpriv (syslog);
	// default true.
	Syslog bool
	// Timeout bounds one authorization (timeout); default 3 s.
	Timeout time.Duration
	// KeysSocket is where the userdb service answers io.jitssh.Keys for
	// jitssh-authkeys (keys_socket); default keyproto.DefaultSocket, ""
	// serves nothing (jitssh-authkeys then verifies by itself).
	KeysSocket string
	// BlockFile is the runtime block list (block_file, see
	// internal/host/blocklist): names on it get no key and are never
	// created; default /etc/jitssh/blocked, "" means no list.
	BlockFile string
	// JIT configures the just-in-time user service ([jit]).
	JIT JIT
	// CloudWatch configures shipping the audit events to CloudWatch Logs
	// ([cloudwatch], cloudwatch.go).
	CloudWatch CloudWatch
}

// JIT is the [jit] table: the policy of `jitssh-host userdb`.
type JIT struct {
	// Service is the Varlink service and socket name under
	// /run/systemd/userdb (service); default io.jitssh.
	Service string
	// StateFile holds the users created (state_file).
	StateFile string
	// UIDMin and UIDMax bound the UIDs (and GIDs) given out (uid_min,
	// uid_max); default 1000000–1999999.
	UIDMin, UIDMax uint32
	// HomeBase is the parent of home directories (home_base).
	HomeBase string
	// Skel is copied into new home directories (skel); "" copies nothing.
	Skel string
	// Shell is the login shell (shell).
	Shell string
	// NegativeTTL is how long "no such user" is remembered, for lookups by
	// peers other than root, for a name that had no valid key
	// (negative_ttl); default 1 min. Root's lookups (sshd's, at login)
	// never use it, so a key pushed right after a lookup is seen at once.
	NegativeTTL time.Duration
	// ExpireAfter removes JIT users not seen for this long (expire_after);
	// zero never expires.
	ExpireAfter time.Duration
	// Reserved names are never created, on top of the built-in list and
	// every name in /etc/passwd and /etc/group (reserved).
	Reserved []string
	// GroupsWindow is how long an authorized login's IAM caller counts
	// for the user's supplementary groups (groups_window); default
	// DefaultGroupsWindow. It must cover sshd's LoginGraceTime: see
	// jituser's package comment.
	GroupsWindow time.Duration
	// Groups maps IAM callers to supplementary groups ([[jit.groups]]).
	Groups []GroupRule
}

// GroupRule grants Groups to users whose key was pushed by a caller whose
// ARN matches Caller ('*' matches any run of characters, '/' included).
type GroupRule struct {
	Caller string   `toml:"caller"`
	Groups []string `toml:"groups"`
}

// JIT defaults.
const (
	DefaultService     = "io.jitssh"
	DefaultStateFile   = "/var/lib/jitssh/users.json"
	DefaultUIDMin      = 1000000
	DefaultUIDMax      = 1999999
	DefaultNegativeTTL = time.Minute
	// DefaultGroupsWindow is sshd's default LoginGraceTime (120 s) and a
	// margin for the steps between authentication and initgroups.
	DefaultGroupsWindow = 130 * time.Second
)

// Default returns the configuration used when no file exists.
func Default() Config {
	return Config{
		IMDSEndpoint: imds.DefaultEndpoint,
		AuditFile:    DefaultAuditFile,
		Syslog:       true,
		Timeout:      DefaultTimeout,
		KeysSocket:   keyproto.DefaultSocket,
		BlockFile:    DefaultBlockFile,
		JIT: JIT{
			Service:      DefaultService,
			StateFile:    DefaultStateFile,
			UIDMin:       DefaultUIDMin,
			UIDMax:       DefaultUIDMax,
			HomeBase:     "/home",
			Skel:         "/etc/skel",
			Shell:        "/bin/bash",
			NegativeTTL:  DefaultNegativeTTL,
			GroupsWindow: DefaultGroupsWindow,
		},
		CloudWatch: defaultCloudWatch(),
	}
}

// file is the TOML layout. Pointers tell "absent" from "empty".
type file struct {
	IMDSEndpoint *string         `toml:"imds_endpoint"`
	TrustedRoots *string         `toml:"trusted_roots"`
	AuditFile    *string         `toml:"audit_file"`
	Syslog       *bool           `toml:"syslog"`
	Timeout      *string         `toml:"timeout"`
	KeysSocket   *string         `toml:"keys_socket"`
	BlockFile    *string         `toml:"block_file"`
	JIT          *jitFile        `toml:"jit"`
	CloudWatch   *cloudWatchFile `toml:"cloudwatch"`
}

type jitFile struct {
	Service      *string     `toml:"service"`
	StateFile    *string     `toml:"state_file"`
	UIDMin       *int64      `toml:"uid_min"`
	UIDMax       *int64      `toml:"uid_max"`
	HomeBase     *string     `toml:"home_base"`
	Skel         *string     `toml:"skel"`
	Shell        *string     `toml:"shell"`
	NegativeTTL  *string     `toml:"negative_ttl"`
	ExpireAfter  *string     `toml:"expire_after"`
	GroupsWindow *string     `toml:"groups_window"`
	Reserved     []string    `toml:"reserved"`
	Groups       []GroupRule `toml:"groups"`
}

// Parse reads a configuration from TOML text; absent keys keep their
// defaults.
func Parse(data []byte) (Config, error) {
	var f file
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		return Config{}, fmt.Errorf("hostconfig: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("hostconfig: unknown key(s) %s (known: imds_endpoint, trusted_roots, audit_file, syslog, timeout, keys_socket, block_file, [jit], [cloudwatch])", strings.Join(keys, ", "))
	}
	c := Default()
	if f.IMDSEndpoint != nil {
		if _, err := imds.ParseEndpoint(*f.IMDSEndpoint); err != nil {
			return Config{}, fmt.Errorf("hostconfig: imds_endpoint: %w", err)
		}
		c.IMDSEndpoint = *f.IMDSEndpoint
	}
	if f.TrustedRoots != nil {
		if *f.TrustedRoots != "" && !filepath.IsAbs(*f.TrustedRoots) {
			return Config{}, fmt.Errorf("hostconfig: trusted_roots %q must be an absolute path", *f.TrustedRoots)
		}
		c.TrustedRoots = *f.TrustedRoots
	}
	if f.AuditFile != nil {
		if *f.AuditFile != "" && !filepath.IsAbs(*f.AuditFile) {
			return Config{}, fmt.Errorf("hostconfig: audit_file %q must be an absolute path (or \"\" to disable)", *f.AuditFile)
		}
		c.AuditFile = *f.AuditFile
	}
	if f.Syslog != nil {
		c.Syslog = *f.Syslog
	}
	if f.Timeout != nil {
		d, err := time.ParseDuration(*f.Timeout)
		if err != nil {
			return Config{}, fmt.Errorf("hostconfig: timeout %q: want a duration such as \"3s\"", *f.Timeout)
		}
		if d < MinTimeout || d > MaxTimeout {
			return Config{}, fmt.Errorf("hostconfig: timeout %s is outside %s..%s", d, MinTimeout, MaxTimeout)
		}
		c.Timeout = d
	}
	if f.KeysSocket != nil {
		p := *f.KeysSocket
		if p != "" && (!filepath.IsAbs(p) || filepath.Clean(p) != p || len(p) > 100 || strings.ContainsAny(p, ":\n")) {
			return Config{}, fmt.Errorf("hostconfig: keys_socket %q must be a clean absolute path of at most 100 bytes (or \"\" to disable)", p)
		}
		c.KeysSocket = p
	}
	if f.BlockFile != nil {
		p := *f.BlockFile
		if p != "" && (!filepath.IsAbs(p) || filepath.Clean(p) != p || strings.ContainsAny(p, ":\n")) {
			return Config{}, fmt.Errorf("hostconfig: block_file %q must be a clean absolute path (or \"\" for no block list)", p)
		}
		c.BlockFile = p
	}
	if f.JIT != nil {
		if err := parseJIT(f.JIT, &c.JIT); err != nil {
			return Config{}, fmt.Errorf("hostconfig: jit.%w", err)
		}
	}
	if f.CloudWatch != nil {
		if err := parseCloudWatch(f.CloudWatch, &c.CloudWatch); err != nil {
			return Config{}, fmt.Errorf("hostconfig: cloudwatch.%w", err)
		}
	}
	return c, nil
}

var (
	serviceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`) // and at most 100 bytes
	// groupRE is a conservative POSIX group name.
	groupRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`) // and at most 32 bytes
)

// MinUID is the lowest uid_min accepted: below it live system accounts.
const MinUID = 1000

// parseJIT fills j from [jit], checking every value.
func parseJIT(f *jitFile, j *JIT) error {
	for _, parse := range []func(*jitFile, *JIT) error{parseJITPaths, parseJITUIDs, parseJITDurations, parseJITNames} {
		if err := parse(f, j); err != nil {
			return err
		}
	}
	return nil
}

// parseJITPaths: the service's socket name and its files.
func parseJITPaths(f *jitFile, j *JIT) error {
	if f.Service != nil {
		if len(*f.Service) > 100 || !serviceRE.MatchString(*f.Service) {
			return fmt.Errorf("service %q: want a socket name such as %q", *f.Service, DefaultService)
		}
		j.Service = *f.Service
	}
	for _, p := range []struct {
		name     string
		src      *string
		dst      *string
		mayEmpty bool
	}{
		{"state_file", f.StateFile, &j.StateFile, false},
		{"home_base", f.HomeBase, &j.HomeBase, false},
		{"skel", f.Skel, &j.Skel, true},
		{"shell", f.Shell, &j.Shell, false},
	} {
		if p.src == nil {
			continue
		}
		if (*p.src != "" || !p.mayEmpty) && (!filepath.IsAbs(*p.src) || filepath.Clean(*p.src) != *p.src || strings.ContainsAny(*p.src, ":\n")) {
			return fmt.Errorf("%s %q must be a clean absolute path", p.name, *p.src)
		}
		*p.dst = *p.src
	}
	return nil
}

// parseJITUIDs: uid_min and uid_max.
func parseJITUIDs(f *jitFile, j *JIT) error {
	if f.UIDMin != nil {
		j.UIDMin = uint32(min(max(*f.UIDMin, 0), 1<<32-1))
		if *f.UIDMin != int64(j.UIDMin) {
			j.UIDMin = 0
		}
	}
	if f.UIDMax != nil {
		j.UIDMax = uint32(min(max(*f.UIDMax, 0), 1<<32-1))
		if *f.UIDMax != int64(j.UIDMax) {
			j.UIDMax = 0
		}
	}
	if j.UIDMin < MinUID || j.UIDMax > 1<<31-1 || j.UIDMin > j.UIDMax {
		return fmt.Errorf("uid_min/uid_max: want %d <= uid_min <= uid_max <= %d, got %d..%d", MinUID, 1<<31-1, j.UIDMin, j.UIDMax)
	}
	return nil
}

// parseJITDurations: negative_ttl, expire_after and groups_window.
func parseJITDurations(f *jitFile, j *JIT) error {
	for _, d := range []struct {
		name string
		src  *string
		dst  *time.Duration
		lo   time.Duration
	}{
		{"negative_ttl", f.NegativeTTL, &j.NegativeTTL, 0},
		{"expire_after", f.ExpireAfter, &j.ExpireAfter, 0},
		{"groups_window", f.GroupsWindow, &j.GroupsWindow, time.Second},
	} {
		if d.src == nil {
			continue
		}
		v, err := time.ParseDuration(*d.src)
		if err != nil || v < d.lo {
			return fmt.Errorf("%s %q: want a duration such as \"2s\" or \"720h\"", d.name, *d.src)
		}
		*d.dst = v
	}
	if j.NegativeTTL > 10*time.Minute {
		return fmt.Errorf("negative_ttl %s: at most 10m, or a freshly pushed key would be ignored by non-root lookups for too long", j.NegativeTTL)
	}
	if j.GroupsWindow > time.Hour {
		return fmt.Errorf("groups_window %s: at most 1h", j.GroupsWindow)
	}
	if j.ExpireAfter != 0 && j.ExpireAfter < time.Hour {
		return fmt.Errorf("expire_after %s: at least 1h (or 0s to never expire)", j.ExpireAfter)
	}
	return nil
}

// parseJITNames: the reserved names and the group rules.
func parseJITNames(f *jitFile, j *JIT) error {
	for _, r := range f.Reserved {
		if r == "" {
			return errors.New("reserved: empty name")
		}
	}
	j.Reserved = f.Reserved
	for i, g := range f.Groups {
		if g.Caller == "" || len(g.Caller) > 2048 {
			return fmt.Errorf("groups[%d]: caller must be an ARN pattern", i)
		}
		if len(g.Groups) == 0 {
			return fmt.Errorf("groups[%d]: no groups", i)
		}
		for _, name := range g.Groups {
			if len(name) > 32 || !groupRE.MatchString(name) {
				return fmt.Errorf("groups[%d]: %q is not a group name", i, name)
			}
		}
	}
	j.Groups = f.Groups
	return nil
}

// Load reads and parses the configuration file at path. With path == ""
// it reads DefaultPath and, if that file does not exist, returns Default();
// an explicit path must exist.
func Load(path string) (Config, error) {
	explicit := path != ""
	if !explicit {
		path = DefaultPath
	}
	data, err := ReadSecureFile(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return Default(), nil
		}
		return Config{}, fmt.Errorf("hostconfig: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, nil
}

// ReadSecureFile reads a file that decides what is trusted: a regular file
// of at most MaxFileSize bytes, not writable by group or others, owned by
// root or the effective user.
func ReadSecureFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%s is writable by group or others (mode %04o)", path, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("%s is owned by uid %d, not root", path, st.Uid)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}
