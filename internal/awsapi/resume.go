package awsapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/jitssh/jitssh/internal/awscreds"
)

// ErrSessionTimedOut is returned by ResumeSession when the service no longer
// offers the session (a null TokenValue).
var ErrSessionTimedOut = errors.New("the SSM session timed out and cannot be resumed")

// ResumeSession asks SSM for a new token (and possibly a new stream URL) to
// reconnect a session's data channel.
func (c *Client) ResumeSession(ctx context.Context, id string) (*Session, error) {
	// Mid-session: refreshed credentials that need an MFA code fail
	// rather than ask for it while ssh has the terminal.
	out, err := c.ssm().ResumeSession(awscreds.WithoutPrompt(ctx), &ssm.ResumeSessionInput{SessionId: aws.String(id)})
	if err != nil {
		return nil, explain("ssm:ResumeSession", err)
	}
	if aws.ToString(out.TokenValue) == "" {
		return nil, fmt.Errorf("resume session %s: %w", id, ErrSessionTimedOut)
	}
	return c.session(out.SessionId, out.StreamUrl, out.TokenValue)
}
