// Package clientconf reads the jitssh client's own configuration file,
// ~/.config/jitssh/config.toml (JITSSH_CONFIG overrides the path):
//
//	default_user = "alice"      # OS user when none is given (else derived from your AWS identity)
//	region       = "eu-west-1"  # when neither --region, a .REGION suffix nor AWS_REGION says
//	profile      = "prod"       # when neither --profile nor AWS_PROFILE says
//	transport    = "auto"       # auto (default), ssm, eice, direct or bastion
//	via          = "bastion-1"  # jump host for the bastion transport ([user@]target)
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
	// Path is where the configuration was read from ("" if no file).
	Path string `toml:"-" json:"path,omitempty"`
}

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
		return Config{}, fmt.Errorf("%s: unknown setting %s (known: default_user, region, profile, transport, via)", name, strings.Join(keys, ", "))
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
	return c, nil
}
