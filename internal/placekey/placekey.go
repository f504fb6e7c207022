// Package placekey owns jitssh's key-placement command: the exact
// AWS-RunShellScript `commands` list that places a short-lived SSH public
// key in a user's authorized_keys on an instance EC2 Instance Connect
// cannot reach (SSM managed, mi-, instances), with an OpenSSH expiry-time
// so sshd itself stops honouring it. Script writes it; Parse recognises
// exactly that form and nothing else, which is how the sandbox's simulated
// managed instances run only that script (for real, as root, against
// their own account database) and never any other command.
//
// The form is versioned by its first line and documented in
// docs/sandbox.md ("Managed instances").
package placekey

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Header is the first command line; it names the form's version. v1
// did the file work as root inside the user's ~/.ssh and followed the
// user's links (docs/security.md, "Key placement on managed instances");
// v2 does it as the user.
const Header = "# jitssh-place-key v2"

// Comment ends every key line the script writes, so that the expired ones
// can be told from the user's own keys and pruned.
const Comment = "jitssh-ephemeral"

// MaxLifetime bounds how far in the future a placed key may expire.
const MaxLifetime = time.Hour

// timeLayout is OpenSSH's expiry-time form (UTC, "Z" suffix).
const timeLayout = "20060102150405"

// body is the fixed part of the script, after the three assignments.
//
// It runs as root (the SSM agent's AWS-RunShellScript) but touches no path
// the user controls while privileged: as root it only looks the user up
// (getent) and drops to the user's uid, gid and groups (setpriv from
// util-linux, else runuser, else su -s /bin/sh, so a nologin shell does
// not matter), handing over the home directory, key and expiry in the
// environment. Everything in the home directory is then done by the user,
// who can only do to their own files what they could do anyway: make
// ~/.ssh (0700), copy authorized_keys without this form's expired lines
// into a new mktemp file (0600, the user's), append the key with its
// OpenSSH expiry-time, and rename it over authorized_keys. set -eu makes
// any failure the script's exit status; the inner script's messages name
// the step.
var body = []string{
	`e=$(getent passwd "$u") || { echo "jitssh-place-key: no user $u on this instance (getent passwd $u found nothing)" >&2; exit 2; }`,
	`i=$(printf '%s\n' "$e" | cut -d: -f3)`,
	`g=$(printf '%s\n' "$e" | cut -d: -f4)`,
	`H=$(printf '%s\n' "$e" | cut -d: -f6)`,
	`K=$k X=$x`,
	`export H K X`,
	`if command -v setpriv >/dev/null 2>&1; then set -- setpriv --reuid="$i" --regid="$g" --init-groups sh -s`,
	`elif command -v runuser >/dev/null 2>&1; then set -- runuser -u "$u" -- sh -s`,
	`else set -- su -s /bin/sh -c 'exec sh -s' "$u"; fi`,
	`"$@" <<'JITSSH_AS_USER'`,
	`set -eu`,
	`umask 077`,
	`case $H in /*) ;; *) echo "jitssh-place-key: the home directory of $(id -un) is \"$H\", not an absolute path" >&2; exit 3;; esac`,
	`cd "$H" || { echo "jitssh-place-key: cannot enter $H as $(id -un): the home directory must exist and belong to the user" >&2; exit 3; }`,
	`mkdir -p .ssh && cd .ssh || { echo "jitssh-place-key: cannot make or enter $H/.ssh as $(id -un)" >&2; exit 3; }`,
	`test -e authorized_keys || : > authorized_keys`,
	`test -f authorized_keys || { echo "jitssh-place-key: $H/.ssh/authorized_keys is not a regular file" >&2; exit 3; }`,
	`t=$(mktemp authorized_keys.jitssh.XXXXXX)`,
	`trap 'rm -f "$t"' EXIT`,
	`n=$(date -u +%Y%m%d%H%M%S)`,
	`awk -v n="$n" '!(/ ` + Comment + `$/ && match($0, /^expiry-time="[0-9]+Z"/) && substr($0, 14, 14) < n)' authorized_keys > "$t"`,
	`printf 'expiry-time="%sZ" %s\n' "$X" "$K" >> "$t"`,
	`chmod 600 "$t"`,
	`mv -f "$t" authorized_keys`,
	`trap - EXIT`,
	`JITSSH_AS_USER`,
}

// Placement is what one script places.
type Placement struct {
	User string
	// Key is the authorized_keys line without options: type, base64 blob
	// and Comment.
	Key     string
	Expires time.Time
}

var (
	userRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	uLine  = regexp.MustCompile(`^u='([^']*)'$`)
	kLine  = regexp.MustCompile(`^k='([^']*)'$`)
	xLine  = regexp.MustCompile(`^x='([0-9]{14})'$`)
)

// Script returns the commands that place key (an OpenSSH public key of
// type ssh-ed25519 or ssh-rsa) for user until expires.
func Script(user string, key ssh.PublicKey, expires time.Time) ([]string, error) {
	if !userRE.MatchString(user) {
		return nil, fmt.Errorf("user name %q: want a POSIX user name (lower-case letters, digits, _ and -)", user)
	}
	if t := key.Type(); t != ssh.KeyAlgoED25519 && t != ssh.KeyAlgoRSA {
		return nil, fmt.Errorf("key type %s: want ssh-ed25519 or ssh-rsa", t)
	}
	line := key.Type() + " " + base64.StdEncoding.EncodeToString(key.Marshal()) + " " + Comment
	out := []string{Header, "set -eu",
		"u='" + user + "'",
		"k='" + line + "'",
		"x='" + expires.UTC().Format(timeLayout) + "'",
	}
	return append(out, body...), nil
}

// Parse recognises a script written by Script and returns its placement.
// now bounds the expiry: it must be after now and at most MaxLifetime
// later. Anything else is an error saying what differs.
func Parse(commands []string, now time.Time) (Placement, error) {
	// The aws CLI and the SDKs send the list as given; the console splits
	// one text box on newlines. Accept both, nothing else.
	var lines []string
	for _, c := range commands {
		lines = append(lines, strings.Split(strings.TrimRight(c, "\n"), "\n")...)
	}
	if len(lines) == 0 || lines[0] != Header {
		return Placement{}, errors.New("not a jitssh key-placement script (its first line must be \"" + Header + "\")")
	}
	if len(lines) != 5+len(body) {
		return Placement{}, fmt.Errorf("the script has %d lines, the key-placement form has %d", len(lines), 5+len(body))
	}
	if lines[1] != "set -eu" {
		return Placement{}, errors.New("line 2 must be \"set -eu\"")
	}
	var p Placement
	m := uLine.FindStringSubmatch(lines[2])
	if m == nil || !userRE.MatchString(m[1]) {
		return Placement{}, errors.New("line 3 must be u='<POSIX user name>'")
	}
	p.User = m[1]
	m = kLine.FindStringSubmatch(lines[3])
	if m == nil {
		return Placement{}, errors.New("line 4 must be k='<key type> <base64> " + Comment + "'")
	}
	key, err := parseKey(m[1])
	if err != nil {
		return Placement{}, fmt.Errorf("line 4: %w", err)
	}
	p.Key = key
	m = xLine.FindStringSubmatch(lines[4])
	if m == nil {
		return Placement{}, errors.New("line 5 must be x='<YYYYMMDDHHMMSS, UTC>'")
	}
	exp, err := time.ParseInLocation(timeLayout, m[1], time.UTC)
	if err != nil {
		return Placement{}, fmt.Errorf("line 5: %q is not a time: %w", m[1], err)
	}
	if !exp.After(now) || exp.Sub(now) > MaxLifetime {
		return Placement{}, fmt.Errorf("line 5: the key must expire after now and within %v (it says %s)", MaxLifetime, exp.Format(time.RFC3339))
	}
	p.Expires = exp
	for i, want := range body {
		if lines[5+i] != want {
			return Placement{}, fmt.Errorf("line %d differs from the key-placement form", 6+i)
		}
	}
	return p, nil
}

// parseKey checks "<type> <base64> jitssh-ephemeral" and returns it.
func parseKey(s string) (string, error) {
	f := strings.Split(s, " ")
	if len(f) != 3 || f[2] != Comment {
		return "", errors.New("want \"<type> <base64> " + Comment + "\"")
	}
	if f[0] != ssh.KeyAlgoED25519 && f[0] != ssh.KeyAlgoRSA {
		return "", fmt.Errorf("key type %q: want ssh-ed25519 or ssh-rsa", f[0])
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "", errors.New("the key is not base64")
	}
	pub, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return "", fmt.Errorf("not a public key: %w", err)
	}
	if pub.Type() != f[0] || base64.StdEncoding.EncodeToString(pub.Marshal()) != f[1] {
		return "", errors.New("the key's type or encoding is not canonical")
	}
	return s, nil
}
