package datachannel

import "strings"

// The Output texts of the service's channel_closed message when Session
// Manager itself ends a session under the account's Session Manager
// preferences (the SSM-SessionManagerRunShell document's
// idleSessionTimeout and maxSessionDuration). IdleTimeoutOutput is the
// text AWS sends (AWS's plugin prints it as "SessionId: <id> : <text>");
// MaxDurationOutput is the sandbox's wording for the maximum duration,
// recognised by its "maximum session duration".
const (
	IdleTimeoutOutput = "Your session timed out due to inactivity and has been terminated."
	MaxDurationOutput = "Your session has been terminated because it reached the maximum session duration."
)

// EndReason is why Session Manager ended a session, as its channel_closed
// message tells.
type EndReason string

// The reasons Termination recognises; "" is none of them.
const (
	EndIdleTimeout EndReason = "idle_timeout"
	EndMaxDuration EndReason = "max_duration"
)

// Termination classifies the channel_closed Output: EndIdleTimeout,
// EndMaxDuration or "" (another end, or no message).
func (cc *ChannelClosed) Termination() EndReason {
	if cc == nil {
		return ""
	}
	out := strings.ToLower(cc.Output)
	switch {
	case strings.Contains(out, "timed out due to inactivity"):
		return EndIdleTimeout
	case strings.Contains(out, "maximum session duration"):
		return EndMaxDuration
	}
	return ""
}
