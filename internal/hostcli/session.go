package hostcli

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
)

func newSessionEventCmd(stderr io.Writer) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "session-event [--config PATH]",
		Short: "Record a login session's start or end (the PAM session hook)",
		Long: `session-event is run by pam_exec in sshd's PAM session stack when a
session opens and when it closes (install adds the line to /etc/pam.d/sshd):

  session optional pam_exec.so quiet /usr/bin/jitssh-host session-event

It records a session-opened or session-closed audit event (audit file,
syslog, and the CloudWatch Logs spool when [cloudwatch] is set) with the
user, the remote host, the TTY, sshd's process id and, when sshd exposes
it (SSH_AUTH_INFO_0), the fingerprint of the key the login used: the join
with the key-served event and its CloudTrail SendSSHPublicKey record.
It reads pam_exec's PAM_TYPE, PAM_USER, PAM_RHOST, PAM_TTY, PAM_SERVICE;
other PAM types are ignored. Its failure never affects the login
("optional").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSessionEvent(configPath, os.Getenv)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (default "+hostconfig.DefaultPath+", if it exists)")
	return cmd
}

// runSessionEvent records the event pam_exec's environment describes.
func runSessionEvent(configPath string, env func(string) string) error {
	e, ok := sessionEvent(env, os.Getppid())
	if !ok {
		return nil
	}
	hc, err := hostconfig.Load(configPath)
	if err != nil {
		return refused(err)
	}
	_, w, err := authkeys.Setup(hc)
	if w != nil {
		defer w.Close()
	}
	if err != nil {
		return refused(err)
	}
	if err := w.Record(e); err != nil {
		return refused(err)
	}
	return nil
}

// sessionEvent builds the audit event from pam_exec's variables; false
// for a PAM type other than open_session and close_session.
func sessionEvent(env func(string) string, sshdPID int) (audit.Event, bool) {
	e := audit.Event{Source: "pam", OSUser: audit.Sanitize(env("PAM_USER"), 64)}
	switch env("PAM_TYPE") {
	case "open_session":
		e.Event = audit.EventSessionOpened
	case "close_session":
		e.Event = audit.EventSessionClosed
	default:
		return e, false
	}
	e.Fingerprint = authInfoFingerprint(env("SSH_AUTH_INFO_0"))
	e.Detail = fmt.Sprintf("rhost=%s tty=%s service=%s sshd_pid=%d",
		audit.Sanitize(env("PAM_RHOST"), 64), audit.Sanitize(env("PAM_TTY"), 32), audit.Sanitize(env("PAM_SERVICE"), 32), sshdPID)
	return e, true
}

// authInfoFingerprint returns the SHA256 fingerprint of the first
// "publickey TYPE BASE64" line of sshd's SSH_AUTH_INFO_0, or "".
func authInfoFingerprint(info string) string {
	for _, line := range strings.Split(info, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "publickey" {
			continue
		}
		blob, err := base64.StdEncoding.DecodeString(f[2])
		if err != nil || len(blob) == 0 {
			continue
		}
		sum := sha256.Sum256(blob)
		return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
	}
	return ""
}
