// Package ssologin signs in to AWS IAM Identity Center (SSO) without the
// AWS CLI: it reads a profile's SSO settings (an `sso_session` section or
// the legacy `sso_start_url` form), registers an OIDC client (cached like
// the AWS CLI's), runs the authorization-code flow with PKCE and a
// loopback redirect, or the device-code flow, and writes the standard
// token cache (~/.aws/sso/cache/<sha1>.json) that the AWS CLI and the
// SDKs read. It checks and refreshes a cached token (the SDK's
// ssocreds.SSOTokenProvider), and signs out (the portal's Logout, the
// token and the role-credential cache entries removed).
//
// For scopes built from a session (docs/scopes.md, reach.go, label.go):
// the accounts the portal's ListAccounts names, the roles ListAccountRoles
// offers in each (bounded concurrency, throttling retried), the role
// chosen by a preference list (Choose, Reach), GetRoleCredentials as a
// credentials provider kept in memory (RoleProvider), and the location
// label sso:SESSION/ACCOUNT/ROLE (Ref) that the location cache stores and
// `ssh` hands its proxy.
//
// Errors are typed (LoginRequiredError, NotSSOError, ConfigError,
// AuthorizationError); their text names no jitssh command: internal/cli
// adds that.
package ssologin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
)

// Session is what the shared config says about one profile's SSO
// sign-in.
type Session struct {
	// Profile is the profile that names it ("default" when none was
	// given).
	Profile string
	// Name is the sso_session's name; "" for the legacy form
	// (sso_start_url in the profile itself).
	Name     string
	StartURL string
	// Region is sso_region: where the OIDC and portal endpoints are.
	Region string
	// Scopes are sso_registration_scopes (nil when not configured).
	Scopes []string
	// AccountID and RoleName are the profile's sso_account_id and
	// sso_role_name (empty for a profile that only signs in).
	AccountID, RoleName string
	// ConfigFile is the shared config file read.
	ConfigFile string
}

// Legacy reports whether s is the legacy form (no sso_session), which
// the AWS CLI signs in with the device code only and the SDK never
// refreshes.
func (s *Session) Legacy() bool { return s.Name == "" }

// CacheKey is what the token cache file's name is the SHA-1 of: the
// session's name, or the start URL for the legacy form (botocore's
// SSOTokenLoader).
func (s *Session) CacheKey() string {
	if s.Name != "" {
		return s.Name
	}
	return s.StartURL
}

// String names the session for messages: "SSO session 'NAME'" or "SSO
// start URL URL".
func (s *Session) String() string {
	if s.Name != "" {
		return fmt.Sprintf("SSO session '%s'", s.Name)
	}
	return "SSO start URL " + s.StartURL
}

// NotSSOError is a profile without SSO settings.
type NotSSOError struct{ Profile string }

func (e *NotSSOError) Error() string {
	return fmt.Sprintf("profile %s does not use IAM Identity Center (no sso_session or sso_start_url)", e.Profile)
}

// ConfigError is an SSO configuration the sign-in cannot use.
type ConfigError struct {
	Profile string
	Problem string
	Err     error
}

func (e *ConfigError) Error() string {
	s := fmt.Sprintf("profile %s: %s", e.Profile, e.Problem)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ConfigError) Unwrap() error { return e.Err }

// ProfileName is the profile the SDK uses when none is given: AWS_PROFILE,
// else AWS_DEFAULT_PROFILE, else "default".
func ProfileName(profile string) string {
	for _, p := range []string{profile, os.Getenv("AWS_PROFILE"), os.Getenv("AWS_DEFAULT_PROFILE")} {
		if p != "" {
			return p
		}
	}
	return "default"
}

// ConfigFile is the shared config file: AWS_CONFIG_FILE, else
// ~/.aws/config.
func ConfigFile() string {
	if f := os.Getenv("AWS_CONFIG_FILE"); f != "" {
		return f
	}
	return config.DefaultSharedConfigFilename()
}

func credentialsFile() string {
	if f := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
		return f
	}
	return config.DefaultSharedCredentialsFilename()
}

// Resolve reads profile's SSO settings from the shared config files (the
// SDK's reader, as the credential chain reads them). A profile without
// SSO settings is a *NotSSOError; one that cannot be read, or whose SSO
// settings are incomplete, a *ConfigError.
func Resolve(ctx context.Context, profile string) (*Session, error) {
	profile = ProfileName(profile)
	file := ConfigFile()
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles = []string{file}
		o.CredentialsFiles = []string{credentialsFile()}
	})
	if err != nil {
		var missing config.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			return nil, &NotSSOError{Profile: profile}
		}
		return nil, &ConfigError{Profile: profile, Problem: "read the shared config " + file, Err: err}
	}
	s := &Session{Profile: profile, AccountID: sc.SSOAccountID, RoleName: sc.SSORoleName, ConfigFile: file}
	switch {
	case sc.SSOSession != nil:
		s.Name, s.StartURL, s.Region = sc.SSOSession.Name, sc.SSOSession.SSOStartURL, sc.SSOSession.SSORegion
		if s.Scopes, err = readScopes(file, s.Name); err != nil {
			return nil, &ConfigError{Profile: profile, Problem: "read sso_registration_scopes", Err: err}
		}
	case sc.SSOStartURL != "":
		s.StartURL, s.Region = sc.SSOStartURL, sc.SSORegion
	default:
		return nil, &NotSSOError{Profile: profile}
	}
	var missing []string
	if s.StartURL == "" {
		missing = append(missing, "sso_start_url")
	}
	if s.Region == "" {
		missing = append(missing, "sso_region")
	}
	if len(missing) > 0 {
		where := "the profile"
		if s.Name != "" {
			where = fmt.Sprintf("[sso-session %s]", s.Name)
		}
		return nil, &ConfigError{Profile: profile, Problem: fmt.Sprintf("%s lacks %s", where, strings.Join(missing, " and "))}
	}
	return s, nil
}

// maxConfigSize bounds the shared config file readScopes reads.
const maxConfigSize = 4 << 20

// readScopes returns sso_registration_scopes of [sso-session name] in
// file (nil when absent): the SDK does not expose it.
func readScopes(file, name string) ([]string, error) {
	f, err := os.Open(filepath.Clean(file))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseScopes(io.LimitReader(f, maxConfigSize), name)
}

// ParseScopes finds sso_registration_scopes in the [sso-session name]
// section of an AWS shared config file and splits it as the AWS CLI does
// (comma-separated, blanks trimmed, empties dropped). It returns nil when
// the key is absent. Sections, keys and comments follow the AWS config
// format: `[sso-session NAME]` (spaces around NAME ignored), `key = value`,
// lines starting with '#' or ';' ignored; a key line indented under
// another key continues that key (a sub-section) and is not the section's
// own key.
func ParseScopes(r io.Reader, name string) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	in := false
	var scopes []string
	found := false
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		if trimmed[0] == '[' {
			end := strings.IndexByte(trimmed, ']')
			if end < 0 {
				return nil, fmt.Errorf("malformed section header %q", trimmed)
			}
			fields := strings.Fields(trimmed[1:end])
			in = len(fields) == 2 && fields[0] == "sso-session" && fields[1] == name
			continue
		}
		if !in || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(trimmed, "=")
		if !ok || strings.TrimSpace(k) != "sso_registration_scopes" {
			continue
		}
		found = true
		scopes = nil
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				scopes = append(scopes, s)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if found && scopes == nil {
		scopes = []string{}
	}
	return scopes, nil
}
