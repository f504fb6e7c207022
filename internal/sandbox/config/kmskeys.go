package config

import (
	"fmt"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/kms"
)

// KMSKeySpec is one KMS key of the account (symmetric, customer managed):
//
//	[[kms_keys]]
//	id = "0b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40"
//	alias = "alias/ssm-sessions"      # optional
//	policy = "ssm-key-policy"         # a [policies.NAME] key policy; default: KMS's default key policy
//
// KMS's default key policy lets the account's root principal do anything
// with the key, so the identities' policies decide; a key policy of its
// own can name principals directly (then no identity policy is needed) or
// deny.
type KMSKeySpec struct {
	ID          string `toml:"id"`
	Alias       string `toml:"alias"`
	Policy      string `toml:"policy"`
	Description string `toml:"description"`
}

// checkKMSKeys validates the keys: ids, aliases and policies.
func (f *File) checkKMSKeys() error {
	_, err := f.kmsKeys()
	return err
}

// kmsKeys returns the resolved keys.
func (f *File) kmsKeys() ([]kms.Key, error) {
	var keys []kms.Key
	for i, spec := range f.KMSKeys {
		where := fmt.Sprintf("kms_keys[%d]", i)
		k := kms.Key{ID: spec.ID, Alias: spec.Alias, Description: spec.Description, Policy: kms.DefaultPolicy(f.Account)}
		if spec.Policy != "" {
			d, err := f.policy(spec.Policy)
			if err != nil {
				return nil, fmt.Errorf("%s.policy: %w", where, err)
			}
			if err := keyPolicyPrincipals(d); err != nil {
				return nil, fmt.Errorf("%s.policy (%s): %w", where, spec.Policy, err)
			}
			k.Policy = d
		}
		keys = append(keys, k)
	}
	if _, err := kms.New(f.Region, f.Account, keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// keyPolicyPrincipals checks that every statement of a key policy names
// its principal, as KMS requires.
func keyPolicyPrincipals(d policy.Document) error {
	for i, s := range d.Statement {
		if s.Principal == nil {
			return fmt.Errorf("statement %d has no Principal: a key policy names who it applies to", i)
		}
	}
	return nil
}
