package awsapi

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// CredentialsInfo is what a credential retrieval says, without the
// secrets.
type CredentialsInfo struct {
	// Source is the SDK's name of the provider (e.g. SSOProvider,
	// AssumeRoleProvider, SharedConfigCredentials, EnvConfigCredentials).
	Source    string
	CanExpire bool
	Expires   time.Time
}

// RetrieveCredentials retrieves the client's credentials now, once: the
// SDK caches them for the client's later calls, so this costs no extra
// call. Errors are the SDK's (an SSO token to renew, an MFA code refused,
// …), wrapped.
func (c *Client) RetrieveCredentials(ctx context.Context) (CredentialsInfo, error) {
	if c.creds == nil {
		return CredentialsInfo{}, errors.New("no AWS credentials configured")
	}
	cr, err := c.creds.Retrieve(ctx)
	if err != nil {
		return CredentialsInfo{}, fmt.Errorf("retrieve AWS credentials: %w", err)
	}
	return CredentialsInfo{Source: cr.Source, CanExpire: cr.CanExpire, Expires: cr.Expires}, nil
}
