// Package hostcli is the jitssh-host command tree, the instance side of
// jitssh: `authorized-keys` (sshd's AuthorizedKeysCommand, over
// internal/host/authkeys), `userdb` (the just-in-time user service) and
// `users` (list, remove, kill, block, unblock, blocked), both over
// internal/host/service, and `install`, `uninstall`, `user-data`
// (over internal/host/install).
// This package only maps results to stdout, stderr and the exit status.
//
// Under sshd, stdout is authorized_keys content: it receives accepted key
// lines and nothing else, written once at the end, and nothing at all on
// failure.
package hostcli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/buildinfo"
	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/blocklist"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/keyproto"
)

// Exit statuses.
const (
	// ExitOK: keys were printed, or no key is published for the user (or
	// for the offered key), which is not an error: sshd then goes on to
	// other key sources without logging a failure.
	ExitOK = 0
	// ExitRefused: something failed or every published key was refused;
	// nothing was printed.
	ExitRefused = 1
	// ExitUsage: bad arguments or flags.
	ExitUsage = 2
)

// exitError carries a run failure's status; any other error from cobra is a
// usage error.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Main runs jitssh-host with args (without the program name) and returns
// its exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "jitssh-host: %s\n", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "jitssh-host: %s\n", oneLine(err.Error()))
	return ExitUsage
}

// NewRootCmd returns the jitssh-host command tree writing to stdout and
// stderr.
func NewRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "jitssh-host",
		Short:         "The instance side of jitssh: sshd's AuthorizedKeysCommand and just-in-time users",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Version(),
	}
	root.SetVersionTemplate(buildinfo.Text("jitssh-host"))
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newAuthorizedKeysCmd(stdout), newUserdbCmd(stderr), newUsersCmd(stdout),
		newInstallCmd(stdout, stderr), newUninstallCmd(stdout), newUserDataCmd(stdout), newSessionEventCmd(stderr))
	return root
}

func newAuthorizedKeysCmd(stdout io.Writer) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "authorized-keys [--config PATH] [--] USER [FINGERPRINT]",
		Short: "Print the EC2 Instance Connect keys sshd may accept for USER",
		Long: `authorized-keys is sshd's AuthorizedKeysCommand. It reads USER's keys from
the instance metadata service (IMDSv2, managed-ssh-keys/active-keys/USER/),
checks the signer certificate (its name, its chain to the trusted roots and
its OCSP status) and, for each key, its signature, its instance id and its
expiry, and prints the keys that pass, one per line. With FINGERPRINT
(sshd's %f) only the key with that fingerprint is considered.

Every key served and every refusal is recorded as a JSON line in the audit
file and, if enabled, to syslog (authpriv), with the IAM caller and request
id that pushed the key.

Configuration comes from ` + hostconfig.DefaultPath + ` (or --config), because sshd
starts the command with an empty environment; without that file the
defaults apply (IMDS at http://169.254.169.254, system roots, audit file
` + hostconfig.DefaultAuditFile + `, syslog on, 3s timeout).

Exit status: 0 when keys were printed or none is published for USER (or for
FINGERPRINT); 1 when anything failed or every key was refused, with nothing
printed and the reason on stderr; 2 for bad arguments.

sshd_config (the "--" keeps a user name from being read as a flag; the
command user must be able to append to the audit file):

  AuthorizedKeysCommand /usr/local/bin/jitssh-host authorized-keys -- %u %f
  AuthorizedKeysCommandUser jitssh

jitssh-host install configures jitssh-authkeys instead, which asks the
userdb service (cheaper per login) and runs this command when no service
answers. When keys_socket names a userdb service that answers, this command
asks it too (the same verification, and the keys served count for a
just-in-time user's groups), and verifies by itself only when none answers.`,
		Example: `  jitssh-host authorized-keys alice
  jitssh-host authorized-keys --config /etc/jitssh/host.toml -- alice SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			user, fp := args[0], ""
			if len(args) == 2 {
				fp = args[1]
			}
			return authorizedKeys(cmd.Context(), stdout, configPath, user, fp)
		},
	}
	cmd.Flags().SortFlags = false
	// Flags only before USER: what follows is sshd's data.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (default "+hostconfig.DefaultPath+", if it exists)")
	return cmd
}

func authorizedKeys(ctx context.Context, stdout io.Writer, configPath, user, fp string) error {
	hc, err := hostconfig.Load(configPath)
	if err != nil {
		// Run records the refusal, then returns the same error.
		_, err := authkeys.Run(ctx, configPath, user, fp)
		return keysRefused(err, hc, user)
	}
	// The userdb service first, when one answers on keys_socket: it
	// verifies the same way and notes the keys it serves, which is what a
	// just-in-time user's supplementary groups are bound to.
	if hc.KeysSocket != "" {
		text, err := keyproto.Ask(hc.KeysSocket, user, fp, hc.Timeout+time.Second)
		switch {
		case err == nil:
			if text == "" {
				return &exitError{code: ExitOK, msg: noKeyMessage(user, fp)}
			}
			if !strings.HasSuffix(text, "\n") {
				text += "\n"
			}
			if _, err := io.WriteString(stdout, text); err != nil {
				return &exitError{code: ExitRefused, msg: "write keys: " + oneLine(err.Error())}
			}
			return nil
		case !errors.Is(err, keyproto.ErrUnavailable):
			return keysRefused(err, hc, user)
		}
		// No service: verify here.
	}
	keys, err := authkeys.RunConfig(ctx, hc, user, fp)
	if err != nil {
		return keysRefused(err, hc, user)
	}
	if len(keys) == 0 {
		return &exitError{code: ExitOK, msg: noKeyMessage(user, fp)}
	}
	var out bytes.Buffer
	for _, k := range keys {
		out.WriteString(k.KeyLine)
		out.WriteByte('\n')
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return &exitError{code: ExitRefused, msg: "write keys: " + oneLine(err.Error())}
	}
	return nil
}

// keysRefused is a refusal of authorized-keys: the error on one line,
// and for a blocked user (refused here or by the userdb service, which
// answers with the error's text) the command that unblocks it.
func keysRefused(err error, hc hostconfig.Config, user string) error {
	msg := err.Error()
	var be *authkeys.BlockedError
	if errors.As(err, &be) {
		msg += unblockAdvice(be.User)
	} else if blocked, berr := blocklist.Blocked(hc.BlockFile, user); berr == nil && blocked && errors.As(err, new(*keyproto.RefusedError)) {
		msg += unblockAdvice(user)
	}
	return &exitError{code: ExitRefused, msg: oneLine(msg)}
}

func unblockAdvice(user string) string {
	return " (jitssh-host users unblock " + user + ")"
}

func noKeyMessage(user, fp string) string {
	msg := "no EC2 Instance Connect key is published for " + audit.Sanitize(user, 64)
	if fp != "" {
		msg += " with fingerprint " + audit.Sanitize(fp, 80)
	}
	return msg
}

// oneLine makes a message safe and short for a single stderr line.
func oneLine(s string) string {
	return audit.Sanitize(strings.TrimSpace(s), 1024)
}
