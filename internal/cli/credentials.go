package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/awscreds"
)

// adviseCredentials words awscreds' typed errors (an MFA code needed
// where there is no terminal, a prompt without an answer, a lock held by
// another jitssh, AssumeRole refused) with the command that fixes them.
// The error printed is awscreds' own, without the SDK's wrapping of the
// call that wanted the credentials.
func adviseCredentials(err error) (error, bool) {
	var (
		noTTY  *awscreds.NoTerminalError
		prompt *awscreds.PromptError
		lock   *awscreds.LockTimeoutError
		assume *awscreds.AssumeRoleError
	)
	switch {
	case errors.As(err, &noTTY) && noTTY.MidSession:
		return &advised{err, fmt.Sprintf("\n  run \"jitssh login --profile %s\" and connect again; a duration_seconds in the profile up to the role's maximum session duration asks less often", noTTY.Profile)}, true
	case errors.As(err, &noTTY) && noTTY.Background:
		return &advised{noTTY, fmt.Sprintf(": run it in the foreground, or \"jitssh login --profile %s\" first", noTTY.Profile)}, true
	case errors.As(err, &noTTY):
		return &advised{noTTY, fmt.Sprintf(": run \"jitssh login --profile %s\" on a terminal first", noTTY.Profile)}, true
	case errors.As(err, &prompt):
		return &advised{prompt, fmt.Sprintf("; retry, or run \"jitssh login --profile %s\"", prompt.Profile)}, true
	case errors.As(err, &lock):
		return &advised{lock, "; answer the prompt there, or end that jitssh (its lock goes with it), then retry"}, true
	case errors.As(err, &assume) && assume.MFARejected():
		return &advised{assume, "\n  AWS refused the MFA code, and nothing was cached: retry with the code your device shows now (each code works once)"}, true
	case errors.As(err, &assume) && strings.Contains(assume.Message, "DurationSeconds"):
		return &advised{assume, "\n  the profile's duration_seconds exceeds what the role allows (its maximum session duration; 1 hour for a role assumed by a role): lower it"}, true
	case errors.As(err, &assume) && assume.Code == "AccessDenied":
		return &advised{assume, "\n  the role's trust policy does not let the profile's source identity assume it (check role_arn, source_profile, external_id), or that identity lacks sts:AssumeRole"}, true
	case errors.As(err, &assume):
		return &advised{assume, "\n  check the profile's role settings (`jitssh doctor` shows the chain)"}, true
	}
	return nil, false
}

// credentialSourceChecks are doctor's findings on where credentials
// come from: the profile chain, and the cached session of each role
// that asks for an MFA code (what the next connection will prompt for).
func credentialSourceChecks(ctx context.Context, g *globals) []check {
	profile, err := g.profileName()
	if err != nil {
		return []check{{Name: "AWS profile", Status: "fail", Detail: err.Error(), Fix: "see `jitssh --help` for --profile"}}
	}
	profile = firstOf(g.locatedProfile, profile)
	if c, ok := ssoLabelCheck(profile); ok {
		return []check{c}
	}
	src, err := awsapi.DescribeCredentials(ctx, awsapi.Options{Profile: profile})
	if err != nil {
		return []check{{Name: "AWS profile", Status: "fail", Detail: err.Error(), Fix: "correct the profile in your AWS config file (~/.aws/config, AWS_CONFIG_FILE)"}}
	}
	out := []check{{Name: "AWS profile", Status: "ok", Detail: src.String()}}
	for _, l := range src.Chain {
		if l.Role == nil || l.Role.Args.SerialNumber == "" {
			continue
		}
		out = append(out, mfaSessionCheck(src.Profile, l.Role, time.Now()))
	}
	return out
}

// mfaSessionCheck is one MFA role's cached session.
func mfaSessionCheck(profile string, r *awsapi.RoleSession, now time.Time) check {
	login := fmt.Sprintf("`jitssh login --profile %s` (or any command on a terminal) asks for the code", profile)
	switch {
	case r.CacheFile == "":
		return check{Name: "MFA session", Status: "warn", Detail: "no cache directory (no home directory): every command asks for the code"}
	case r.Cached == nil:
		return check{Name: "MFA session", Status: "ok", Detail: fmt.Sprintf("none cached (%s): the next command asks for the code of %s", r.Why, r.Args.SerialNumber), Fix: login}
	case !r.Cached.Fresh(now):
		return check{Name: "MFA session", Status: "ok", Detail: fmt.Sprintf("cached session expires %s, too soon to reuse: the next command asks for the code", r.Expiry(now)), Fix: login}
	}
	return check{Name: "MFA session", Status: "ok", Detail: fmt.Sprintf("cached until %s, %s (reused until %v before; delete the file to sign out)", r.Expiry(now), r.CacheFileShort(), awscreds.ReuseWindow)}
}

// credentialsFailed is doctor's finding for credentials that did not
// work: awscreds' errors with their own fix.
func credentialsFailed(err error) check {
	if a, ok := adviseCredentials(err); ok {
		var ad *advised
		if errors.As(a, &ad) {
			return check{Name: "credentials", Status: "fail", Detail: ad.err.Error(), Fix: strings.TrimLeft(strings.TrimPrefix(ad.advice, ":"), ";\n ")}
		}
	}
	return check{Name: "credentials", Status: "fail", Detail: errText(err), Fix: credentialsFix()}
}

// apiFailed is doctor's finding when the AWS clients could not be made:
// the credentials (an MFA profile's, obtained up front), else the region.
func apiFailed(err error) check {
	if _, ok := adviseCredentials(err); ok {
		return credentialsFailed(err)
	}
	return check{Name: "region", Status: "fail", Detail: errText(err), Fix: "pass --region, set AWS_REGION, or set region in jitssh's config or your AWS profile"}
}
