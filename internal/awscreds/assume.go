package awscreds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AssumeRoleError is AWS's refusal of an AssumeRole (or GetSessionToken) call made for a
// profile (a wrong or reused MFA code, a trust policy that does not
// allow the caller, a DurationSeconds beyond the role's maximum).
// Nothing was cached. It carries AWS's code and message rather than the
// SDK's error, so that no caller mistakes it for a refusal of the call
// the credentials were wanted for.
type AssumeRoleError struct {
	Profile, RoleARN, Serial string // RoleARN "": GetSessionToken
	Code, Message            string
}

func (e *AssumeRoleError) Error() string {
	if e.RoleARN == "" {
		return fmt.Sprintf("profile %q: sts:GetSessionToken failed: %s: %s", e.Profile, e.Code, e.Message)
	}
	return fmt.Sprintf("profile %q: sts:AssumeRole of %s failed: %s: %s", e.Profile, e.RoleARN, e.Code, e.Message)
}

// MFARejected reports whether AWS refused the MFA code itself.
func (e *AssumeRoleError) MFARejected() bool {
	return e.Serial != "" && e.Code == "AccessDenied" && strings.Contains(strings.ToLower(e.Message), "multifactorauthentication")
}

// Assumer makes AssumeRole calls for one profile through the cache: at
// most one process prompts and calls AWS for an entry while others wait
// for its lock, then read what it wrote.
type Assumer struct {
	Profile  string // the profile named on the command line or in AWS_PROFILE
	Cache    *Cache // nil: no disk cache
	Prompter Prompter
	LockWait time.Duration // LockWait if 0
	// Warn reports a cache entry that could not be written (the
	// credentials are used all the same).
	Warn func(msg string)
}

// Call is one AssumeRole call with the MFA code ("" without
// SerialNumber), returning the credentials or an *AssumeRoleError.
type Call func(ctx context.Context, code string) (*Entry, error)

// Assume returns the role's credentials from the cache when a fresh
// entry is there, else (under the entry's lock: check again, prompt for
// the code when the role needs one, call) from call, stored for the
// next process. A refused call stores nothing.
func (a *Assumer) Assume(ctx context.Context, args RoleArgs, call Call) (*Entry, error) {
	return a.obtain(ctx, args.CacheKey(), args.RoleARN, args.SerialNumber, call)
}

// SessionToken is Assume for GetSessionToken with an MFA code: the
// session credentials of the IAM user whose access key is accessKeyID,
// cached under SessionTokenKey (the AWS CLI has no such cache).
func (a *Assumer) SessionToken(ctx context.Context, accessKeyID, serial string, call Call) (*Entry, error) {
	return a.obtain(ctx, SessionTokenKey(accessKeyID, serial), "", serial, call)
}

// obtain is Assume and SessionToken: cache, lock, cache again, prompt,
// call, store.
func (a *Assumer) obtain(ctx context.Context, key, roleARN, serial string, call Call) (*Entry, error) {
	if a.Cache != nil {
		if e, _ := a.Cache.Load(key, roleARN); e != nil {
			return e, nil
		}
		wait := a.LockWait
		if wait == 0 {
			wait = LockWait
		}
		unlock, err := a.Cache.lock(ctx, key, a.Profile, wait)
		var timeout *LockTimeoutError
		switch {
		case err == nil:
		case errors.As(err, &timeout) || ctx.Err() != nil:
			return nil, err
		default:
			// an unwritable cache directory: go on without the cache
			a.warn(err.Error() + ": the credentials are not cached")
			return a.call(ctx, serial, call)
		}
		defer unlock()
		if e, _ := a.Cache.Load(key, roleARN); e != nil {
			return e, nil // another process prompted while this one waited
		}
	}
	e, err := a.call(ctx, serial, call)
	if err != nil {
		return nil, err
	}
	if a.Cache != nil {
		if err := a.Cache.Store(key, e); err != nil {
			a.warn(err.Error())
		}
	}
	return e, nil
}

func (a *Assumer) warn(msg string) {
	if a.Warn != nil {
		a.Warn(msg)
	}
}

// call asks for the code (when serial names a device) and makes the call.
func (a *Assumer) call(ctx context.Context, serial string, call Call) (*Entry, error) {
	var code string
	if serial != "" {
		if promptOff(ctx) {
			return nil, &NoTerminalError{Profile: a.Profile, Serial: serial, MidSession: true}
		}
		if a.Prompter == nil {
			return nil, &NoTerminalError{Profile: a.Profile, Serial: serial}
		}
		c, err := a.Prompter.Code(a.Profile, serial)
		if err != nil {
			return nil, err
		}
		code = c
	}
	return call(ctx, code)
}
