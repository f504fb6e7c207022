package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SessionPrefsSpec is the account's Session Manager preferences, the
// inputs of its SSM-SessionManagerRunShell document that the sandbox's
// agent enforces:
//
//	[session_preferences]
//	idle_session_timeout = "20"   # minutes, 1-60; default 20
//	max_session_duration = "120"  # minutes, 1-1440; "" (default): none
//
// As in AWS a value is a whole number of minutes. The sandbox also takes
// a Go duration ("3s", "1m30s") up to the same maxima, so that tests need
// not wait minutes; AWS accepts no such value.
type SessionPrefsSpec struct {
	IdleSessionTimeout string `toml:"idle_session_timeout"`
	MaxSessionDuration string `toml:"max_session_duration"`
}

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
	_, _, err := f.SessionPreferences.sessionPrefs()
	return err
}

// resolveSessionPrefs sets the account's Session Manager preferences.
func (f *File) resolveSessionPrefs(a *Account) {
	a.IdleSessionTimeout, a.MaxSessionDuration, _ = f.SessionPreferences.sessionPrefs() // checked by check
}
