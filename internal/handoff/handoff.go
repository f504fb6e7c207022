// Package handoff is what `jitssh ssh` hands the `jitssh proxy` that ssh
// starts as its ProxyCommand: one typed, versioned value in one
// environment variable (Var). ssh passes its environment on to the
// ProxyCommand, and to anything else it starts (a ProxyJump's proxy, a
// LocalCommand), so the proxy takes the value only when it is meant for
// it: this version, and the very login and host that `jitssh ssh` told ssh
// to connect to. Anything else is ignored whole, and the proxy behaves as
// under plain ssh. The value grants nothing: every call that gives access
// is authorized by AWS, and the host key is checked against its pin.
package handoff

import (
	"encoding/json"
	"strings"
	"time"
)

// Var is the environment variable that carries the hand-off.
const Var = "JITSSH_HANDOFF"

// Version is the hand-off's format; a value of another version is ignored.
const Version = 1

// MaxLen bounds an encoded hand-off; a longer value is ignored.
const MaxLen = 16 << 10

// Handoff is what `jitssh ssh` decided for its proxy.
type Handoff struct {
	// V is Version.
	V int `json:"v"`
	// User and Host are the login and host `jitssh ssh` gave ssh (the
	// proxy's %r and %h; the host is the instance id): the hand-off is
	// for the proxy of that connection only.
	User string `json:"user"`
	Host string `json:"host"`
	// Started is when `jitssh ssh` began, in Unix milliseconds: the
	// progress line's clock goes on from there.
	Started int64 `json:"started_ms,omitempty"`
	// Label is the target as the user typed it, for the progress line.
	Label string `json:"label,omitempty"`
	// Verbose is `jitssh ssh -v`.
	Verbose bool `json:"verbose,omitempty"`
	// Profile is `jitssh ssh --profile`: the proxy acts as the same
	// identity that chose the login.
	Profile string `json:"profile,omitempty"`
	// Instance is the instance `jitssh ssh` resolved (targets.Hint; its
	// own checks decide whether it is used), "" for an SSM managed one.
	Instance string `json:"instance,omitempty"`
	// PublicKeyFile is the public key to push instead of an ephemeral
	// key file (-i, or the key `jitssh ssh` put in the ssh-agent).
	PublicKeyFile string `json:"public_key_file,omitempty"`
	// Reason, Transport and Via are `jitssh ssh`'s --reason, --transport
	// and --via.
	Reason    string `json:"reason,omitempty"`
	Transport string `json:"transport,omitempty"`
	Via       string `json:"via,omitempty"`
	// ExplainHostKey asks the proxy to explain a host key other than the
	// pinned one (`jitssh ssh` turns ssh's KnownHostsCommand off).
	ExplainHostKey bool `json:"explain_host_key,omitempty"`
	// Report is the file (in a private directory `jitssh ssh` made) where
	// the proxy leaves its account of a connection that ended badly.
	Report string `json:"report,omitempty"`
}

// Encode returns h as the value of Var, with V set to Version.
func (h Handoff) Encode() string {
	h.V = Version
	b, _ := json.Marshal(h)
	return string(b)
}

// Decode returns the hand-off in s if and only if it is well formed (no
// unknown fields, nothing after it, at most MaxLen bytes, no control
// characters), of this Version, and for the connection of login user to
// host; else (Handoff{}, false).
func Decode(s, user, host string) (Handoff, bool) {
	if s == "" || len(s) > MaxLen || user == "" || host == "" {
		return Handoff{}, false
	}
	var h Handoff
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || dec.More() {
		return Handoff{}, false
	}
	if h.V != Version || h.User != user || h.Host != host {
		return Handoff{}, false
	}
	for _, f := range []string{h.Label, h.Profile, h.PublicKeyFile, h.Reason, h.Transport, h.Via, h.Report} {
		if strings.ContainsFunc(f, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return Handoff{}, false
		}
	}
	return h, true
}

// StartedAt is Started as a time, or the zero time if it is unset.
func (h Handoff) StartedAt() time.Time {
	if h.Started == 0 {
		return time.Time{}
	}
	return time.UnixMilli(h.Started)
}
