package agent

import (
	"fmt"

	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// runAsUser returns the user a shell session runs as under the Run As
// preference ("" when it is off: the sandbox's own user, where AWS's
// agent uses ssm-user): the caller's SSMSessionRunAs tag, else the
// default user.
func (p Preferences) runAsUser(sess *world.Session) string {
	if !p.RunAsEnabled {
		return ""
	}
	if sess.RunAsTag != "" {
		return sess.RunAsTag
	}
	return p.RunAsDefaultUser
}

// withoutEnv returns env without the named variables.
func withoutEnv(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if len(kv) > len(n) && kv[:len(n)+1] == n+"=" {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// agentError is an error in the words of AWS's agent, which the client
// sees as the session's channel_closed output.
type agentError struct{ msg string }

func (e *agentError) Error() string { return e.msg }

// agentErrorf formats an agentError; %w keeps the cause for errors.Is.
func agentErrorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &agentError{msg: err.Error()}
}
