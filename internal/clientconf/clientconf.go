// Package clientconf reads the jitssh client's own configuration file,
// ~/.config/jitssh/config.toml (JITSSH_CONFIG overrides the path):
//
//	default_user = "alice"      # OS user when none is given (else derived from your AWS identity)
//	region       = "eu-west-1"  # when neither --region, a .REGION suffix nor AWS_REGION says
//	profile      = "prod"       # when neither --profile nor AWS_PROFILE says
//	transport    = "auto"       # auto (default), ssm, eice, direct or bastion
//	via          = "bastion-1"  # jump host for the bastion transport ([user@]target)
//	default_scope = "all"       # the scope searched when a command names none (--scope)
//	sso_roles    = ["ReadOnly", "AdministratorAccess"]  # role preference of SSO scopes
//
//	[[scope]]                   # a named set of (profile, region) pairs to search
//	name     = "prod"
//	profiles = ["prod-*", "shared"]   # ~/.aws/config profile names, * and ? globs
//	regions  = ["eu-west-1", "us-east-1"]  # or ["all"]: each account's enabled regions
//
//	[[scope]]
//	name        = "org"
//	sso_session = "my-sso"      # every account and role the SSO session reaches
//	regions     = ["all"]
//
// A missing file is an empty configuration; an unknown key, a wrong type or
// an invalid value is an error naming the file, line and what to write.
package clientconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/jitssh/jitssh/internal/targets"
)

// Config is the client configuration.
type Config struct {
	DefaultUser string `toml:"default_user" json:"default_user,omitempty"`
	Region      string `toml:"region" json:"region,omitempty"`
	Profile     string `toml:"profile" json:"profile,omitempty"`
	Transport   string `toml:"transport" json:"transport,omitempty"`
	Via         string `toml:"via" json:"via,omitempty"`
	// Scope names the scope searched when a command names none: a
	// [[scope]] name or "all".
	Scope string `toml:"default_scope" json:"default_scope,omitempty"`
	// SSORoles is the preference list of role (permission set) names of
	// scopes from an SSO session: per account, the first one the user
	// has; none of them: the account is left out.
	SSORoles []string `toml:"sso_roles" json:"sso_roles,omitempty"`
	Scopes   []Scope  `toml:"scope" json:"scopes,omitempty"`
	// Path is where the configuration was read from ("" if no file).
	Path string `toml:"-" json:"path,omitempty"`
}

// Scope is one [[scope]] entry: a named set of (profile, region) pairs.
type Scope struct {
	Name string `toml:"name" json:"name"`
	// Profiles are AWS profile names or globs (* and ?) over the
	// profiles of the AWS config files.
	Profiles []string `toml:"profiles" json:"profiles,omitempty"`
	// SSOSession, if set, makes the scope every account and role (by
	// SSORoles) that the sso-session of that name reaches.
	SSOSession string `toml:"sso_session" json:"sso_session,omitempty"`
	// Regions are region codes, or the one word "all": each account's
	// enabled regions. None: the profile's own region.
	Regions []string `toml:"regions" json:"regions,omitempty"`
}

// AllRegions is the Regions entry meaning every enabled region.
const AllRegions = "all"

// AllScopes is the scope name meaning every [[scope]] together.
const AllScopes = "all"

// EnvPath names the environment variable that overrides the file's path.
const EnvPath = "JITSSH_CONFIG"

// Transports are the transport names the file accepts (the same as
// --transport; a test in internal/cli keeps the lists equal).
var Transports = []string{"auto", "ssm", "eice", "direct", "bastion"}

// validProfile: [A-Za-z0-9_.@+-]{1,128} (no regexp: a counted repetition
// compiles to a large program at every jitssh start).
func validProfile(s string) bool {
	if len(s) < 1 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.@+-", c) >= 0) {
			return false
		}
	}
	return true
}

// DefaultPath returns $JITSSH_CONFIG or <user config dir>/jitssh/config.toml.
func DefaultPath() (string, error) {
	if p := os.Getenv(EnvPath); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find config directory: %w", err)
	}
	return filepath.Join(dir, "jitssh", "config.toml"), nil
}

// Load reads path; a missing file is an empty Config.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("read jitssh config: %w", err)
	}
	c, err := Parse(data, path)
	if err != nil {
		return Config{}, err
	}
	c.Path = path
	return c, nil
}

// Parse parses and validates a configuration; name is used in errors.
func Parse(data []byte, name string) (Config, error) {
	var c Config
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, fmt.Errorf("%s: line %d: %s", name, pe.Position.Line, pe.Message)
		}
		return Config{}, fmt.Errorf("%s: %v", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("%s: unknown setting %s (known: default_user, region, profile, transport, via, default_scope, sso_roles, [[scope]] with name, profiles, sso_session, regions)", name, strings.Join(keys, ", "))
	}
	if c.DefaultUser != "" {
		if err := targets.ValidUser(c.DefaultUser); err != nil {
			return Config{}, fmt.Errorf("%s: default_user: %w", name, err)
		}
	}
	if c.Region != "" && !targets.ValidRegion(c.Region) {
		return Config{}, fmt.Errorf("%s: region %q is not an AWS region code (like \"eu-west-1\")", name, c.Region)
	}
	if c.Profile != "" && !validProfile(c.Profile) {
		return Config{}, fmt.Errorf("%s: profile %q: use letters, digits and _ . @ + -", name, c.Profile)
	}
	if c.Transport != "" {
		ok := false
		for _, t := range Transports {
			ok = ok || t == c.Transport
		}
		if !ok {
			return Config{}, fmt.Errorf("%s: transport %q is not available (this jitssh supports: %s)", name, c.Transport, strings.Join(Transports, ", "))
		}
	}
	if c.Via != "" {
		if _, err := targets.Parse(c.Via); err != nil {
			return Config{}, fmt.Errorf("%s: via: %w", name, err)
		}
		if c.Transport != "" && c.Transport != "bastion" && c.Transport != "auto" {
			return Config{}, fmt.Errorf("%s: via %q goes with transport \"bastion\" (or \"auto\"), not %q", name, c.Via, c.Transport)
		}
	}
	if c.Transport == "bastion" && c.Via == "" {
		return Config{}, fmt.Errorf("%s: transport \"bastion\" needs via = \"JUMP-HOST\"", name)
	}
	if err := c.checkScopes(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// checkScopes checks the [[scope]] entries, scope and sso_roles.
func (c Config) checkScopes() error {
	seen := map[string]bool{}
	for i, s := range c.Scopes {
		if !validProfile(s.Name) || s.Name == AllScopes {
			return fmt.Errorf("scope %d: name %q: use letters, digits and _ . @ + - (and not %q, which means every scope)", i+1, s.Name, AllScopes)
		}
		if seen[s.Name] {
			return fmt.Errorf("scope %q is defined twice", s.Name)
		}
		seen[s.Name] = true
		if (len(s.Profiles) == 0) == (s.SSOSession == "") {
			return fmt.Errorf("scope %q: give either profiles = [\"GLOB\", ...] or sso_session = \"NAME\"", s.Name)
		}
		for _, p := range s.Profiles {
			if !ValidProfileGlob(p) {
				return fmt.Errorf("scope %q: profile %q: use letters, digits and _ . @ + -, with * and ? as wildcards", s.Name, p)
			}
		}
		if s.SSOSession != "" && !validProfile(s.SSOSession) {
			return fmt.Errorf("scope %q: sso_session %q: use letters, digits and _ . @ + -", s.Name, s.SSOSession)
		}
		if s.SSOSession != "" && len(c.SSORoles) == 0 {
			return fmt.Errorf("scope %q: an sso_session scope needs sso_roles = [\"ROLE\", ...] (which role to use in each account, first one the user has)", s.Name)
		}
		if err := CheckRegions(s.Regions); err != nil {
			return fmt.Errorf("scope %q: %w", s.Name, err)
		}
	}
	for _, r := range c.SSORoles {
		if !validProfile(r) {
			return fmt.Errorf("sso_roles: %q is not a role name", r)
		}
	}
	if c.Scope != "" && c.Scope != AllScopes && !seen[c.Scope] {
		return fmt.Errorf("default_scope = %q names no [[scope]] (defined: %s)", c.Scope, strings.Join(c.ScopeNames(), ", "))
	}
	return nil
}

// ScopeNames lists the [[scope]] names in file order.
func (c Config) ScopeNames() []string {
	out := make([]string, len(c.Scopes))
	for i, s := range c.Scopes {
		out[i] = s.Name
	}
	return out
}

// CheckRegions checks a regions list: region codes, or "all" alone.
func CheckRegions(regions []string) error {
	for _, r := range regions {
		if r == AllRegions {
			if len(regions) > 1 {
				return fmt.Errorf("regions: %q means every enabled region and goes alone", AllRegions)
			}
			continue
		}
		if !targets.ValidRegion(r) {
			return fmt.Errorf("regions: %q is not an AWS region code (like \"eu-west-1\") nor %q", r, AllRegions)
		}
	}
	return nil
}

// ValidProfileGlob reports whether s is a profile name, or a pattern of
// one with * and ? wildcards.
func ValidProfileGlob(s string) bool {
	return validProfile(strings.NewReplacer("*", "a", "?", "a").Replace(s))
}
