package datachannel

import "testing"

func TestChannelClosedTermination(t *testing.T) {
	for _, c := range []struct {
		cc   *ChannelClosed
		want EndReason
	}{
		{nil, ""},
		{&ChannelClosed{}, ""},
		{&ChannelClosed{Output: "Exiting session"}, ""},
		{&ChannelClosed{Output: IdleTimeoutOutput}, EndIdleTimeout},
		{&ChannelClosed{Output: MaxDurationOutput}, EndMaxDuration},
		// AWS's wording for the maximum duration is not published:
		// other phrasings of it are recognised too.
		{&ChannelClosed{Output: "Session terminated: max session duration reached."}, EndMaxDuration},
		{&ChannelClosed{Output: "Your session has exceeded the maximum duration and has been terminated."}, EndMaxDuration},
		{&ChannelClosed{Output: "Session terminated due to inactivity."}, EndIdleTimeout},
		{&ChannelClosed{Output: "Session terminated by operator."}, ""},
	} {
		if got := c.cc.Termination(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.cc, got, c.want)
		}
	}
}
