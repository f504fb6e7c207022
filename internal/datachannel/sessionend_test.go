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
	} {
		if got := c.cc.Termination(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.cc, got, c.want)
		}
	}
}
