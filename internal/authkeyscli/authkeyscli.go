// Package authkeyscli is jitssh-authkeys, sshd's AuthorizedKeysCommand in
// its cheapest form: one io.jitssh.Keys.Authorize call to the root
// `jitssh-host userdb` service (internal/host/keyproto), which fetches and
// verifies the keys with its cached signer state and records the audit
// events. When no service answers (no socket, nobody listening), it
// replaces itself with `jitssh-host authorized-keys`, which does all the
// work in this process. Any other doubt prints nothing and exits 1.
//
// It exists because a login's AuthorizedKeysCommand is a new process every
// time, and on a busy machine the cost of starting a process that links
// cobra, TOML, crypto/x509 and an HTTP client dominates the login's wait.
// This package therefore imports only os, syscall and keyproto, parses its
// flags by hand and never reads the configuration file itself.
package authkeyscli

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jitssh/jitssh/internal/host/keyproto"
)

// Exit statuses, as jitssh-host authorized-keys.
const (
	ExitOK      = 0 // keys printed, or none published for the user
	ExitRefused = 1 // nothing printed
	ExitUsage   = 2
)

// DefaultTimeout bounds the call to the service: above the service's own
// 3 s verification deadline, below AWS's 5 s.
const DefaultTimeout = 4 * time.Second

// Usage is the --help text.
const Usage = `Usage: jitssh-authkeys [--socket PATH] [--config PATH] [--fallback PATH] [--timeout DURATION] [--] USER [FINGERPRINT]

jitssh-authkeys is sshd's AuthorizedKeysCommand. It asks the jitssh-host
userdb service (root, socket ` + keyproto.DefaultSocket + `) for the EC2 Instance
Connect keys of USER that pass every check (signer chain, OCSP, signature,
instance, expiry, FINGERPRINT) and prints them, one per line. The service
records every key served and every refusal in the audit trail.

If no service answers, it runs "jitssh-host authorized-keys", which does the
same work itself: --fallback names that binary (default: jitssh-host next to
this one; "none" refuses instead), --config is passed to it.

Exit status: 0 when keys were printed or none is published for USER; 1 when
anything failed or every key was refused, with nothing printed and the reason
on stderr; 2 for bad arguments.

Flags:
  --socket PATH        the service's socket (default ` + keyproto.DefaultSocket + `)
  --config PATH        configuration for the fallback (default /etc/jitssh/host.toml)
  --fallback PATH      jitssh-host to run when no service answers, or "none"
  --timeout DURATION   how long to wait for the service (default 4s)

Examples (sshd_config; "--" keeps a user name from being read as a flag):
  AuthorizedKeysCommand /usr/bin/jitssh-authkeys -- %u %f
  AuthorizedKeysCommandUser root

  jitssh-authkeys -- alice
  jitssh-authkeys --socket /run/jitssh/io.jitssh.Keys -- alice SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
`

// options are the parsed arguments.
type options struct {
	socket, config, fallback string
	timeout                  time.Duration
	user, fingerprint        string
	help                     bool
}

// parse reads flags (only before USER) and one or two arguments.
func parse(args []string) (options, error) {
	o := options{socket: keyproto.DefaultSocket, timeout: DefaultTimeout}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if a == "-h" || a == "--help" {
			o.help = true
			return o, nil
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		var dst *string
		switch name {
		case "socket":
			dst = &o.socket
		case "config":
			dst = &o.config
		case "fallback":
			dst = &o.fallback
		case "timeout":
		default:
			return o, errors.New("unknown flag " + a)
		}
		if !hasVal {
			if i+1 >= len(args) {
				return o, errors.New("flag " + a + " needs a value")
			}
			i++
			val = args[i]
		}
		if dst != nil {
			*dst = val
			continue
		}
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 || d > time.Minute {
			return o, errors.New("--timeout " + val + ": want a duration between 0 and 1m, e.g. 4s")
		}
		o.timeout = d
	}
	rest := args[i:]
	if len(rest) < 1 || len(rest) > 2 {
		return o, errors.New("want USER [FINGERPRINT]")
	}
	o.user = rest[0]
	if len(rest) == 2 {
		o.fingerprint = rest[1]
	}
	if o.socket == "" || o.socket[0] != '/' {
		return o, errors.New("--socket must be an absolute path")
	}
	return o, nil
}

// Main runs jitssh-authkeys with args (without the program name) and
// returns its exit status; it does not return when it hands over to the
// fallback.
func Main(args []string, stdout, stderr *os.File) int {
	o, err := parse(args)
	if o.help {
		stdout.WriteString(Usage)
		return ExitOK
	}
	if err != nil {
		stderr.WriteString("jitssh-authkeys: " + err.Error() + "\n(see jitssh-authkeys --help)\n")
		return ExitUsage
	}
	keys, err := keyproto.Ask(o.socket, o.user, o.fingerprint, o.timeout)
	if errors.Is(err, keyproto.ErrUnavailable) {
		return fallback(o, err, stderr)
	}
	if err != nil {
		stderr.WriteString("jitssh-authkeys: " + oneLine(err.Error()) + "\n")
		return ExitRefused
	}
	if keys == "" {
		return ExitOK
	}
	if !strings.HasSuffix(keys, "\n") {
		keys += "\n"
	}
	if _, err := stdout.WriteString(keys); err != nil {
		stderr.WriteString("jitssh-authkeys: write keys: " + oneLine(err.Error()) + "\n")
		return ExitRefused
	}
	return ExitOK
}

// fallback replaces this process with `jitssh-host authorized-keys`.
func fallback(o options, why error, stderr *os.File) int {
	bin := o.fallback
	if bin == "none" {
		stderr.WriteString("jitssh-authkeys: " + oneLine(why.Error()) + ", and --fallback none\n")
		return ExitRefused
	}
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			stderr.WriteString("jitssh-authkeys: " + oneLine(why.Error()) + "; cannot find jitssh-host: " + oneLine(err.Error()) + "\n")
			return ExitRefused
		}
		bin = self[:strings.LastIndexByte(self, '/')+1] + "jitssh-host"
	}
	argv := []string{bin, "authorized-keys"}
	if o.config != "" {
		argv = append(argv, "--config", o.config)
	}
	argv = append(argv, "--", o.user)
	if o.fingerprint != "" {
		argv = append(argv, o.fingerprint)
	}
	err := syscall.Exec(bin, argv, os.Environ())
	stderr.WriteString("jitssh-authkeys: " + oneLine(why.Error()) + "; run " + bin + ": " + oneLine(err.Error()) + "\n")
	return ExitRefused
}

// oneLine keeps a message to one printable line.
func oneLine(s string) string {
	if len(s) > 1024 {
		s = s[:1024]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}
