package awscreds

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// AssumeRoleError is AWS's refusal of an AssumeRole call made for a
// profile (a wrong or reused MFA code, a trust policy that does not
// allow the caller, a DurationSeconds beyond the role's maximum).
// Nothing was cached. It carries AWS's code and message rather than the
// SDK's error, so that no caller mistakes it for a refusal of the call
// the credentials were wanted for.
type AssumeRoleError struct {
	Profile, RoleARN, Serial string
	Code, Message            string
}

func (e *AssumeRoleError) Error() string {
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
	key := args.CacheKey()
	if a.Cache != nil {
		if e, _ := a.Cache.Load(key, args.RoleARN); e != nil {
			return e, nil
		}
		wait := a.LockWait
		if wait == 0 {
			wait = LockWait
		}
		unlock, err := a.Cache.lock(ctx, key, a.Profile, wait)
		if err != nil {
			return nil, err
		}
		defer unlock()
		if e, _ := a.Cache.Load(key, args.RoleARN); e != nil {
			return e, nil // another process prompted while this one waited
		}
	}
	var code string
	if args.SerialNumber != "" {
		if a.Prompter == nil {
			return nil, &NoTerminalError{Profile: a.Profile, Serial: args.SerialNumber}
		}
		c, err := a.Prompter.Code(a.Profile, args.SerialNumber)
		if err != nil {
			return nil, err
		}
		code = c
	}
	e, err := call(ctx, code)
	if err != nil {
		return nil, err
	}
	if a.Cache != nil {
		if err := a.Cache.Store(key, e); err != nil && a.Warn != nil {
			a.Warn(err.Error())
		}
	}
	return e, nil
}
