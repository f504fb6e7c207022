package sandbox

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/passwdns"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// resolveAccount returns the account cfg describes: cfg.Account or the
// built-in one, with cfg.Instances replacing its instances.
func resolveAccount(cfg Config) (*config.Account, error) {
	acct := cfg.Account
	if acct == nil {
		a, err := config.Builtin().Resolve(LocalUser())
		if err != nil {
			return nil, err
		}
		acct = a
	}
	if len(acct.Identities) == 0 {
		return nil, fmt.Errorf("the sandbox account has no identities")
	}
	if cfg.Region != "" && cfg.Region != acct.Region {
		return nil, fmt.Errorf("region %s differs from the account's region %s: set the region in the configuration", cfg.Region, acct.Region)
	}
	a := *acct
	if cfg.Instances != nil {
		a.Instances = cfg.Instances
	}
	return &a, nil
}

// RootUser is the built-in default identity's role session, and so its
// OS user, when the sandbox runs as root with its own accounts
// (OwnAccounts): never root, whom the default identity must not be able
// to push keys for (docs/security.md, "Keys for root").
const RootUser = "developer"

var ownAccounts = sync.OnceValue(func() bool { return passwdns.Usable() == nil })

// OwnAccounts reports whether the sandbox's instances have their own
// accounts (package passwdns: root, and mount namespaces), with the
// account RootUser on every one.
func OwnAccounts() bool { return ownAccounts() }

// LocalUser names the built-in default identity's role session, so that
// jitssh's default OS user is the local user; RootUser when the sandbox
// runs as root with its own accounts.
func LocalUser() string {
	if OwnAccounts() {
		return RootUser
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "developer"
}

// writeProfiles writes an AWS config and credentials file pair into the
// state directory with one profile per identity (the default identity is
// [default]), each pointing at the sandbox, and returns their paths.
//
//	AWS_CONFIG_FILE=$JITSSH_SANDBOX_AWS_CONFIG AWS_SHARED_CREDENTIALS_FILE=$JITSSH_SANDBOX_AWS_CREDENTIALS aws --profile alice …
func (sb *Sandbox) writeProfiles() (configPath, credsPath string, err error) {
	var cfg, creds strings.Builder
	cfg.WriteString("# jitssh-sandbox: one profile per sandbox identity.\n")
	creds.WriteString("# jitssh-sandbox: credentials of the sandbox identities.\n")
	write := func(name string, id world.Identity) {
		section := "profile " + name
		if name == "default" {
			section = "default"
		}
		fmt.Fprintf(&cfg, "\n# %s\n[%s]\nregion = %s\nendpoint_url = %s\n", id.ARN, section, sb.World.Region, sb.URL)
		fmt.Fprintf(&creds, "\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", name, id.AccessKeyID, id.SecretAccessKey)
	}
	for i, id := range sb.identities {
		if i == 0 {
			write("default", id)
		}
		if id.Name != "" && id.Name != "default" {
			write(id.Name, id)
		}
	}
	sb.writeRoleProfiles(&cfg)
	sb.writeOrgProfiles(&cfg)
	configPath = filepath.Join(sb.StateDir, "aws-config")
	credsPath = filepath.Join(sb.StateDir, "aws-credentials")
	sb.writeSSOProfile(&cfg)
	if err := os.WriteFile(configPath, []byte(cfg.String()), 0o644); err != nil {
		return "", "", fmt.Errorf("write AWS config file: %w", err)
	}
	if err := os.WriteFile(credsPath, []byte(creds.String()), 0o600); err != nil {
		return "", "", fmt.Errorf("write AWS credentials file: %w", err)
	}
	return configPath, credsPath, nil
}
