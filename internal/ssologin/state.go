package ssologin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"

	"github.com/jitssh/jitssh/internal/pyjson"
)

// Status is what the token cache says about a session, for `doctor`.
type Status struct {
	Path string
	// Token is the cached token; nil when there is none (Err says why
	// when the file exists but cannot be used).
	Token *Token
	Err   error
}

// Status reads the cached token without changing anything.
func (c *Client) Status() Status {
	st := Status{Path: c.Cache.TokenPath(c.Session)}
	t, err := c.Cache.LoadToken(c.Session)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			st.Err = err
		}
		return st
	}
	st.Token = t
	return st
}

// RefreshMargin is how long before its expiry a token is refreshed: the
// connection set-up it is needed for takes seconds, and the SDK's own
// provider refreshes only once it has expired.
const RefreshMargin = 2 * time.Minute

// Ensure returns a usable token for the session: the cached one while
// it is valid for RefreshMargin, else one refreshed with the refresh
// token (the cache is rewritten); a session with no token, or one that
// cannot be refreshed, is a *LoginRequiredError. The legacy form is not
// refreshed (neither the AWS CLI nor the SDK does).
func (c *Client) Ensure(ctx context.Context) (*Token, error) {
	t, refresh, err := c.check()
	if !refresh {
		return t, err
	}
	// Refresh under the sign-in lock: the refresh token may be good for
	// one use only, and several proxies (scp -r, multiplexing) find the
	// token expired at once; those that waited find it refreshed.
	unlock, err := c.Cache.Lock(c.Session)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if t, refresh, err = c.check(); !refresh {
		return t, err
	}
	return c.refresh(ctx, t)
}

// check reads the cached token: usable as it is (refresh false, no
// error), to be refreshed (refresh true), or a *LoginRequiredError.
func (c *Client) check() (t *Token, refresh bool, err error) {
	s := c.Session
	t, err = c.Cache.LoadToken(s)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, &LoginRequiredError{Session: s, Reason: "not signed in (no cached token)"}
	case err != nil:
		return nil, false, &LoginRequiredError{Session: s, Reason: "the cached token cannot be read", Err: err}
	case t.Valid(c.now(), RefreshMargin):
		return t, false, nil
	case s.Legacy() || !t.Refreshable(c.now()):
		if t.Valid(c.now(), 0) {
			return t, false, nil // still usable a little while; nothing better to do
		}
		return nil, false, &LoginRequiredError{Session: s, Reason: expiredReason(t.ExpiresAt) + " and cannot be refreshed"}
	}
	return t, true, nil
}

// refresh uses the refresh_token grant and rewrites the cache.
func (c *Client) refresh(ctx context.Context, t *Token) (*Token, error) {
	out, err := c.createToken(ctx, &ssooidc.CreateTokenInput{
		GrantType: aws.String("refresh_token"), ClientId: aws.String(t.ClientID), ClientSecret: aws.String(t.ClientSecret),
		RefreshToken: aws.String(t.RefreshToken),
	})
	if err != nil {
		if refusedCodes[apiCode(err)] {
			return nil, &LoginRequiredError{Session: c.Session, Reason: expiredReason(t.ExpiresAt) + " and the refresh was refused", Err: err}
		}
		return nil, fmt.Errorf("refresh the token of %s: %w", c.Session, err)
	}
	nt, err := c.token(out, &Registration{ClientID: t.ClientID, ClientSecret: t.ClientSecret, ExpiresAt: t.RegistrationExpiresAt})
	if err != nil {
		return nil, fmt.Errorf("refresh the token of %s: %w", c.Session, err)
	}
	if nt.RefreshToken == "" {
		nt.RefreshToken = t.RefreshToken
	}
	if err := c.Cache.SaveToken(c.Session, nt); err != nil {
		return nil, fmt.Errorf("write the refreshed SSO token: %w", err)
	}
	return nt, nil
}

// LogoutResult says what Logout did.
type LogoutResult struct {
	// SignedOut: the portal accepted the Logout call.
	SignedOut bool
	// Removed are the cache files deleted.
	Removed []string
	// PortalErr is the portal's refusal, if any (the local files are
	// removed anyway).
	PortalErr error
}

// Logout signs the session out of the portal (when a token is cached
// and not expired), then deletes the session's token cache file and the
// AWS CLI's cached role credentials of the profile
// (~/.aws/cli/cache/<key>.json with "ProviderType": "sso").
func (c *Client) Logout(ctx context.Context) (LogoutResult, error) {
	var res LogoutResult
	s := c.Session
	if t, err := c.Cache.LoadToken(s); err == nil && t.Valid(c.now(), 0) && c.Portal != nil {
		cctx, cancel := c.call(ctx)
		_, err := c.Portal.Logout(cctx, &sso.LogoutInput{AccessToken: aws.String(t.AccessToken)})
		cancel()
		if err != nil && apiCode(err) != "UnauthorizedException" {
			res.PortalErr = err
		} else {
			res.SignedOut = err == nil
		}
	}
	if ok, err := c.Cache.RemoveToken(s); err != nil {
		return res, fmt.Errorf("remove the SSO token cache: %w", err)
	} else if ok {
		res.Removed = append(res.Removed, c.Cache.TokenPath(s))
	}
	if p := c.roleCachePath(); p != "" {
		if err := os.Remove(p); err == nil {
			res.Removed = append(res.Removed, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("remove cached role credentials: %w", err)
		}
	}
	return res, nil
}

// roleCachePath is the AWS CLI's cache file of the profile's SSO role
// credentials: ~/.aws/cli/cache/<sha1>.json, the SHA-1 of Python's
// json.dumps({"accountId", "roleName", "sessionName" or "startUrl"},
// sort_keys=True, separators=(",", ":")) (botocore's
// SSOCredentialFetcher._create_cache_key); "" for a profile with no role.
func (c *Client) roleCachePath() string {
	s := c.Session
	if s.AccountID == "" || s.RoleName == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(c.Cache.Dir))), ".aws", "cli", "cache", RoleCacheKey(s)+".json")
}

// RoleCacheKey is the AWS CLI's cache key of s's role credentials.
func RoleCacheKey(s *Session) string {
	key := `{"accountId":` + pyjson.String(s.AccountID) + `,"roleName":` + pyjson.String(s.RoleName)
	if s.Name != "" {
		key += `,"sessionName":` + pyjson.String(s.Name) + "}"
	} else {
		key += `,"startUrl":` + pyjson.String(s.StartURL) + "}"
	}
	return sha1Hex(key)
}
