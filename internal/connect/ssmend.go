package connect

import (
	"time"

	"github.com/jitssh/jitssh/internal/datachannel"
)

// SSMEnd is Session Manager ending an SSM session itself under the
// account's Session Manager preferences (its channel_closed message
// said so): the idle timeout or the maximum session duration.
type SSMEnd struct {
	Reason datachannel.EndReason `json:"reason"`
	// Idle is how long no data went either way before the end (about
	// the idle timeout, for EndIdleTimeout).
	Idle time.Duration `json:"idle"`
	// After is how long the session had lasted (about the maximum
	// duration, for EndMaxDuration).
	After time.Duration `json:"after"`
}

// ssmSession is what an SSM connection tells of its data channel.
type ssmSession interface {
	ChannelClosed() *datachannel.ChannelClosed
	LastStreamData() time.Time
}

// ssmEnd returns how Session Manager ended conn's session, if it did
// under its preferences; nil otherwise (another transport, or another
// end).
func ssmEnd(conn any, r *streamReport) *SSMEnd {
	s, ok := conn.(ssmSession)
	if !ok {
		return nil
	}
	why := s.ChannelClosed().Termination()
	if why == "" {
		return nil
	}
	end := r.end
	if end.IsZero() {
		end = time.Now()
	}
	return &SSMEnd{Reason: why, Idle: end.Sub(s.LastStreamData()).Round(time.Second), After: end.Sub(r.start).Round(time.Second)}
}
