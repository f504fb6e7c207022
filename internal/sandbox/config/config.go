// Package config owns the sandbox's one-file description of an AWS account
// (TOML): region and account id, identities with access keys, principal
// tags and policies, the organisation's service control policies, and the
// instances, including a generated fleet for scale tests. Builtin is the
// default account `jitssh-sandbox up` runs without a file. Load and Parse
// reject anything malformed or unknown with an error naming the key.
//
// One file per concern, each with its types, its checks and its part of
// Resolve: identities.go (identities and policies), network.go (VPCs,
// subnets, EC2 Instance Connect Endpoints), instances.go (EC2 and managed
// instances), knobs.go (latency, throttle and fail rules), sso.go (IAM
// Identity Center: users, permission sets, assignments), generate.go
// (the generated fleet), builtin.go (the built-in account); this file holds
// the whole (File, Account), parsing, check's order and Resolve; roles.go
// (IAM roles, their trust, web identity and profiles); sessionprefs.go
// (Session Manager preferences: idle timeout, maximum session duration).
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/kms"
	"github.com/jitssh/jitssh/internal/sandbox/sso"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// File is the configuration file's content.
type File struct {
	Region  string `toml:"region"`
	Account string `toml:"account"`
	// Name is the account's name (alias), with an organization: the
	// management account's (default "management") or a member's (default
	// account-<id>), the AWS profile written for a member (org.go).
	Name string `toml:"name"`
	// Alias is the account's IAM account alias (iam:ListAccountAliases;
	// "" for none): 3 to 63 lowercase letters, digits and single hyphens,
	// neither first nor last, unique in the organization.
	Alias string `toml:"alias"`
	// Organization makes the account an organization's management account
	// with member accounts and several regions (org.go).
	Organization *OrgSpec `toml:"organization"`
	// SCPs name the service control policies in force, in order; absent
	// means the built-in FullAWSAccess and jitssh-scp, an empty list means
	// the account is in no organisation.
	SCPs *[]string `toml:"scps"`
	// Policies are custom policy documents by name, usable in SCPs and
	// identities next to the built-in ones (see BuiltinPolicies).
	Policies   map[string]PolicySpec `toml:"policies"`
	Identities []IdentitySpec        `toml:"identities"`
	// Roles are IAM roles assumable with STS (roles.go).
	Roles     []RoleSpec     `toml:"roles"`
	Instances []InstanceSpec `toml:"instances"`
	Generate  *GenerateSpec  `toml:"generate"`
	// VPCs, Subnets and Endpoints describe the network. Without subnets,
	// instances keep the subnet and VPC ids they name (or the built-in
	// ones) and nothing checks their addresses; with subnets, every
	// instance lies in one (inferred from its private IP when subnet_id is
	// not given) and EC2 Instance Connect Endpoints can be declared.
	VPCs      []VPCSpec      `toml:"vpcs"`
	Subnets   []SubnetSpec   `toml:"subnets"`
	Endpoints []EndpointSpec `toml:"endpoints"`
	// ManagedInstances are SSM managed (hybrid, mi-…) instances: servers
	// outside EC2 registered with an SSM activation.
	ManagedInstances []ManagedInstanceSpec `toml:"managed_instances"`
	// Latency and Throttle are per-API rules (package knobs), e.g.
	// "ec2:DescribeInstances" = "200ms" and "ssm:StartSession" = "25%".
	Latency  map[string]string `toml:"latency"`
	Throttle map[string]string `toml:"throttle"`
	// Fail are per-API rules of the throttle forms picking calls to
	// answer with HTTP 500 (the service's internal error).
	Fail map[string]string `toml:"fail"`
	// SSO, PermissionSets and SSOUsers describe the IAM Identity Center
	// (sso.go).
	SSO            SSOSpec             `toml:"sso"`
	PermissionSets []PermissionSetSpec `toml:"permission_sets"`
	SSOUsers       []SSOUserSpec       `toml:"sso_users"`
	// SessionPreferences are Session Manager's (sessionprefs.go).
	SessionPreferences SessionPrefsSpec `toml:"session_preferences"`
	// KMSKeys are the account's KMS keys (kmskeys.go).
	KMSKeys []KMSKeySpec `toml:"kms_keys"`

	dir string // for relative policy files
	// member marks a member account's or a regional block's file: no
	// identity is required.
	member bool
}

// Account is a resolved configuration, ready for world.New.
type Account struct {
	Region  string
	Account string
	// Alias is the account's IAM alias ("" for none).
	Alias string
	// Identities: the first is the default identity.
	Identities []world.Identity
	// Roles are the IAM roles; WebIdentity names the roles the sandbox's
	// OIDC issuer is trusted by (see WebIdentityTrust) and RoleProfiles
	// the AWS profiles to write for roles.
	Roles        []world.Role
	WebIdentity  map[string]WebIdentitySpec
	RoleProfiles []RoleProfile
	// SCPs are nil when the account is in no organisation.
	SCPs      []policy.Document
	Instances []world.Instance
	VPCs      []world.VPC
	Subnets   []world.Subnet
	Endpoints []world.Endpoint
	// Latency, Throttle and Fail are the per-API knob rules.
	Latency, Throttle, Fail map[string]string
	// SSOUsers and PermissionSets are the IAM Identity Center's directory;
	// SSOAccessTokenTTL and SSODeviceCodeTTL are its access tokens' and
	// device codes' lifetimes (0: the defaults).
	SSOUsers                            []sso.User
	PermissionSets                      []sso.PermissionSet
	SSOAccessTokenTTL, SSODeviceCodeTTL time.Duration
	// IdleSessionTimeout and MaxSessionDuration are the Session Manager
	// preferences (MaxSessionDuration 0: none).
	IdleSessionTimeout, MaxSessionDuration time.Duration
	// Org is the organization, for the management account's Account
	// (nil: one account in one region).
	Org *Org
	// KMSKeys are the account's KMS keys.
	KMSKeys []kms.Key
	// SessionKMSKey, RunAs and ShellProfile are the rest of the Session
	// Manager preferences (sessionprefs.go).
	SessionKMSKey string
	RunAs         RunAs
	ShellProfile  string
}

// Built-in defaults.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "123456789012"
	DefaultRole    = "JitsshDeveloper"
)

// Load reads and validates the configuration file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read sandbox configuration: %w", err)
	}
	f, err := Parse(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// UnknownKeyError: the configuration has a key the format does not know.
type UnknownKeyError struct {
	// Key is the key's dotted path ("identities.bogus").
	Key string
}

func (e *UnknownKeyError) Error() string { return fmt.Sprintf("unknown key %q", e.Key) }

// MaxFileBytes bounds a configuration file.
const MaxFileBytes = 4 << 20

// Parse decodes and validates a configuration; dir resolves relative
// policy files ("" forbids policy files).
func Parse(b []byte, dir string) (*File, error) {
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("configuration is %d bytes, more than %d", len(b), MaxFileBytes)
	}
	var f File
	md, err := toml.Decode(string(b), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("not valid TOML: line %d: %s", pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("not a valid sandbox configuration: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, &UnknownKeyError{Key: und[0].String()}
	}
	f.dir = dir
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

var (
	regionPattern     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	accountPattern    = regexp.MustCompile(`^\d{12}$`)
	profilePattern    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	roleNamePattern   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	sessionPattern    = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	userPathPattern   = regexp.MustCompile(`^([\w+=,.@-]{1,64}/){0,8}[\w+=,.@-]{1,64}$`)
	accessKeyPattern  = regexp.MustCompile(`^(AKIA|ASIA)[A-Z0-9]{16}$`)
	secretPattern     = regexp.MustCompile(`^[A-Za-z0-9/+]{40}$`)
	instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)
	azPattern         = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+[a-z]$`)
	tagKeyPattern     = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	tagValuePattern   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$`)
	resIDPattern      = regexp.MustCompile(`^(subnet|vpc|ami)-[0-9a-f]{8,17}$`)
	typePattern       = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	namePrefixPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,40}$`)
	endpointIDPattern = regexp.MustCompile(`^eice-[0-9a-f]{8,17}$`)
	jitGroupPattern   = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	// aliasPattern is IAM's ^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$
	// without the lookahead (the length is checked apart).
	aliasPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// check validates f and fills in its defaults, concern by concern.
func (f *File) check() error {
	if err := f.checkAccount(); err != nil {
		return err
	}
	if err := f.checkPolicies(); err != nil {
		return err
	}
	if err := f.checkIdentities(); err != nil {
		return err
	}
	if err := f.checkRoles(); err != nil {
		return err
	}
	if err := f.checkNetwork(); err != nil {
		return err
	}
	ids, err := f.checkInstances()
	if err != nil {
		return err
	}
	if err := f.checkKnobs(); err != nil {
		return err
	}
	if err := f.checkSSO(); err != nil {
		return err
	}
	if err := f.checkKMSKeys(); err != nil {
		return err
	}
	if err := f.checkSessionPrefs(); err != nil {
		return err
	}
	if err := f.checkGenerate(ids); err != nil {
		return err
	}
	if !f.member && f.Organization == nil && f.Name != "" {
		return errors.New("name: an account's name is for an organization's accounts; add [organization] or remove it")
	}
	if err := f.checkOrg(); err != nil {
		return err
	}
	return f.checkAliases()
}

// checkAccount validates the region and account id.
func (f *File) checkAccount() error {
	if f.Region == "" {
		f.Region = DefaultRegion
	}
	if f.Account == "" {
		f.Account = DefaultAccount
	}
	if !regionPattern.MatchString(f.Region) {
		return fmt.Errorf("region %q: want a region name like us-east-1", f.Region)
	}
	if !accountPattern.MatchString(f.Account) {
		return fmt.Errorf("account %q: want 12 digits", f.Account)
	}
	if f.Alias != "" && !ValidAlias(f.Alias) {
		return fmt.Errorf("alias %q: want an IAM account alias: 3 to 63 lowercase letters, digits and hyphens, neither first nor last, no two hyphens in a row", f.Alias)
	}
	return nil
}

// ValidAlias reports whether s is a valid IAM account alias (IAM's
// pattern ^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$).
func ValidAlias(s string) bool {
	return len(s) >= 3 && len(s) <= 63 && aliasPattern.MatchString(s)
}

// checkID checks an entry's id against pattern (want says what it asks
// for) and that no earlier entry has it, records it in ids, and returns
// where with the id, for the entry's other messages.
func checkID(where, id string, pattern *regexp.Regexp, want string, ids map[string]bool) (string, error) {
	if !pattern.MatchString(id) {
		return where, fmt.Errorf("%s: id %q: want %s", where, id, want)
	}
	where = fmt.Sprintf("%s (%s)", where, id)
	if ids[id] {
		return where, fmt.Errorf("%s: duplicate id", where)
	}
	ids[id] = true
	return where, nil
}

// checkTags checks the tags of the entry where: at most 50, keys and
// values as AWS allows.
func checkTags(tags map[string]string, where string) error {
	if len(tags) > 50 {
		return fmt.Errorf("%s: %d tags, at most 50", where, len(tags))
	}
	for k, v := range tags {
		if !tagKeyPattern.MatchString(k) || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return fmt.Errorf("%s: %q is not a valid tag key", where, k)
		}
		if !tagValuePattern.MatchString(v) {
			return fmt.Errorf("%s.%s: %q is not a valid tag value", where, k, v)
		}
	}
	return nil
}

// Resolve turns f into an Account. localUser names the default identity's
// role session when the file leaves it empty.
func (f *File) Resolve(localUser string) (*Account, error) {
	a := &Account{Region: f.Region, Account: f.Account, Alias: f.Alias}
	scps := []string{"FullAWSAccess", "jitssh-scp"}
	if f.SCPs != nil {
		scps = *f.SCPs
	}
	if len(scps) > 0 {
		a.SCPs = []policy.Document{}
	}
	for _, n := range scps {
		d, err := f.policy(n)
		if err != nil {
			return nil, err
		}
		a.SCPs = append(a.SCPs, d)
	}
	for i, spec := range f.Identities {
		id, err := f.identity(spec, localUser)
		if err != nil {
			return nil, fmt.Errorf("identities[%d] (%s): %w", i, spec.Name, err)
		}
		a.Identities = append(a.Identities, id)
	}
	if err := f.resolveRoles(a); err != nil {
		return nil, err
	}
	for _, spec := range f.Instances {
		a.Instances = append(a.Instances, f.instance(spec))
	}
	for _, v := range f.VPCs {
		a.VPCs = append(a.VPCs, world.VPC{ID: v.ID, CIDR: v.CIDR, Tags: v.Tags})
	}
	for _, sn := range f.Subnets {
		a.Subnets = append(a.Subnets, world.Subnet{ID: sn.ID, VpcID: sn.VpcID, CIDR: sn.CIDR, AZ: sn.AZ, Public: sn.Public, Tags: sn.Tags})
	}
	for _, e := range f.Endpoints {
		sn, _ := f.subnet(e.SubnetID)
		a.Endpoints = append(a.Endpoints, f.endpoint(e, sn))
	}
	for _, spec := range f.ManagedInstances {
		a.Instances = append(a.Instances, managedInstance(spec))
	}
	if f.Generate != nil && !f.Generate.org() {
		a.Instances = append(a.Instances, Generate(f.Region, f.Generate.NamePrefix, f.Generate.Count)...)
	}
	a.Latency, a.Throttle, a.Fail = f.Latency, f.Throttle, f.Fail
	keys, err := f.kmsKeys()
	if err != nil {
		return nil, err
	}
	a.KMSKeys = keys
	f.resolveSessionPrefs(a)
	if err := f.resolveSSO(a, localUser); err != nil {
		return nil, err
	}
	if err := f.resolveOrg(a, localUser); err != nil {
		return nil, err
	}
	return a, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
