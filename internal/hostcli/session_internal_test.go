package hostcli

import (
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
	"golang.org/x/crypto/ssh"
)

func TestSessionEvent(t *testing.T) {
	key := testkeys.New(t)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key.Public)))
	env := map[string]string{"PAM_TYPE": "open_session", "PAM_USER": "alice", "PAM_RHOST": "10.0.0.5", "PAM_TTY": "ssh",
		"PAM_SERVICE": "sshd", "SSH_AUTH_INFO_0": "publickey " + line + "\n"}
	e, ok := sessionEvent(func(k string) string { return env[k] }, 4242)
	if !ok || e.Event != audit.EventSessionOpened || e.OSUser != "alice" || e.Source != "pam" {
		t.Fatalf("event = %+v, %v", e, ok)
	}
	if want := ssh.FingerprintSHA256(key.Public); e.Fingerprint != want {
		t.Errorf("fingerprint %q, want %q (sshd's own, as in key-served)", e.Fingerprint, want)
	}
	if e.Detail != "rhost=10.0.0.5 tty=ssh service=sshd sshd_pid=4242" {
		t.Errorf("detail %q", e.Detail)
	}
	env["PAM_TYPE"] = "close_session"
	if e, _ := sessionEvent(func(k string) string { return env[k] }, 1); e.Event != audit.EventSessionClosed {
		t.Errorf("close: %+v", e)
	}
	env["PAM_TYPE"] = "account"
	if _, ok := sessionEvent(func(k string) string { return env[k] }, 1); ok {
		t.Error("an account-stack call made an event")
	}
}

func FuzzAuthInfoFingerprint(f *testing.F) {
	f.Add("publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7\n")
	f.Add("password\npublickey x y z")
	f.Fuzz(func(t *testing.T, info string) {
		fp := authInfoFingerprint(info)
		if fp != "" && (!strings.HasPrefix(fp, "SHA256:") || len(fp) != 50) {
			t.Fatalf("fingerprint %q", fp)
		}
	})
}
