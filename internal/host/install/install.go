// Package install owns the files jitssh-host puts on an instance and the
// checks around them: the sshd_config.d drop-in, the systemd unit of the
// userdb service, the default configuration file, the nsswitch.conf check
// (with the exact fix), and the cloud-init user data that does the same at
// launch. `jitssh-host install` and `make packages` (nfpm) use the same
// Files, so a package and a manual install are identical.
package install

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/jitssh/jitssh/internal/host/hostconfig"
)

// Marker is in every file install writes; uninstall removes only files
// carrying it.
const Marker = "managed by jitssh-host install"

// Layout says where things go.
type Layout struct {
	// Root prefixes every path (packaging and tests); "" means "/".
	Root string
	// Bin is the installed jitssh-host, as sshd and systemd see it.
	Bin string
	// AuthKeysBin is the installed jitssh-authkeys, sshd's
	// AuthorizedKeysCommand; "" makes sshd run `Bin authorized-keys`.
	AuthKeysBin string
	// UnitDir is the systemd unit directory.
	UnitDir string
	// DropIn is the sshd_config.d file.
	DropIn string
	// Config is the configuration file.
	Config string
	// PAM is sshd's PAM service file, which gets the session hook line
	// (PAMSessionLine); "" leaves PAM alone.
	PAM string
}

// DefaultLayout is a manual install; packages use UnitDir /lib/systemd/system.
func DefaultLayout() Layout {
	return Layout{
		Bin:         "/usr/bin/jitssh-host",
		AuthKeysBin: "/usr/bin/jitssh-authkeys",
		UnitDir:     "/etc/systemd/system",
		DropIn:      "/etc/ssh/sshd_config.d/50-jitssh.conf",
		Config:      hostconfig.DefaultPath,
		PAM:         "/etc/pam.d/sshd",
	}
}

// PAMSessionLine is the line install adds to sshd's PAM service: at every
// session's open and close, pam_exec runs `jitssh-host session-event`,
// which appends a session-opened or session-closed audit event (and to
// the CloudWatch Logs spool). optional: a failing hook never blocks or
// ends a login.
func (l Layout) PAMSessionLine() string {
	cmd := "session optional pam_exec.so quiet " + l.Bin + " session-event"
	if l.Config != hostconfig.DefaultPath {
		cmd += " --config " + l.Config
	}
	return cmd
}

// pamComment precedes PAMSessionLine in the PAM file.
const pamComment = "# " + Marker + ": session-opened/closed audit events (docs/instance.md)"

// WithPAMHook returns pam (a PAM service file's text) with the session
// hook appended, and whether it changed.
func (l Layout) WithPAMHook(pam []byte) ([]byte, bool) {
	line := l.PAMSessionLine()
	for _, have := range strings.Split(string(pam), "\n") {
		if strings.TrimSpace(have) == line {
			return pam, false
		}
	}
	out := append([]byte(nil), pam...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, pamComment+"\n"+line+"\n"...), true
}

// withoutPAMHook returns pam without the lines WithPAMHook adds.
func withoutPAMHook(pam []byte) ([]byte, bool) {
	lines := strings.SplitAfter(string(pam), "\n")
	var b strings.Builder
	changed := false
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == pamComment {
			changed = true
			if i+1 < len(lines) && strings.Contains(lines[i+1], "pam_exec.so") && strings.Contains(lines[i+1], " session-event") {
				i++
			}
			continue
		}
		b.WriteString(lines[i])
	}
	return []byte(b.String()), changed
}

// UnitName is the userdb service's unit.
const UnitName = "jitssh-userdb.service"

// File is one file to install.
type File struct {
	Path string // absolute, without Root
	Mode fs.FileMode
	Body []byte
	// Keep: an existing file is the administrator's and is never replaced.
	Keep bool
}

// CClient is the file name of jitssh-authkeys-c (cmd/jitssh-authkeys-c),
// jitssh-authkeys' protocol in a static C program that starts in a fraction
// of a Go program's time; it hands over to jitssh-authkeys in its own
// directory when no key service answers.
const CClient = "jitssh-authkeys-c"

// WithCClient returns l with AuthKeysBin set to jitssh-authkeys-c when
// AuthKeysBin is a jitssh-authkeys and both it and jitssh-authkeys-c are
// installed (under Root) in the same directory; otherwise l unchanged.
func (l Layout) WithCClient() Layout {
	if filepath.Base(l.AuthKeysBin) != "jitssh-authkeys" {
		return l
	}
	c := filepath.Join(filepath.Dir(l.AuthKeysBin), CClient)
	for _, p := range []string{l.AuthKeysBin, c} {
		fi, err := os.Stat(filepath.Join(l.Root, p))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return l
		}
	}
	l.AuthKeysBin = c
	return l
}

// AuthorizedKeysCommand returns the sshd_config AuthorizedKeysCommand value.
func (l Layout) AuthorizedKeysCommand() string {
	if l.AuthKeysBin == "" {
		cmd := l.Bin + " authorized-keys"
		if l.Config != hostconfig.DefaultPath {
			cmd += " --config " + l.Config
		}
		return cmd + " -- %u %f"
	}
	cmd := l.AuthKeysBin
	if filepath.Join(filepath.Dir(l.AuthKeysBin), "jitssh-host") != l.Bin {
		cmd += " --fallback " + l.Bin
	}
	if l.Config != hostconfig.DefaultPath {
		cmd += " --config " + l.Config
	}
	return cmd + " -- %u %f"
}

// Files returns the files of an installation.
func Files(l Layout) []File {
	dropIn := fmt.Sprintf(`# jitssh: EC2 Instance Connect keys verified by jitssh-host (%s).
# Keys come from IMDS through the AuthorizedKeysCommand: jitssh-authkeys (or
# jitssh-authkeys-c, the same client in C, which starts faster) asks
# %s (which verifies them, with its signer cache, and
# audits each) and runs "jitssh-host authorized-keys" when that service is
# not running. Users that do not exist yet are created on first login by the
# same service (nss-systemd).
AuthorizedKeysCommand %s
AuthorizedKeysCommandUser root
# Just-in-time users have a locked ("!*") shadow entry through nss-systemd:
# sshd accepts it only when PAM does the account checks.
UsePAM yes
PubkeyAuthentication yes
`, Marker, UnitName, l.AuthorizedKeysCommand())
	unit := fmt.Sprintf(`# %s
[Unit]
Description=jitssh just-in-time users (systemd userdb service %s)
Documentation=man:nss-systemd(8)
Before=nss-user-lookup.target sshd.service ssh.service
Wants=nss-user-lookup.target

[Service]
ExecStart=%s userdb
Restart=always
RestartSec=1s
# /run/jitssh holds the io.jitssh.Keys socket (root only) that sshd's
# AuthorizedKeysCommand asks at every login.
RuntimeDirectory=jitssh
RuntimeDirectoryMode=0755
# Every SSH login waits for this service (key verification, user lookups):
# on a machine whose CPUs are busy, a larger share keeps logins quick.
CPUWeight=1000
Nice=-5
# It creates home directories, chowns them and kills users' processes.
NoNewPrivileges=yes
ProtectSystem=full
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
`, Marker, hostconfig.DefaultService, l.Bin)
	config := fmt.Sprintf(`# jitssh-host configuration (%s; yours to edit, never replaced).
# Read by sshd's AuthorizedKeysCommand (empty environment) and by the
# userdb service. Every key is optional; shown are the defaults.

# imds_endpoint = "http://169.254.169.254"
# trusted_roots = ""                      # PEM roots for the signer chain; "" = system roots
# audit_file    = "/var/log/jitssh/audit.jsonl"
# syslog        = true                    # authpriv
# timeout       = "3s"
# keys_socket   = "/run/jitssh/io.jitssh.Keys"   # "" = jitssh-authkeys always verifies by itself
#                                               # (another path: add --socket PATH to the sshd drop-in)
# block_file    = "/etc/jitssh/blocked"   # jitssh-host users block|unblock NAME; "" = no block list

[jit]
# service      = "io.jitssh"              # socket /run/systemd/userdb/<service>
# state_file   = "/var/lib/jitssh/users.json"
# uid_min      = 1000000
# uid_max      = 1999999
# home_base    = "/home"
# skel         = "/etc/skel"
# shell        = "/bin/bash"
# negative_ttl = "1m"                    # misses, for lookups by peers other than root
# expire_after = "0s"                     # e.g. "720h" removes users unseen for 30 days
# reserved     = []                       # on top of the built-in deny list (docs/instance.md)
# groups_window = "130s"                  # how long a login's key counts for its groups:
#                                         # at least sshd's LoginGraceTime (default 120s)

# Supplementary groups by the IAM caller that pushed the key the login used:
# [[jit.groups]]
# caller = "arn:aws:sts::*:assumed-role/Admin/*"
# groups = ["sudo"]

# Ship the audit events to CloudWatch Logs (docs/instance.md): the instance
# role needs logs:CreateLogStream and logs:PutLogEvents on the group.
# [cloudwatch]
# log_group       = "/jitssh/instances"    # shipping is on when set
# region          = ""                     # default: the instance's
# endpoint        = ""                     # default: https://logs.<region>.amazonaws.com
# ca_bundle       = ""                     # default: the system roots
# spool_dir       = "/var/spool/jitssh/cloudwatch"
# spool_max_bytes = 67108864               # the oldest events are dropped (counted) beyond it
# flush_interval  = "5s"
`, Marker)
	return []File{
		{Path: l.DropIn, Mode: 0o644, Body: []byte(dropIn)},
		{Path: filepath.Join(l.UnitDir, UnitName), Mode: 0o644, Body: []byte(unit)},
		{Path: l.Config, Mode: 0o644, Body: []byte(config), Keep: true},
	}
}

// Dirs returns the directories install creates (and packages own).
func Dirs() []File {
	return []File{
		{Path: "/var/lib/jitssh", Mode: 0o700},
		{Path: "/var/log/jitssh", Mode: 0o750},
	}
}

// Problem is something wrong with the machine, with the exact fix.
type Problem struct {
	What, Fix string
}

// CheckNSS checks that nsswitch.conf (under root) asks nss-systemd for
// passwd and group, and that the module is installed.
func CheckNSS(root string) []Problem {
	var out []Problem
	path := filepath.Join(root, "/etc/nsswitch.conf")
	b, err := os.ReadFile(path)
	if err != nil {
		return []Problem{{What: fmt.Sprintf("cannot read %s: %v", path, err), Fix: "create /etc/nsswitch.conf with the lines\n  passwd: files systemd\n  group:  files systemd"}}
	}
	for _, db := range []string{"passwd", "group"} {
		if !nssHasSystemd(b, db) {
			out = append(out, Problem{
				What: fmt.Sprintf("%s: the %q line does not list systemd, so glibc never asks the userdb service", path, db),
				Fix:  fmt.Sprintf(`sed -i -E '/^%[1]s:[^#]*[[:space:]]systemd([[:space:]#]|$)/!s/^(%[1]s:[^#]*[^#[:space:]])/\1 systemd/' /etc/nsswitch.conf`, db),
			})
		}
	}
	found := false
	for _, dir := range []string{"/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/usr/lib"} {
		if _, err := os.Stat(filepath.Join(root, dir, "libnss_systemd.so.2")); err == nil {
			found = true
			break
		}
	}
	if !found {
		out = append(out, Problem{What: "libnss_systemd.so.2 is not installed", Fix: "apt-get install libnss-systemd   # Debian, Ubuntu\ndnf install systemd-libs         # Amazon Linux 2023, RHEL"})
	}
	return out
}

func nssHasSystemd(conf []byte, db string) bool {
	for _, line := range strings.Split(string(conf), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != db {
			continue
		}
		for _, f := range strings.Fields(rest) {
			if f == "systemd" {
				return true
			}
		}
		return false
	}
	return false
}

// Options of Install.
type Options struct {
	// Start enables and starts the service and reloads sshd when systemd
	// runs.
	Start bool
	// Run runs a command (tests replace it); nil means exec.
	Run func(name string, args ...string) error
}

func (o Options) run(name string, args ...string) error {
	if o.Run != nil {
		return o.Run(name, args...)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Install writes the files and directories under l.Root and returns what
// it did, one line each. A file install did not write (no Marker) is
// never replaced, except that the configuration file is only ever created.
func Install(l Layout, o Options) ([]string, error) {
	var did []string
	for _, d := range Dirs() {
		p := filepath.Join(l.Root, d.Path)
		if err := os.MkdirAll(p, d.Mode); err != nil {
			return did, fmt.Errorf("install: %w", err)
		}
	}
	for _, f := range Files(l) {
		p := filepath.Join(l.Root, f.Path)
		old, err := os.ReadFile(p)
		switch {
		case err == nil && f.Keep:
			did = append(did, "kept "+f.Path)
			continue
		case err == nil && bytes.Equal(old, f.Body):
			did = append(did, "unchanged "+f.Path)
			continue
		case err == nil && !bytes.Contains(old, []byte(Marker)):
			return did, fmt.Errorf("install: %s exists and was not written by jitssh-host; move it away first", f.Path)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return did, fmt.Errorf("install: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return did, fmt.Errorf("install: %w", err)
		}
		tmp := p + ".jitssh-tmp"
		if err := os.WriteFile(tmp, f.Body, f.Mode); err != nil {
			return did, fmt.Errorf("install: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return did, fmt.Errorf("install: %w", err)
		}
		did = append(did, "wrote "+f.Path)
	}
	if l.PAM != "" {
		msg, err := editPAM(l, true)
		if err != nil {
			return did, err
		}
		did = append(did, msg)
	}
	if !o.Start {
		return did, nil
	}
	if err := o.run("sshd", "-t"); err != nil {
		return did, fmt.Errorf("install: sshd rejects the configuration: %w", err)
	}
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		did = append(did, "systemd is not running: start `"+l.Bin+" userdb` and reload sshd yourself")
		return did, nil
	}
	steps := [][]string{
		{"systemctl", "daemon-reload"},
		{"systemctl", "enable", UnitName},
		// Restart, not just start: a reinstall's new binary must serve
		// io.jitssh.Keys (jitssh-authkeys falls back meanwhile).
		{"systemctl", "restart", UnitName},
	}
	for _, s := range steps {
		if err := o.run(s[0], s[1:]...); err != nil {
			return did, fmt.Errorf("install: %w", err)
		}
		did = append(did, "ran "+strings.Join(s, " "))
	}
	if err := o.run("systemctl", "reload-or-restart", "ssh.service"); err != nil {
		if err := o.run("systemctl", "reload-or-restart", "sshd.service"); err != nil {
			return did, fmt.Errorf("install: reload sshd: %w", err)
		}
	}
	did = append(did, "reloaded sshd")
	return did, nil
}

// Uninstall stops the service and removes the files install wrote (never
// the configuration file, the state, homes or the audit trail).
func Uninstall(l Layout, o Options) ([]string, error) {
	var did []string
	if o.Start {
		if _, err := os.Stat("/run/systemd/system"); err == nil {
			if err := o.run("systemctl", "disable", "--now", UnitName); err == nil {
				did = append(did, "ran systemctl disable --now "+UnitName)
			}
		}
	}
	for _, f := range Files(l) {
		if f.Keep {
			continue
		}
		p := filepath.Join(l.Root, f.Path)
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return did, fmt.Errorf("uninstall: %w", err)
		}
		if !bytes.Contains(b, []byte(Marker)) {
			did = append(did, "left "+f.Path+" (not written by jitssh-host)")
			continue
		}
		if err := os.Remove(p); err != nil {
			return did, fmt.Errorf("uninstall: %w", err)
		}
		did = append(did, "removed "+f.Path)
	}
	if l.PAM != "" {
		msg, err := editPAM(l, false)
		if err != nil {
			return did, err
		}
		did = append(did, msg)
	}
	if o.Start {
		if _, err := os.Stat("/run/systemd/system"); err == nil {
			_ = o.run("systemctl", "daemon-reload")
			if err := o.run("systemctl", "reload-or-restart", "ssh.service"); err != nil {
				_ = o.run("systemctl", "reload-or-restart", "sshd.service")
			}
			did = append(did, "reloaded sshd")
		}
	}
	return did, nil
}

// editPAM adds (or removes) the session hook in l.PAM, keeping the
// file's mode, and says what it did.
func editPAM(l Layout, add bool) (string, error) {
	p := filepath.Join(l.Root, l.PAM)
	old, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		if add {
			return "no " + l.PAM + ": sshd does not use PAM here, so session-opened/closed events are not recorded", nil
		}
		return "no " + l.PAM, nil
	}
	if err != nil {
		return "", fmt.Errorf("install: %w", err)
	}
	body, changed := withoutPAMHook(old)
	if add {
		body, changed = l.WithPAMHook(old)
	}
	if !changed {
		return "unchanged " + l.PAM, nil
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(p); err == nil {
		mode = st.Mode().Perm()
	}
	tmp := p + ".jitssh-tmp"
	if err := os.WriteFile(tmp, body, mode); err != nil {
		return "", fmt.Errorf("install: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("install: %w", err)
	}
	if add {
		return "added the session hook to " + l.PAM, nil
	}
	return "removed the session hook from " + l.PAM, nil
}

// UserData returns cloud-init user data that installs jitssh-host at
// launch: from packageURL (a .deb or .rpm) when given, else it expects
// the binary in the image; config, when not empty, becomes host.toml.
func UserData(l Layout, packageURL, config string) (string, error) {
	if strings.ContainsAny(packageURL, "'\n\\ ") {
		return "", fmt.Errorf("package URL %q has quotes, spaces or newlines", packageURL)
	}
	var b strings.Builder
	b.WriteString("#cloud-config\n# jitssh: just-in-time SSH users through EC2 Instance Connect (jitssh-host user-data)\n")
	if config != "" {
		b.WriteString("write_files:\n  - path: " + l.Config + "\n    permissions: '0644'\n    owner: root:root\n    content: |\n")
		for _, line := range strings.Split(strings.TrimRight(config, "\n"), "\n") {
			b.WriteString("      " + line + "\n")
		}
	}
	b.WriteString("runcmd:\n")
	if packageURL != "" {
		fmt.Fprintf(&b, "  - [sh, -c, 'set -e; f=/tmp/jitssh-host.pkg; curl -fsSL -o $f %s; if command -v dpkg >/dev/null; then dpkg -i $f; else rpm -Uvh $f; fi']\n", packageURL)
	}
	fmt.Fprintf(&b, "  - [%s, install]\n", l.Bin)
	return b.String(), nil
}
