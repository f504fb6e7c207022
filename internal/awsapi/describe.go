package awsapi

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/jitssh/jitssh/internal/awscreds"
)

// CredentialSource is where the SDK takes credentials from, as
// `jitssh doctor` shows it.
type CredentialSource struct {
	// Profile is the profile the SDK loads ("" when credentials come
	// from the environment alone); Chain its source_profile chain.
	Profile string
	Chain   []ProfileLink
	// Env names the environment's source when no profile is used
	// (AWS_ACCESS_KEY_ID, AWS_WEB_IDENTITY_TOKEN_FILE), else "".
	Env string
}

// ProfileLink is one profile of a chain.
type ProfileLink struct {
	Profile string
	// Kind: "role", "web identity role", "static keys", "static keys,
	// MFA session" (GetSessionToken),
	// "credential_process", "IAM Identity Center (SSO)",
	// "credential_source NAME", or "no credentials".
	Kind string
	Role *RoleSession // for the role kinds and the MFA session
}

// RoleSession is a role a profile assumes and its cached session.
type RoleSession struct {
	Args awscreds.RoleArgs
	// CacheFile is the AWS CLI cache file of the role's sessions;
	// Cached its entry (nil: none usable, Why says why), with its expiry.
	CacheFile string
	Cached    *awscreds.Entry
	Why       string
}

// String is the chain on one line: "mfa (role Admin, MFA …) → carol
// (static keys)".
func (s CredentialSource) String() string {
	if s.Env != "" {
		return "environment (" + s.Env + ")"
	}
	if len(s.Chain) == 0 {
		return fmt.Sprintf("profile %q not in the AWS config files: the SDK's default chain (environment, container, instance metadata)", s.Profile)
	}
	parts := make([]string, 0, len(s.Chain))
	for _, l := range s.Chain {
		d := l.Kind
		if l.Role != nil {
			if l.Role.Args.RoleARN != "" {
				d += " " + l.Role.Args.RoleARN
			}
			if l.Role.Args.SerialNumber != "" {
				d += ", MFA " + l.Role.Args.SerialNumber
			}
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", l.Profile, d))
	}
	return strings.Join(parts, " → ")
}

// DescribeCredentials reads (without calling AWS) where the
// credentials of opts's profile come from, and the cached sessions of
// its roles.
func DescribeCredentials(ctx context.Context, opts Options) (CredentialSource, error) {
	env, err := config.NewEnvConfig()
	if err != nil {
		return CredentialSource{}, fmt.Errorf("read AWS environment: %w", err)
	}
	// keys in the environment win over AWS_PROFILE, not over --profile
	// (the SDK's order, and the AWS CLI's)
	if opts.Profile == "" {
		switch {
		case env.Credentials.HasKeys():
			return CredentialSource{Env: "AWS_ACCESS_KEY_ID"}, nil
		case env.WebIdentityTokenFilePath != "":
			return CredentialSource{Env: "AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN"}, nil
		}
	}
	_, name, sc, err := loadProfile(ctx, opts)
	src := CredentialSource{Profile: name}
	if err != nil {
		return src, fmt.Errorf("load AWS profile %q: %w", name, err)
	}
	var cache *awscreds.Cache
	if dir, err := awscreds.DefaultDir(); err == nil {
		cache = &awscreds.Cache{Dir: dir}
	}
	for p, n := sc, 0; p != nil && n < 32; p, n = p.Source, n+1 {
		src.Chain = append(src.Chain, link(p, cache, n == 0))
	}
	return src, nil
}

func link(p *config.SharedConfig, cache *awscreds.Cache, top bool) ProfileLink {
	l := ProfileLink{Profile: p.Profile}
	switch {
	case p.RoleARN != "" && p.WebIdentityTokenFile != "":
		l.Kind = "web identity role"
		l.Role = &RoleSession{Args: awscreds.RoleArgs{RoleARN: p.RoleARN}}
		return l
	case p.RoleARN != "":
		l.Kind = "role"
		args := roleArgs(&config.SharedConfig{RoleARN: p.RoleARN, RoleSessionName: p.RoleSessionName, MFASerial: p.MFASerial, ExternalID: p.ExternalID, RoleDurationSeconds: p.RoleDurationSeconds})
		l.Role = &RoleSession{Args: args[0]}
		if cache != nil {
			key := args[0].CacheKey()
			l.Role.CacheFile = cache.Path(key)
			l.Role.Cached, l.Role.Why = cache.Peek(key, p.RoleARN)
		}
		if p.CredentialSource != "" {
			l.Kind += ", credential_source " + p.CredentialSource
		}
	case p.SSOSessionName != "" || p.SSOStartURL != "":
		l.Kind = "IAM Identity Center (SSO)"
	case p.CredentialProcess != "":
		l.Kind = "credential_process"
	case p.Credentials.HasKeys() && top && p.MFASerial != "":
		l.Kind = "static keys, MFA session"
		l.Role = &RoleSession{Args: awscreds.RoleArgs{SerialNumber: p.MFASerial}}
		if cache != nil {
			key := awscreds.SessionTokenKey(p.Credentials.AccessKeyID, p.MFASerial)
			l.Role.CacheFile = cache.Path(key)
			l.Role.Cached, l.Role.Why = cache.Peek(key, "")
		}
	case p.Credentials.HasKeys():
		l.Kind = "static keys"
	case p.CredentialSource != "":
		l.Kind = "credential_source " + p.CredentialSource
	default:
		l.Kind = "no credentials"
	}
	return l
}

// Expiry describes a cached session's expiry relative to now.
func (r *RoleSession) Expiry(now time.Time) string {
	if r.Cached == nil {
		return ""
	}
	left := r.Cached.Expiration.Sub(now).Round(time.Minute)
	return fmt.Sprintf("%s (in %v)", r.Cached.Expiration.Local().Format("2006-01-02 15:04 MST"), left)
}

// homeRelative shortens a path under the home directory to ~/….
func homeRelative(p string) string {
	if home, err := os.UserHomeDir(); err == nil && strings.HasPrefix(p, home+"/") {
		return "~" + p[len(home):]
	}
	return p
}

// CacheFileShort is CacheFile as ~/….
func (r *RoleSession) CacheFileShort() string { return homeRelative(r.CacheFile) }

// ForgetCredentials removes the cached sessions of opts's profile chain
// (its roles' AssumeRole sessions and an MFA user profile's session
// token, with their lock files) and returns the entry files it removed:
// the next command assumes the roles again, asking for the MFA code.
// For `jitssh logout` of a profile that is not SSO.
func ForgetCredentials(ctx context.Context, opts Options) ([]string, error) {
	src, err := DescribeCredentials(ctx, opts)
	if err != nil {
		return nil, err
	}
	dir, err := awscreds.DefaultDir()
	if err != nil {
		return nil, err
	}
	c := &awscreds.Cache{Dir: dir}
	var removed []string
	for _, l := range src.Chain {
		if l.Role == nil || l.Role.CacheFile == "" {
			continue
		}
		key := strings.TrimSuffix(filepath.Base(l.Role.CacheFile), ".json")
		if _, err := os.Stat(l.Role.CacheFile); err == nil {
			removed = append(removed, l.Role.CacheFile)
		}
		if err := c.Remove(key); err != nil {
			return removed, err
		}
	}
	return removed, nil
}
