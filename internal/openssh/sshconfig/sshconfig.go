// Package sshconfig renders and installs the ssh_config settings that make
// `ssh i-0123456789abcdef0` go through `jitssh proxy`.
//
// Render produces a managed block (a section for i-* and mi-* between
// "# BEGIN jitssh" and "# END jitssh" marker comments, matched exactly);
// Install puts it at the top of ~/.ssh/config, because OpenSSH takes the
// first value it finds for each option, and Remove takes it out again,
// leaving every other byte of the file as it was. A block the user moved
// is replaced where it is; CheckEffective then asks the real `ssh -G`
// whether an earlier Host or Match section overrides any of its settings.
// Args gives the same settings as `ssh -o` options for running ssh without
// touching any config file.
//
// # Identity files and the ProxyCommand
//
// The block points IdentityFile at <KeyDir>/%r@%h. `jitssh proxy` writes the
// ephemeral private key there before it relays the first SSH byte. OpenSSH
// forks the ProxyCommand and then, without waiting for it, reads the public
// half of every IdentityFile that exists; a file that does not exist yet is
// remembered and its private key is read only at authentication time,
// after the key exchange, which cannot start before the proxy relays bytes.
// So a key file that is absent when ssh starts is race-free ("Trying
// private key: …" in `ssh -v`). A DIFFERENT key already sitting at that path
// when ssh starts is not: ssh offers the stale public key it read at start
// ("Offering public key: …") and authentication fails, even though the
// proxy has replaced the file by then. The proxy must therefore reuse (and
// re-push) a key file it finds at the path, never replace it:
// sshkeys.LoadOrCreate does exactly that, with exclusive creation so that
// concurrent proxies agree on one key. (Verified with OpenSSH 9.2 `ssh -v`:
// absent file → "Trying private key", success; same key present →
// "Offering public key", success; different key present → the stale key
// is offered and "Permission denied".)
//
// # Quoting
//
// OpenSSH splits most option values like a small shell (double and single
// quotes, backslash escapes of quotes and backslashes), then expands %
// tokens and, for paths, ${ENV} references. Paths are therefore written in
// double quotes with '\' and '"' escaped and '%' doubled; a path containing
// "${" is refused, since ssh_config has no way to escape it. ProxyCommand is
// not split by ssh but handed to /bin/sh -c after % expansion, so the jitssh
// path is single-quoted for the shell and its '%' doubled, and %r and %h
// are single-quoted too: OpenSSH before 9.6 (CVE-2023-51385) expands user
// and host names from the command line unchecked. The section's Match line
// leaves out names containing a single quote, the one character single
// quotes cannot hold. Win32-OpenSSH starts the ProxyCommand without a shell:
// see windows.go for its quoting (Options.OS).
package sshconfig

import (
	"fmt"
	"strconv"
	"strings"
)

// Markers delimiting the managed block in ssh_config. A line is a marker
// only if it is exactly one of these (surrounding blanks aside): the BEGIN
// marker alone or as Render writes it (beginLine), the END marker alone.
// A comment that merely starts like one ("# END jitssh-work") is the
// user's, and never taken for the end of the block.
const (
	BeginMarker = "# BEGIN jitssh"
	EndMarker   = "# END jitssh"
	beginLine   = BeginMarker + " (managed by `jitssh config install`; edits between these markers are replaced)"
)

// DefaultHostPatterns are the Host patterns the managed block always covers:
// EC2 instance ids and SSM managed (hybrid) instance ids.
var defaultHostPatterns = []string{"i-*", "mi-*"}

// DefaultServerAliveInterval is used when Options.ServerAliveInterval is 0.
const DefaultServerAliveInterval = 30

// Options are the settings of the managed block.
type Options struct {
	// JitsshPath is the absolute path of the jitssh binary run as
	// `<JitsshPath> proxy '%r' '%h' %p`. Required.
	JitsshPath string
	// KeyDir is the absolute directory where the proxy writes ephemeral
	// private keys, one file per <user>@<host>. Required.
	KeyDir string
	// KnownHostsFile is the absolute path of the host-key pin store, in
	// known_hosts format. Required.
	KnownHostsFile string
	// ExtraHosts are Host patterns routed through jitssh in addition to
	// "i-*" and "mi-*" (for example "*.jitssh"). Render only.
	ExtraHosts []string
	// Scope, if set, is the scope the proxy searches (its --scope: a
	// name of jitssh's config, or "all"); "" leaves it to the config's
	// default_scope.
	Scope string
	// ServerAliveInterval in seconds; 0 means DefaultServerAliveInterval,
	// a negative value leaves the option out.
	ServerAliveInterval int
	// HostKeyAlias, if set, names the pin to check the host key against
	// (the instance id when the target was given by another name). Args
	// only: a fixed alias in a Host section shared by many hosts would be
	// wrong, so Render refuses it.
	HostKeyAlias string
	// IdentityFile, if set, is the user's own private key, used instead
	// of the ephemeral key file in KeyDir (the proxy then pushes its
	// public half). Args only.
	IdentityFile string
	// User, if set, is the login name the Host section sets (ssh's
	// `user@` and -l still win). Without it ssh uses the local user name.
	User string
	// OS is the GOOS of the ssh that reads the settings: "windows" for
	// Win32-OpenSSH, which starts the ProxyCommand without a shell (see
	// windows.go). "" means the running system's.
	OS string
}

// setting is one ssh_config option and its already-quoted value.
type setting struct{ key, value string }

func (o Options) settings() ([]setting, error) {
	if err := o.checkAbs("jitssh path", o.JitsshPath); err != nil {
		return nil, err
	}
	if err := o.checkAbs("key directory", o.KeyDir); err != nil {
		return nil, err
	}
	if err := o.checkAbs("known hosts file", o.KnownHostsFile); err != nil {
		return nil, err
	}
	keyDir, err := quotePathInner(o.dirPrefix(o.KeyDir))
	if err != nil {
		return nil, err
	}
	identity := `"` + keyDir + `%r@%h"`
	if o.IdentityFile != "" {
		if err := o.checkAbs("identity file", o.IdentityFile); err != nil {
			return nil, err
		}
		if identity, err = QuotePath(o.IdentityFile); err != nil {
			return nil, err
		}
	}
	known, err := QuotePath(o.KnownHostsFile)
	if err != nil {
		return nil, err
	}
	proxy, err := o.proxyCommand()
	if err != nil {
		return nil, err
	}
	khcmd, err := QuotePath(o.JitsshPath)
	if err != nil {
		return nil, err
	}
	var s []setting
	if o.User != "" {
		if err := checkUser(o.User); err != nil {
			return nil, err
		}
		s = append(s, setting{"User", o.User})
	}
	s = append(s, []setting{
		// %r and %h are single-quoted for the shell: OpenSSH clients
		// without the CVE-2023-51385 fix (before 9.6) pass user and host
		// names from the command line into the ProxyCommand unchecked.
		// The one character single quotes cannot hold, "'", is kept out
		// by the section's Match line (see hostSection). Windows has no
		// shell there (windows.go).
		{"ProxyCommand", proxy},
		{"IdentityFile", identity},
		{"IdentitiesOnly", "yes"},
		{"UserKnownHostsFile", known},
		// Pins are keyed by instance id; ssh asks about the name it was
		// given. The command maps one to the other (OpenSSH >= 8.5), and
		// with the server's key (%t %K) explains a changed key itself.
		{"KnownHostsCommand", khcmd + " known-hosts lookup --reason=%I --key-type=%t --key=%K %H"},
		// Never "no" or "accept-new": an unknown host is a refusal; pins
		// are learned by jitssh over the AWS-authenticated channel.
		{"StrictHostKeyChecking", "yes"},
		// The pin store is jitssh's; ssh must not add keys to it.
		{"UpdateHostKeys", "no"},
	}...)
	switch {
	case o.ServerAliveInterval == 0:
		s = append(s, setting{"ServerAliveInterval", strconv.Itoa(DefaultServerAliveInterval)})
	case o.ServerAliveInterval > 0:
		s = append(s, setting{"ServerAliveInterval", strconv.Itoa(o.ServerAliveInterval)})
	}
	return s, nil
}

// proxyArgs follows the quoted jitssh path in the ProxyCommand.
const proxyArgs = "proxy '%r' '%h' %p"

// hostSection returns the line that opens the section of jitssh's settings:
// a Match of the names given to ssh (originalhost, what a Host line
// matches) against the patterns, that leaves out every host name (as given
// or after HostName) and remote user name containing a single quote, so that the single-quoted %r and %h of the
// ProxyCommand cannot be broken out of, whatever the OpenSSH version.
func hostSection(patterns []string) string {
	return `Match originalhost "` + strings.Join(patterns, ",") + `,!*'*" !host "*'*" !user "*'*"`
}

// Render returns the managed block: marker comments around a section
// for "i-* mi-*" (plus ExtraHosts; see hostSection), ending with a "Host *" line so that
// whatever follows the block in the file keeps applying to every host, as
// it did before the block was inserted above it. The result ends in a
// newline.
func Render(o Options) (string, error) {
	if o.HostKeyAlias != "" {
		return "", fmt.Errorf("render ssh_config block: HostKeyAlias applies to one host and cannot be set for a Host pattern")
	}
	settings, err := o.settings()
	if err != nil {
		return "", fmt.Errorf("render ssh_config block: %w", err)
	}
	patterns := append([]string(nil), defaultHostPatterns...)
	for _, p := range o.ExtraHosts {
		if err := checkPattern(p); err != nil {
			return "", fmt.Errorf("render ssh_config block: %w", err)
		}
		patterns = append(patterns, p)
	}
	var b strings.Builder
	b.WriteString(beginLine + "\n")
	b.WriteString(hostSection(patterns) + "\n")
	for _, s := range settings {
		b.WriteString("    " + s.key + " " + s.value + "\n")
	}
	b.WriteString("# Back to all hosts, so that the lines after this block mean what they meant before it.\n")
	b.WriteString("Host *\n")
	b.WriteString(EndMarker + "\n")
	return b.String(), nil
}

// Args returns the same settings as Render, as arguments for ssh(1):
// "-o", "Key=Value" pairs. HostKeyAlias is included when set.
func Args(o Options) ([]string, error) {
	settings, err := o.settings()
	if err != nil {
		return nil, fmt.Errorf("ssh options: %w", err)
	}
	if o.HostKeyAlias != "" {
		if err := checkPattern(o.HostKeyAlias); err != nil || strings.ContainsAny(o.HostKeyAlias, "*?!,") {
			return nil, fmt.Errorf("ssh options: invalid host key alias %q", o.HostKeyAlias)
		}
		settings = append(settings, setting{"HostKeyAlias", o.HostKeyAlias})
	}
	args := make([]string, 0, 2*len(settings))
	for _, s := range settings {
		args = append(args, "-o", s.key+"="+s.value)
	}
	return args, nil
}

// QuotePath quotes a file path for an ssh_config option that OpenSSH
// splits into words and then expands % tokens and ${ENV} in (IdentityFile,
// UserKnownHostsFile, ControlPath, …): double quotes, '\' and '"'
// backslash-escaped, '%' doubled. Paths with control characters or "${"
// are refused.
func QuotePath(p string) (string, error) {
	inner, err := quotePathInner(p)
	if err != nil {
		return "", err
	}
	return `"` + inner + `"`, nil
}

func quotePathInner(p string) (string, error) {
	if err := checkChars(p); err != nil {
		return "", err
	}
	if strings.Contains(p, "${") {
		return "", fmt.Errorf("path %q contains \"${\", which ssh_config would expand as an environment variable and cannot escape", p)
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`)
	return r.Replace(p), nil
}

// QuoteShell quotes a word for a ProxyCommand-like option that OpenSSH
// hands to /bin/sh -c after % expansion: single quotes for the shell
// (an embedded quote is closed, escaped and reopened), then '%' doubled.
func QuoteShell(s string) (string, error) {
	if err := checkChars(s); err != nil {
		return "", err
	}
	q := "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	return strings.ReplaceAll(q, "%", "%%"), nil
}

// checkUser accepts a conservative POSIX user name.
func checkUser(u string) error {
	if len(u) == 0 || len(u) > 32 || strings.Trim(strings.ToLower(u), "abcdefghijklmnopqrstuvwxyz0123456789_.-") != "" || u != strings.ToLower(u) || strings.HasPrefix(u, "-") {
		return fmt.Errorf("invalid user name %q", u)
	}
	return nil
}

func (o Options) checkAbs(what, p string) error {
	if p == "" {
		return fmt.Errorf("%s is not set", what)
	}
	if !o.isAbs(p) {
		return fmt.Errorf("%s %q is not an absolute path", what, p)
	}
	return checkChars(p)
}

func checkChars(s string) error {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%q contains a control character", s)
		}
	}
	return nil
}

// checkPattern accepts one ssh_config host pattern word: no spaces, quotes,
// comment signs, commas (the Match pattern-list separator) or control
// characters.
func checkPattern(p string) error {
	if p == "" {
		return fmt.Errorf("empty host pattern")
	}
	if strings.ContainsAny(p, " \t\"'#=\\,") {
		return fmt.Errorf("host pattern %q contains a space, quote, '#', '=', ',' or backslash", p)
	}
	return checkChars(p)
}

// RenderHosts returns the Host section on its own, for the file jitssh owns
// and the managed block includes (see RenderInclude). An Include restores
// the including file's Host context when the included file ends, so no
// trailing "Host *" is needed here.
func RenderHosts(o Options) (string, error) {
	block, err := Render(o)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("# Written by `jitssh config install`; regenerated each time it runs.\n")
	for _, line := range strings.SplitAfter(block, "\n") {
		t := strings.TrimSpace(line)
		if isBegin(t) {
			continue
		}
		if strings.HasPrefix(t, "# Back to all hosts") || t == "Host *" || t == EndMarker {
			break
		}
		b.WriteString(line)
	}
	return b.String(), nil
}

// RenderInclude returns the managed block for ~/.ssh/config: marker
// comments around one Include of path (an absolute path), which holds the
// RenderHosts section.
func RenderInclude(path string) (string, error) {
	if err := (Options{}).checkAbs("included file", path); err != nil {
		return "", fmt.Errorf("render ssh_config block: %w", err)
	}
	q, err := QuotePath(path)
	if err != nil {
		return "", fmt.Errorf("render ssh_config block: %w", err)
	}
	return beginLine + "\n" +
		"Include " + q + "\n" +
		EndMarker + "\n", nil
}
