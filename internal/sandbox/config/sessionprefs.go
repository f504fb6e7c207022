package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/kms"
)

// SessionPrefsSpec is the account's Session Manager preferences, the
// inputs of its SSM-SessionManagerRunShell document that the sandbox's
// agent enforces:
//
//	[session_preferences]
//	idle_session_timeout = "20"   # minutes, 1-60; default 20
//	max_session_duration = "120"  # minutes, 1-1440; "" (default): none
//	kms_key_id = "alias/ssm-sessions"  # a [[kms_keys]] key: shell sessions are KMS-encrypted
//	run_as_enabled = true         # shells run as the caller's SSMSessionRunAs tag, else:
//	run_as_default_user = "ec2-user"
//	shell_profile = "cd ~; export PS1='$ '"  # run by the shell before the user's input (Linux)
//
// kms_key_id is a key id, key ARN, alias or alias ARN of a declared key.
// With Run As off, AWS runs shells as ssm-user; the sandbox runs them as
// its own user then (see docs/sandbox.md for what it can do as root).
//
// As in AWS a value is a whole number of minutes. The sandbox also takes
// a Go duration ("3s", "1m30s") up to the same maxima, so that tests need
// not wait minutes; AWS accepts no such value.
type SessionPrefsSpec struct {
	IdleSessionTimeout string `toml:"idle_session_timeout"`
	MaxSessionDuration string `toml:"max_session_duration"`
	KMSKeyID           string `toml:"kms_key_id"`
	RunAsEnabled       bool   `toml:"run_as_enabled"`
	RunAsDefaultUser   string `toml:"run_as_default_user"`
	ShellProfile       string `toml:"shell_profile"`
}

// RunAs is the Run As preference: when Enabled, shells run as the
// caller's SSMSessionRunAs principal tag, else as DefaultUser.
type RunAs struct {
	Enabled     bool
	DefaultUser string
}

// runAsUserPattern is a Linux user name, as Session Manager accepts it.
var runAsUserPattern = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)

// maxShellProfile is the length AWS allows a shell profile.
const maxShellProfile = 4096

// Limits and default of the preferences, in minutes, as AWS has them.
const (
	DefaultIdleSessionTimeout = 20
	MaxIdleSessionTimeout     = 60
	MaxMaxSessionDuration     = 1440
)

// ParseSessionMinutes parses a preference value: "" is zero (not set),
// else whole minutes from 1 to maxMinutes, or a positive Go duration no
// longer than that.
func ParseSessionMinutes(v string, maxMinutes int) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	limit := time.Duration(maxMinutes) * time.Minute
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > maxMinutes {
			return 0, fmt.Errorf("%d minutes is out of range 1-%d", n, maxMinutes)
		}
		return time.Duration(n) * time.Minute, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is neither whole minutes nor a duration such as \"30s\"", v)
	}
	if d <= 0 || d > limit {
		return 0, fmt.Errorf("%v is out of range (more than 0, at most %d minutes)", d, maxMinutes)
	}
	return d, nil
}

// sessionPrefs returns the idle timeout (DefaultIdleSessionTimeout when
// unset) and the maximum duration (0: none).
func (s SessionPrefsSpec) sessionPrefs() (idle, maxDur time.Duration, err error) {
	idle, err = ParseSessionMinutes(s.IdleSessionTimeout, MaxIdleSessionTimeout)
	if err != nil {
		return 0, 0, fmt.Errorf("session_preferences.idle_session_timeout: %w", err)
	}
	if idle == 0 {
		idle = DefaultIdleSessionTimeout * time.Minute
	}
	maxDur, err = ParseSessionMinutes(s.MaxSessionDuration, MaxMaxSessionDuration)
	if err != nil {
		return 0, 0, fmt.Errorf("session_preferences.max_session_duration: %w", err)
	}
	return idle, maxDur, nil
}

// checkSessionPrefs validates the Session Manager preferences.
func (f *File) checkSessionPrefs() error {
	p := f.SessionPreferences
	if _, _, err := p.sessionPrefs(); err != nil {
		return err
	}
	if p.KMSKeyID != "" {
		keys, err := f.kmsKeys()
		if err != nil {
			return err
		}
		svc, err := kms.New(f.Region, f.Account, keys)
		if err != nil {
			return err
		}
		if _, err := svc.Resolve(p.KMSKeyID); err != nil {
			return fmt.Errorf("session_preferences.kms_key_id: %w; declare the key under [[kms_keys]]", err)
		}
	}
	if p.RunAsDefaultUser != "" && !runAsUserPattern.MatchString(p.RunAsDefaultUser) {
		return fmt.Errorf("session_preferences.run_as_default_user: %q is not a Linux user name", p.RunAsDefaultUser)
	}
	if p.RunAsEnabled && p.RunAsDefaultUser == "" {
		return fmt.Errorf("session_preferences.run_as_default_user: required when run_as_enabled is true (AWS needs it for callers without an SSMSessionRunAs tag)")
	}
	if len(p.ShellProfile) > maxShellProfile {
		return fmt.Errorf("session_preferences.shell_profile: %d bytes, at most %d", len(p.ShellProfile), maxShellProfile)
	}
	return nil
}

// resolveSessionPrefs sets the account's Session Manager preferences.
func (f *File) resolveSessionPrefs(a *Account) {
	p := f.SessionPreferences
	a.IdleSessionTimeout, a.MaxSessionDuration, _ = p.sessionPrefs() // checked by check
	a.SessionKMSKey = p.KMSKeyID
	a.RunAs = RunAs{Enabled: p.RunAsEnabled, DefaultUser: p.RunAsDefaultUser}
	a.ShellProfile = p.ShellProfile
}
