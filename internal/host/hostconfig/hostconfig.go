// Package hostconfig owns jitssh-host's configuration file, a small TOML
// file read on every AuthorizedKeysCommand run. sshd starts that command with
// an empty environment, so the file (default /etc/jitssh/host.toml) is the
// only configuration there is; nothing is read from environment variables.
//
// Example:
//
//	imds_endpoint = "http://169.254.169.254"
//	trusted_roots = "/etc/jitssh/signer-roots.pem"  # default: system roots
//	audit_file    = "/var/log/jitssh/audit.jsonl"   # "" disables the file
//	syslog        = true                            # authpriv
//	timeout       = "3s"
//
// Unknown keys and bad values are errors. Because the file decides which
// signer certificates are trusted, it (and the trusted_roots file) must not
// be writable by group or others, and must be owned by root or by the user
// reading it. This package does not load the roots or open the audit file.
package hostconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/jitssh/jitssh/internal/imds"
)

// Defaults.
const (
	DefaultPath      = "/etc/jitssh/host.toml"
	DefaultAuditFile = "/var/log/jitssh/audit.jsonl"
	DefaultTimeout   = 3 * time.Second
	// MinTimeout and MaxTimeout bound the timeout setting. sshd's own
	// patience is LoginGraceTime, but AWS's scripts give up after 5 s.
	MinTimeout = 100 * time.Millisecond
	MaxTimeout = 30 * time.Second
	// MaxFileSize is the largest configuration or roots file read.
	MaxFileSize = 1 << 20
)

// Config is jitssh-host's configuration.
type Config struct {
	// IMDSEndpoint is the IMDS base URL (imds_endpoint); default
	// http://169.254.169.254.
	IMDSEndpoint string
	// TrustedRoots is the PEM file of root certificates the signer chain
	// must verify to (trusted_roots); "" means the system roots.
	TrustedRoots string
	// AuditFile is the JSON-lines audit file (audit_file); default
	// /var/log/jitssh/audit.jsonl, "" disables the file.
	AuditFile string
	// Syslog sends audit events to syslog, facility authpriv (syslog);
	// default true.
	Syslog bool
	// Timeout bounds one authorization (timeout); default 3 s.
	Timeout time.Duration
}

// Default returns the configuration used when no file exists.
func Default() Config {
	return Config{
		IMDSEndpoint: imds.DefaultEndpoint,
		AuditFile:    DefaultAuditFile,
		Syslog:       true,
		Timeout:      DefaultTimeout,
	}
}

// file is the TOML layout. Pointers tell "absent" from "empty".
type file struct {
	IMDSEndpoint *string `toml:"imds_endpoint"`
	TrustedRoots *string `toml:"trusted_roots"`
	AuditFile    *string `toml:"audit_file"`
	Syslog       *bool   `toml:"syslog"`
	Timeout      *string `toml:"timeout"`
}

// Parse reads a configuration from TOML text; absent keys keep their
// defaults.
func Parse(data []byte) (Config, error) {
	var f file
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&f)
	if err != nil {
		return Config{}, fmt.Errorf("hostconfig: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("hostconfig: unknown key(s) %s (known: imds_endpoint, trusted_roots, audit_file, syslog, timeout)", strings.Join(keys, ", "))
	}
	c := Default()
	if f.IMDSEndpoint != nil {
		if _, err := imds.ParseEndpoint(*f.IMDSEndpoint); err != nil {
			return Config{}, fmt.Errorf("hostconfig: imds_endpoint: %w", err)
		}
		c.IMDSEndpoint = *f.IMDSEndpoint
	}
	if f.TrustedRoots != nil {
		if *f.TrustedRoots != "" && !filepath.IsAbs(*f.TrustedRoots) {
			return Config{}, fmt.Errorf("hostconfig: trusted_roots %q must be an absolute path", *f.TrustedRoots)
		}
		c.TrustedRoots = *f.TrustedRoots
	}
	if f.AuditFile != nil {
		if *f.AuditFile != "" && !filepath.IsAbs(*f.AuditFile) {
			return Config{}, fmt.Errorf("hostconfig: audit_file %q must be an absolute path (or \"\" to disable)", *f.AuditFile)
		}
		c.AuditFile = *f.AuditFile
	}
	if f.Syslog != nil {
		c.Syslog = *f.Syslog
	}
	if f.Timeout != nil {
		d, err := time.ParseDuration(*f.Timeout)
		if err != nil {
			return Config{}, fmt.Errorf("hostconfig: timeout %q: want a duration such as \"3s\"", *f.Timeout)
		}
		if d < MinTimeout || d > MaxTimeout {
			return Config{}, fmt.Errorf("hostconfig: timeout %s is outside %s..%s", d, MinTimeout, MaxTimeout)
		}
		c.Timeout = d
	}
	return c, nil
}

// Load reads and parses the configuration file at path. With path == ""
// it reads DefaultPath and, if that file does not exist, returns Default();
// an explicit path must exist.
func Load(path string) (Config, error) {
	explicit := path != ""
	if !explicit {
		path = DefaultPath
	}
	data, err := ReadSecureFile(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return Default(), nil
		}
		return Config{}, fmt.Errorf("hostconfig: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, nil
}

// ReadSecureFile reads a file that decides what is trusted: a regular file
// of at most MaxFileSize bytes, not writable by group or others, owned by
// root or the effective user.
func ReadSecureFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%s is writable by group or others (mode %04o)", path, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("%s is owned by uid %d, not root", path, st.Uid)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}
