package datachannel

import "strings"

// The Output texts of the service's channel_closed message when Session
// Manager itself ends a session under the account's Session Manager
// preferences (the SSM-SessionManagerRunShell document's
// idleSessionTimeout and maxSessionDuration). The service writes them:
// neither AWS's agent (aws/amazon-ssm-agent) nor its plugin
// (aws/session-manager-plugin) contains either text, and the plugin
// prints channel_closed's Output as it comes ("SessionId: <id> :
// <text>"). IdleTimeoutOutput is AWS's text as users' transcripts of the
// plugin show it. For the maximum duration no AWS text is published
// anywhere we could find (AWS's documentation names the setting, not the
// message): MaxDurationOutput is the sandbox's wording, and Termination
// recognises any Output that speaks of a duration.
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
	case strings.Contains(out, "inactivity"):
		return EndIdleTimeout
	case strings.Contains(out, "duration"):
		return EndMaxDuration
	}
	return ""
}
