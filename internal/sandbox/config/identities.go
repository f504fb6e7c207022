package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// PolicySpec is a custom policy: inline JSON or a JSON file.
type PolicySpec struct {
	Document string `toml:"document"`
	File     string `toml:"file"`
}

// IdentitySpec is one principal. The first identity is the default one,
// whose credentials the environment file carries.
type IdentitySpec struct {
	// Name is the AWS profile the sandbox writes for it.
	Name string `toml:"name"`
	// Type is "role" (an assumed-role session, the default) or "user".
	Type string `toml:"type"`
	// Role and SessionName make the ARN of a role session; an empty
	// SessionName means the local user's name.
	Role        string `toml:"role"`
	SessionName string `toml:"session_name"`
	// User is the IAM user name (type "user"), optionally with a path
	// ("ops/bob").
	User string `toml:"user"`
	// AccessKeyID and SecretAccessKey are generated when empty.
	AccessKeyID     string `toml:"access_key_id"`
	SecretAccessKey string `toml:"secret_access_key"`
	// Tags are principal tags; absent means {userName = <session or user name>}.
	Tags *map[string]string `toml:"tags"`
	// Policies name the identity policies attached.
	Policies []string `toml:"policies"`
	// MFA gives an IAM user (type "user") a virtual MFA device,
	// arn:aws:iam::ACCOUNT:mfa/USER, whose TOTP secret the sandbox
	// generates and keeps in its state directory (jitssh-sandbox ctl
	// mfa-code prints its codes).
	MFA bool `toml:"mfa"`
}

// BuiltinPolicies are the policy names every configuration can use.
var BuiltinPolicies = []string{"jitssh-user", "jitssh-scp", "jitssh-instance", "jitssh-auditor", "jitssh-revoker", "FullAWSAccess", "AdministratorAccess"}

// checkPolicies validates the custom policies and the SCPs.
func (f *File) checkPolicies() error {
	for name, p := range f.Policies {
		if isBuiltinPolicy(name) {
			return fmt.Errorf("policies.%s: the name is built in; choose another", name)
		}
		if !profilePattern.MatchString(name) {
			return fmt.Errorf("policies.%q: names are letters, digits, _, . and -", name)
		}
		if (p.Document == "") == (p.File == "") {
			return fmt.Errorf("policies.%s: set exactly one of document and file", name)
		}
		if p.File != "" && f.dir == "" {
			return fmt.Errorf("policies.%s: policy files are only allowed in configuration files", name)
		}
		if _, err := f.policy(name); err != nil {
			return err
		}
	}
	if f.SCPs != nil {
		for _, n := range *f.SCPs {
			if _, err := f.policy(n); err != nil {
				return fmt.Errorf("scps: %w", err)
			}
		}
	}
	return nil
}

// checkIdentities validates the identities: at least one, names and
// access keys unique.
func (f *File) checkIdentities() error {
	if len(f.Identities) == 0 && !f.member {
		return errors.New("no [[identities]]: the first one is the default identity and is required")
	}
	names, keys := map[string]bool{}, map[string]bool{}
	devices := map[string]string{} // MFA device name → identity
	for i := range f.Identities {
		if err := f.checkIdentity(i, names, keys); err != nil {
			return err
		}
		id := f.Identities[i]
		if !id.MFA {
			continue
		}
		dev := id.User[strings.LastIndex(id.User, "/")+1:]
		if other, dup := devices[dev]; dup {
			return fmt.Errorf("identities[%d] (%s): its MFA device would be mfa/%s, as %s's is (devices are named after the user, without the path); rename one user", i, id.Name, dev, other)
		}
		devices[dev] = id.Name
	}
	return nil
}

// checkIdentity validates identity i and fills in its defaults; names and
// keys are those of the identities before it.
func (f *File) checkIdentity(i int, names, keys map[string]bool) error {
	id := &f.Identities[i]
	where := fmt.Sprintf("identities[%d]", i)
	if id.Name == "" && i == 0 {
		id.Name = "default"
	}
	if !profilePattern.MatchString(id.Name) {
		return fmt.Errorf("%s: name %q: want letters, digits, _, . and - (it becomes an AWS profile name)", where, id.Name)
	}
	where = fmt.Sprintf("identities[%d] (%s)", i, id.Name)
	if names[id.Name] {
		return fmt.Errorf("%s: duplicate name", where)
	}
	if id.Name == "default" && i > 0 {
		return fmt.Errorf("%s: only the first identity can be named default (it is the default profile)", where)
	}
	names[id.Name] = true
	if err := checkIdentityType(id, where); err != nil {
		return err
	}
	if id.AccessKeyID == "" {
		id.AccessKeyID = fmt.Sprintf("AKIAJITSSHSANDBX%04d", i+1)
	}
	if !accessKeyPattern.MatchString(id.AccessKeyID) {
		return fmt.Errorf("%s: access_key_id %q: want AKIA and 16 upper-case letters or digits", where, id.AccessKeyID)
	}
	if keys[id.AccessKeyID] {
		return fmt.Errorf("%s: access key %s is used twice", where, id.AccessKeyID)
	}
	keys[id.AccessKeyID] = true
	if id.SecretAccessKey != "" && !secretPattern.MatchString(id.SecretAccessKey) {
		return fmt.Errorf("%s: secret_access_key: want 40 characters of A-Z a-z 0-9 / +", where)
	}
	if id.MFA && id.Type != "user" {
		return fmt.Errorf("%s: %w", where, errMFANotUser)
	}
	if id.Tags != nil {
		if err := checkTags(*id.Tags, where+".tags"); err != nil {
			return err
		}
	}
	for _, p := range id.Policies {
		if _, err := f.policy(p); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

// checkIdentityType validates an identity's type (role or user) and the
// fields that go with it.
func checkIdentityType(id *IdentitySpec, where string) error {
	switch id.Type {
	case "", "role":
		id.Type = "role"
		if id.Role == "" {
			id.Role = DefaultRole
		}
		if !roleNamePattern.MatchString(id.Role) {
			return fmt.Errorf("%s: role %q is not a valid role name", where, id.Role)
		}
		if id.User != "" {
			return fmt.Errorf("%s: user is for type = \"user\"", where)
		}
		if id.SessionName != "" && !sessionPattern.MatchString(id.SessionName) {
			return fmt.Errorf("%s: session_name %q: 2 to 64 of letters, digits and +=,.@_-", where, id.SessionName)
		}
	case "user":
		if !userPathPattern.MatchString(id.User) {
			return fmt.Errorf("%s: user %q: want an IAM user name, optionally with a path (ops/bob)", where, id.User)
		}
		if id.Role != "" || id.SessionName != "" {
			return fmt.Errorf("%s: role and session_name are for type = \"role\"", where)
		}
	default:
		return fmt.Errorf("%s: type %q: want role or user", where, id.Type)
	}
	return nil
}

func isBuiltinPolicy(name string) bool {
	for _, b := range BuiltinPolicies {
		if b == name {
			return true
		}
	}
	return false
}

// policy returns the document named name.
func (f *File) policy(name string) (policy.Document, error) { return f.policyIn(name, false) }

// inOrg reports whether f's account is one of an organization's, with
// several regions: configured ([organization], a member or regional
// block) or generated.
func (f *File) inOrg() bool {
	return f.Organization != nil || f.member || f.Generate != nil && f.Generate.org()
}

// policyIn is policy; in an organization the built-in policies name every
// region, and with anyAccount every account (a permission set's, which
// Identity Center provisions in each account it is assigned in).
func (f *File) policyIn(name string, anyAccount bool) (policy.Document, error) {
	o := policy.Options{Region: f.Region, Account: f.Account}
	if f.inOrg() {
		o.Region = "" // every region: the account has several
	}
	if anyAccount {
		o.Account = ""
	}
	switch name {
	case "jitssh-user":
		return policy.User(o), nil
	case "jitssh-scp":
		return policy.SCP(o), nil
	case "jitssh-instance":
		return policy.InstanceLogs(o), nil
	case "jitssh-auditor":
		return policy.Auditor(o), nil
	case "jitssh-revoker":
		return policy.Revoker(o), nil
	case "FullAWSAccess":
		return policy.FullAWSAccess(), nil
	case "AdministratorAccess":
		return policy.AdministratorAccess(), nil
	}
	p, ok := f.Policies[name]
	if !ok {
		return policy.Document{}, fmt.Errorf("unknown policy %q: define it under [policies.%s] or use one of %s", name, name, strings.Join(BuiltinPolicies, ", "))
	}
	text := []byte(p.Document)
	if p.File != "" {
		path := p.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(f.dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return policy.Document{}, fmt.Errorf("policies.%s: %w", name, err)
		}
		text = b
	}
	d, err := policy.Parse(text)
	if err != nil {
		return policy.Document{}, fmt.Errorf("policies.%s: %w", name, err)
	}
	return d, nil
}

func (f *File) identity(spec IdentitySpec, localUser string) (world.Identity, error) {
	id := world.Identity{Name: spec.Name, AccessKeyID: spec.AccessKeyID, SecretAccessKey: spec.SecretAccessKey}
	if id.SecretAccessKey == "" {
		id.SecretAccessKey = randomSecret()
	}
	var name string
	suffix := strings.TrimPrefix(id.AccessKeyID[4:], "JITSSH")
	switch spec.Type {
	case "user":
		name = spec.User[strings.LastIndex(spec.User, "/")+1:]
		id.ARN = fmt.Sprintf("arn:aws:iam::%s:user/%s", f.Account, spec.User)
		id.UserID = "AIDA" + suffix
		if spec.MFA {
			id.MFASerial = MFASerial(f.Account, spec.User)
		}
	default:
		name = spec.SessionName
		if name == "" {
			name = localUser
		}
		if !sessionPattern.MatchString(name) {
			return world.Identity{}, fmt.Errorf("the local user name %q is not a valid role session name; set session_name", name)
		}
		id.ARN = fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", f.Account, spec.Role, name)
		id.UserID = "AROA" + strings.ToUpper(roleIDPart(spec.Role)) + ":" + name
	}
	if spec.Tags != nil {
		id.Tags = make(map[string]string, len(*spec.Tags))
		for k, v := range *spec.Tags {
			id.Tags[k] = v
		}
	} else {
		id.Tags = map[string]string{policy.DefaultUserTag: name}
	}
	for _, p := range spec.Policies {
		d, err := f.policy(p)
		if err != nil {
			return world.Identity{}, err
		}
		id.Policies = append(id.Policies, d)
	}
	return id, nil
}

// roleIDPart derives the stable part of a role's unique id from its name.
func roleIDPart(role string) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(role); i++ {
		h ^= uint64(role[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("%016X", h)
}

func randomSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"
	b := make([]byte, 40)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
