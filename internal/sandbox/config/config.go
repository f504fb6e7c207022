// Package config owns the sandbox's one-file description of an AWS account
// (TOML): region and account id, identities with access keys, principal
// tags and policies, the organisation's service control policies, and the
// instances, including a generated fleet for scale tests. Builtin is the
// default account `jitssh-sandbox up` runs without a file. Load and Parse
// reject anything malformed or unknown with an error naming the key.
package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// File is the configuration file's content.
type File struct {
	Region  string `toml:"region"`
	Account string `toml:"account"`
	// SCPs name the service control policies in force, in order; absent
	// means the built-in FullAWSAccess and jitssh-scp, an empty list means
	// the account is in no organisation.
	SCPs *[]string `toml:"scps"`
	// Policies are custom policy documents by name, usable in SCPs and
	// identities next to the built-in ones (see BuiltinPolicies).
	Policies   map[string]PolicySpec `toml:"policies"`
	Identities []IdentitySpec        `toml:"identities"`
	Instances  []InstanceSpec        `toml:"instances"`
	Generate   *GenerateSpec         `toml:"generate"`
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

	dir string // for relative policy files
}

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
}

// InstanceSpec is one instance.
type InstanceSpec struct {
	ID           string            `toml:"id"`
	Name         string            `toml:"name"`
	State        string            `toml:"state"` // default running
	PrivateIP    string            `toml:"private_ip"`
	PublicIP     string            `toml:"public_ip"`
	AZ           string            `toml:"az"`       // default <region>a
	SSM          string            `toml:"ssm"`      // online (default) or offline
	Platform     string            `toml:"platform"` // linux (default) or windows
	InstanceType string            `toml:"instance_type"`
	ImageID      string            `toml:"image_id"`
	SubnetID     string            `toml:"subnet_id"`
	VpcID        string            `toml:"vpc_id"`
	Tags         map[string]string `toml:"tags"`
	// Public gives the instance a public IP from the sandbox's loopback
	// block at start (127.X.Y.n, see docs/sandbox.md); it needs a public
	// subnet when subnets are declared. Exclusive with public_ip.
	Public bool `toml:"public"`
	// Bastion makes the instance's SSH server the embedded one, which
	// forwards ssh -J / -W connections (direct-tcpip) into its VPC.
	Bastion bool `toml:"bastion"`
	// JIT has the instance's OpenSSH sshd resolve unknown users through a
	// `jitssh-host userdb` service the sandbox starts (just-in-time users;
	// needs root and nss-systemd, see sandbox.Config.JIT); JITGroups are
	// the supplementary groups every such user gets.
	JIT       bool     `toml:"jit"`
	JITGroups []string `toml:"jit_groups"`
	// EIC = false: the instance's image lacks EC2 Instance Connect, so
	// pushed keys are accepted by the API and never used (default true).
	EIC *bool `toml:"eic"`
}

// VPCSpec is one VPC.
type VPCSpec struct {
	ID   string            `toml:"id"`
	CIDR string            `toml:"cidr"`
	Tags map[string]string `toml:"tags"`
}

// SubnetSpec is one subnet.
type SubnetSpec struct {
	ID    string `toml:"id"`
	VpcID string `toml:"vpc_id"`
	CIDR  string `toml:"cidr"`
	AZ    string `toml:"az"` // default <region>a
	// Public subnets route to an internet gateway: their instances may
	// have public IPs.
	Public bool              `toml:"public"`
	Tags   map[string]string `toml:"tags"`
}

// EndpointSpec is one EC2 Instance Connect Endpoint.
type EndpointSpec struct {
	ID               string            `toml:"id"`
	SubnetID         string            `toml:"subnet_id"`
	State            string            `toml:"state"` // default create-complete
	PreserveClientIP bool              `toml:"preserve_client_ip"`
	Tags             map[string]string `toml:"tags"`
}

// ManagedInstanceSpec is one SSM managed (hybrid) instance. It has its own
// SSH server and no IMDS; EC2 does not list it.
type ManagedInstanceSpec struct {
	ID        string            `toml:"id"` // mi- and 17 hex digits
	Name      string            `toml:"name"`
	IPAddress string            `toml:"ip_address"`
	SSM       string            `toml:"ssm"` // online (default) or offline
	Tags      map[string]string `toml:"tags"`
}

// GenerateSpec adds a fleet of API-only instances (world.Instance.Virtual)
// for scale: listing, filtering and resolution over thousands.
type GenerateSpec struct {
	Count      int    `toml:"count"`
	NamePrefix string `toml:"name_prefix"` // default "node"
}

// MaxGenerated bounds GenerateSpec.Count.
const MaxGenerated = 100_000

// Account is a resolved configuration, ready for world.New.
type Account struct {
	Region  string
	Account string
	// Identities: the first is the default identity.
	Identities []world.Identity
	// SCPs are nil when the account is in no organisation.
	SCPs      []policy.Document
	Instances []world.Instance
	VPCs      []world.VPC
	Subnets   []world.Subnet
	Endpoints []world.Endpoint
	// Latency, Throttle and Fail are the per-API knob rules.
	Latency, Throttle, Fail map[string]string
}

// Built-in defaults.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "123456789012"
	DefaultRole    = "JitsshDeveloper"
)

// BuiltinPolicies are the policy names every configuration can use.
var BuiltinPolicies = []string{"jitssh-user", "jitssh-scp", "FullAWSAccess", "AdministratorAccess"}

// BuiltinText is the built-in configuration, as a file would write it.
// The default identity's session name is the local user's, so jitssh logs
// in as the local user out of the box.
const BuiltinText = `# The jitssh sandbox's built-in account.
region = "us-east-1"
account = "123456789012"
scps = ["FullAWSAccess", "jitssh-scp"]

# The default identity (credentials in the env file): a developer whose role
# session name, and userName principal tag, is the local user's name
# ("developer" when the sandbox runs as root: never root).
[[identities]]
name = "default"
role = "JitsshDeveloper"
access_key_id = "AKIAJITSSHSANDBOX001"
policies = ["jitssh-user"]

[[identities]]
name = "alice"
role = "JitsshDeveloper"
session_name = "alice"
access_key_id = "AKIAJITSSHSANDBOX002"
policies = ["jitssh-user"]

# No policies at all: denied everything but sts:GetCallerIdentity.
[[identities]]
name = "nopolicy"
type = "user"
user = "nopolicy"
access_key_id = "AKIAJITSSHSANDBOX003"

# Administrator: allowed everything the SCP does not deny.
[[identities]]
name = "admin"
role = "Admin"
session_name = "admin"
access_key_id = "AKIAJITSSHSANDBOX004"
policies = ["AdministratorAccess"]

# The network: one VPC with a public and a private subnet. Public
# instances get a loopback "public" IP (127.X.Y.n) at start, where their
# SSH server listens: the sandbox's internet is loopback.
[[vpcs]]
id = "vpc-0a1b2c3d4e5f60001"
cidr = "10.0.0.0/16"

[[subnets]]
id = "subnet-0a1b2c3d4e5f60001"
vpc_id = "vpc-0a1b2c3d4e5f60001"
cidr = "10.0.1.0/24"
public = true

[[subnets]]
id = "subnet-0a1b2c3d4e5f60002"
vpc_id = "vpc-0a1b2c3d4e5f60001"
cidr = "10.0.2.0/24"

# An EC2 Instance Connect Endpoint in the private subnet: the websocket
# tunnel (/openTunnel) reaches port 22 of any instance in the VPC.
[[endpoints]]
id = "eice-0a1b2c3d4e5f60001"
subnet_id = "subnet-0a1b2c3d4e5f60002"

[[instances]]
id = "i-0a1b2c3d4e5f00001"
name = "web-1"
private_ip = "10.0.1.11"
public = true

# Just-in-time users: its sshd creates any user with a valid pushed key on
# first login (jitssh-sandbox up runs jitssh-host userdb for it as root,
# with nss-systemd), e.g. ssh alice@web-2 with the alice profile.
[[instances]]
id = "i-0a1b2c3d4e5f00002"
name = "web-2"
private_ip = "10.0.1.12"
public = true
jit = true
jit_groups = ["users"]

[[instances]]
id = "i-0a1b2c3d4e5f00003"
name = "db-1"
private_ip = "10.0.2.21"

# A bastion: ssh -J bastion-1 reaches the private instances.
[[instances]]
id = "i-0a1b2c3d4e5f00004"
name = "bastion-1"
private_ip = "10.0.1.10"
public = true
bastion = true

# SSM agent offline: reachable only through the endpoint or the bastion.
[[instances]]
id = "i-0a1b2c3d4e5f00005"
name = "app-1"
private_ip = "10.0.2.31"
ssm = "offline"

[[instances]]
id = "i-0a1b2c3d4e5f00006"
name = "old-1"
private_ip = "10.0.2.41"
state = "stopped"

# An image without EC2 Instance Connect: SendSSHPublicKey succeeds (EC2
# cannot tell), but its sshd never asks for pushed keys.
[[instances]]
id = "i-0a1b2c3d4e5f00008"
name = "legacy-1"
private_ip = "10.0.2.51"
eic = false

# An on-premises server registered with SSM (a hybrid activation): SSM
# lists it and opens sessions to it; EC2 and EC2 Instance Connect do not
# know it.
[[managed_instances]]
id = "mi-0a1b2c3d4e5f00001"
name = "onprem-1"
ip_address = "192.168.10.21"
`

// Builtin returns the built-in configuration.
func Builtin() *File {
	f, err := Parse([]byte(BuiltinText), "")
	if err != nil {
		panic("config: built-in configuration: " + err.Error())
	}
	return f
}

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
		return nil, fmt.Errorf("unknown key %q (see jitssh-sandbox up --help for the format)", und[0].String())
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
)

// EndpointStates are the states an EC2 Instance Connect Endpoint can be in.
var EndpointStates = []string{"create-in-progress", "create-complete", "create-failed", "delete-in-progress",
	"delete-complete", "delete-failed", "update-in-progress", "update-complete", "update-failed"}

// checkNetwork validates the VPCs, subnets and endpoints.
func (f *File) checkNetwork() error {
	vpcs := map[string]netip.Prefix{}
	for i, v := range f.VPCs {
		where := fmt.Sprintf("vpcs[%d]", i)
		if !strings.HasPrefix(v.ID, "vpc-") || !resIDPattern.MatchString(v.ID) {
			return fmt.Errorf("%s: id %q: want vpc- and 8 or 17 lower-case hex digits", where, v.ID)
		}
		where = fmt.Sprintf("vpcs[%d] (%s)", i, v.ID)
		if _, dup := vpcs[v.ID]; dup {
			return fmt.Errorf("%s: duplicate id", where)
		}
		p, err := privateCIDR(v.CIDR, 16, 28)
		if err != nil {
			return fmt.Errorf("%s: cidr: %w", where, err)
		}
		vpcs[v.ID] = p
		if err := checkTags(v.Tags, where+".tags"); err != nil {
			return err
		}
	}
	if len(f.Subnets) > 0 && len(f.VPCs) == 0 {
		return errors.New("[[subnets]] need their [[vpcs]]: declare the VPC (id and cidr) each subnet's vpc_id names")
	}
	subnets := map[string]bool{}
	for i := range f.Subnets {
		sn := &f.Subnets[i]
		where, err := checkID(fmt.Sprintf("subnets[%d]", i), sn.ID, subnetIDPattern, "subnet- and 8 or 17 lower-case hex digits", subnets)
		if err != nil {
			return err
		}
		vp, ok := vpcs[sn.VpcID]
		if !ok {
			return fmt.Errorf("%s: vpc_id %q names no [[vpcs]] entry", where, sn.VpcID)
		}
		p, err := privateCIDR(sn.CIDR, 16, 28)
		if err != nil {
			return fmt.Errorf("%s: cidr: %w", where, err)
		}
		if !vp.Contains(p.Addr()) || p.Bits() < vp.Bits() {
			return fmt.Errorf("%s: cidr %s is not inside its VPC's %s", where, p, vp)
		}
		for _, other := range f.Subnets[:i] {
			if op, err := netip.ParsePrefix(other.CIDR); err == nil && other.VpcID == sn.VpcID && op.Overlaps(p) {
				return fmt.Errorf("%s: cidr %s overlaps subnet %s (%s)", where, p, other.ID, op)
			}
		}
		if sn.AZ == "" {
			sn.AZ = f.Region + "a"
		}
		if !azPattern.MatchString(sn.AZ) || !strings.HasPrefix(sn.AZ, f.Region) {
			return fmt.Errorf("%s: az %q: want an availability zone of %s", where, sn.AZ, f.Region)
		}
		if err := checkTags(sn.Tags, where+".tags"); err != nil {
			return err
		}
	}
	if len(f.Endpoints) > 0 && len(f.Subnets) == 0 {
		return errors.New("[[endpoints]] need [[subnets]] (and [[vpcs]]): an endpoint lives in a subnet")
	}
	eps := map[string]bool{}
	for i := range f.Endpoints {
		e := &f.Endpoints[i]
		where, err := checkID(fmt.Sprintf("endpoints[%d]", i), e.ID, endpointIDPattern, "eice- and 8 to 17 lower-case hex digits", eps)
		if err != nil {
			return err
		}
		if !subnets[e.SubnetID] {
			return fmt.Errorf("%s: subnet_id %q names no [[subnets]] entry", where, e.SubnetID)
		}
		if e.State == "" {
			e.State = "create-complete"
		}
		known := false
		for _, st := range EndpointStates {
			known = known || st == e.State
		}
		if !known {
			return fmt.Errorf("%s: state %q: want one of %s", where, e.State, strings.Join(EndpointStates, ", "))
		}
		if err := checkTags(e.Tags, where+".tags"); err != nil {
			return err
		}
	}
	return nil
}

// privateCIDR parses an IPv4 RFC 1918 CIDR block with a prefix length
// from minBits to maxBits, given in its canonical form.
func privateCIDR(s string, minBits, maxBits int) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || !p.Addr().IsPrivate() {
		return netip.Prefix{}, fmt.Errorf("%q: want a private IPv4 CIDR block like 10.0.0.0/16", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q: host bits are set; did you mean %s?", s, p.Masked())
	}
	if p.Bits() < minBits || p.Bits() > maxBits {
		return netip.Prefix{}, fmt.Errorf("%q: the prefix length must be /%d to /%d", s, minBits, maxBits)
	}
	return p, nil
}

// subnet returns the declared subnet with the given id.
func (f *File) subnet(id string) (SubnetSpec, bool) {
	for _, sn := range f.Subnets {
		if sn.ID == id {
			return sn, true
		}
	}
	return SubnetSpec{}, false
}

// checkAddresses checks that no two instances of a VPC share a private IP
// (the sandbox routes by it) and no two a public IP.
func (f *File) checkAddresses() error {
	priv, pub := map[string]string{}, map[string]string{}
	for _, in := range f.Instances {
		k := or(in.VpcID, "vpc-0a1b2c3d4e5f60001") + " " + in.PrivateIP
		if other, dup := priv[k]; dup {
			return fmt.Errorf("instances %s and %s: both have private_ip %s in the same VPC", other, in.ID, in.PrivateIP)
		}
		priv[k] = in.ID
		if in.PublicIP != "" {
			if other, dup := pub[in.PublicIP]; dup {
				return fmt.Errorf("instances %s and %s: both have public_ip %s", other, in.ID, in.PublicIP)
			}
			pub[in.PublicIP] = in.ID
		}
	}
	return nil
}

func (f *File) check() error {
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
	if len(f.Identities) == 0 {
		return errors.New("no [[identities]]: the first one is the default identity and is required")
	}
	names, keys := map[string]bool{}, map[string]bool{}
	for i := range f.Identities {
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
	}
	if err := f.checkNetwork(); err != nil {
		return err
	}
	ids := map[string]bool{}
	for i := range f.Instances {
		if err := f.checkInstance(i, ids); err != nil {
			return err
		}
	}
	if err := f.checkAddresses(); err != nil {
		return err
	}
	for i := range f.ManagedInstances {
		if err := f.checkManaged(i, ids); err != nil {
			return err
		}
	}
	if err := knobs.CheckLatency(f.Latency); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if err := knobs.CheckThrottle(f.Throttle); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if err := knobs.CheckFail(f.Fail); err != nil {
		return fmt.Errorf("fail: %w", err)
	}
	if g := f.Generate; g != nil {
		if g.Count < 0 || g.Count > MaxGenerated {
			return fmt.Errorf("generate.count %d: want 0 to %d", g.Count, MaxGenerated)
		}
		if g.NamePrefix == "" {
			g.NamePrefix = "node"
		}
		if !namePrefixPattern.MatchString(g.NamePrefix) {
			return fmt.Errorf("generate.name_prefix %q: want letters, digits and -", g.NamePrefix)
		}
		for _, in := range Generate(f.Region, g.NamePrefix, g.Count) {
			if ids[in.ID] {
				return fmt.Errorf("instance %s: the id is also one of the %d generated ones (i-0f…); choose another", in.ID, g.Count)
			}
		}
	}
	return nil
}

func (f *File) checkInstance(i int, ids map[string]bool) error {
	in := &f.Instances[i]
	where, err := checkID(fmt.Sprintf("instances[%d]", i), in.ID, instanceIDPattern, "i- and 8 or 17 lower-case hex digits", ids)
	if err != nil {
		return err
	}
	switch in.State {
	case "":
		in.State = "running"
	case "pending", "running", "stopping", "stopped", "shutting-down", "terminated":
	default:
		return fmt.Errorf("%s: state %q: want pending, running, stopping, stopped, shutting-down or terminated", where, in.State)
	}
	switch in.SSM {
	case "":
		in.SSM = "online"
	case "online", "offline":
	default:
		return fmt.Errorf("%s: ssm %q: want online or offline", where, in.SSM)
	}
	switch in.Platform {
	case "", "linux", "windows":
	default:
		return fmt.Errorf("%s: platform %q: want linux or windows", where, in.Platform)
	}
	ip, err := netip.ParseAddr(in.PrivateIP)
	if err != nil || !ip.Is4() || !ip.IsPrivate() {
		return fmt.Errorf("%s: private_ip %q: want a private IPv4 address", where, in.PrivateIP)
	}
	if in.PublicIP != "" {
		// Loopback is allowed: it is what the sandbox itself hands out
		// (public = true), and an explicit one is the user's choice.
		if ip, err := netip.ParseAddr(in.PublicIP); err != nil || !ip.Is4() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsMulticast() {
			return fmt.Errorf("%s: public_ip %q: want a public (or loopback) IPv4 address", where, in.PublicIP)
		}
		if in.Public {
			return fmt.Errorf("%s: set public = true (an address from the sandbox's loopback block) or public_ip, not both", where)
		}
	}
	if len(f.Subnets) > 0 {
		if err := f.placeInstance(in, ip, where); err != nil {
			return err
		}
	}
	if in.Bastion && in.Platform == "windows" {
		return fmt.Errorf("%s: a bastion runs the sandbox's SSH server; it cannot be a windows instance", where)
	}
	if in.JIT && (in.Bastion || in.Platform == "windows") {
		return fmt.Errorf("%s: jit = true needs a linux instance running OpenSSH sshd (not a bastion or windows)", where)
	}
	if in.EIC != nil && !*in.EIC && (in.JIT || in.Bastion) {
		return fmt.Errorf("%s: eic = false leaves no way to log in with a pushed key; it cannot be combined with jit or bastion", where)
	}
	if len(in.JITGroups) > 0 && !in.JIT {
		return fmt.Errorf("%s: jit_groups without jit = true", where)
	}
	for _, g := range in.JITGroups {
		if !jitGroupPattern.MatchString(g) {
			return fmt.Errorf("%s: jit_groups: %q is not a group name (lower case, at most 32 characters)", where, g)
		}
	}
	if in.AZ == "" {
		in.AZ = f.Region + "a"
	}
	if !azPattern.MatchString(in.AZ) || !strings.HasPrefix(in.AZ, f.Region) {
		return fmt.Errorf("%s: az %q: want an availability zone of %s", where, in.AZ, f.Region)
	}
	for field, v := range map[string]string{"subnet_id": in.SubnetID, "vpc_id": in.VpcID, "image_id": in.ImageID} {
		if v != "" && !resIDPattern.MatchString(v) {
			return fmt.Errorf("%s: %s %q is not a valid id", where, field, v)
		}
	}
	if in.InstanceType != "" && !typePattern.MatchString(in.InstanceType) {
		return fmt.Errorf("%s: instance_type %q: want e.g. t3.micro", where, in.InstanceType)
	}
	if _, ok := in.Tags["Name"]; ok && in.Name != "" {
		return fmt.Errorf("%s: set name or tags.Name, not both", where)
	}
	if err := checkTags(in.Tags, where+".tags"); err != nil {
		return err
	}
	if in.Name != "" && !tagValuePattern.MatchString(in.Name) {
		return fmt.Errorf("%s: name %q is not a valid tag value", where, in.Name)
	}
	return nil
}

// placeInstance puts in into its declared subnet: the one it names, else
// the one whose block holds its private IP; the VPC and AZ follow.
func (f *File) placeInstance(in *InstanceSpec, ip netip.Addr, where string) error {
	if in.SubnetID == "" {
		for _, sn := range f.Subnets {
			if p, err := netip.ParsePrefix(sn.CIDR); err == nil && p.Contains(ip) {
				if in.VpcID == "" || in.VpcID == sn.VpcID {
					in.SubnetID = sn.ID
					break
				}
			}
		}
		if in.SubnetID == "" {
			return fmt.Errorf("%s: private_ip %s is in no declared subnet; set subnet_id or add a [[subnets]] entry whose cidr holds it", where, ip)
		}
	}
	sn, ok := f.subnet(in.SubnetID)
	if !ok {
		return fmt.Errorf("%s: subnet_id %q names no [[subnets]] entry", where, in.SubnetID)
	}
	if p, _ := netip.ParsePrefix(sn.CIDR); !p.Contains(ip) {
		return fmt.Errorf("%s: private_ip %s is not in subnet %s (%s)", where, ip, sn.ID, sn.CIDR)
	}
	if in.VpcID != "" && in.VpcID != sn.VpcID {
		return fmt.Errorf("%s: vpc_id %s, but subnet %s is in %s", where, in.VpcID, sn.ID, sn.VpcID)
	}
	in.VpcID = sn.VpcID
	if in.AZ != "" && in.AZ != sn.AZ {
		return fmt.Errorf("%s: az %s, but subnet %s is in %s", where, in.AZ, sn.ID, sn.AZ)
	}
	in.AZ = sn.AZ
	if (in.Public || in.PublicIP != "") && !sn.Public {
		return fmt.Errorf("%s: a public IP needs a public subnet, and %s is private (set public = true on the subnet, or move the instance)", where, sn.ID)
	}
	return nil
}

var (
	managedIDPattern = regexp.MustCompile(`^mi-[0-9a-f]{17}$`)
	subnetIDPattern  = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`) // resIDPattern's subnet ids
)

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

func (f *File) checkManaged(i int, ids map[string]bool) error {
	in := &f.ManagedInstances[i]
	where, err := checkID(fmt.Sprintf("managed_instances[%d]", i), in.ID, managedIDPattern, "mi- and 17 lower-case hex digits", ids)
	if err != nil {
		return err
	}
	switch in.SSM {
	case "":
		in.SSM = "online"
	case "online", "offline":
	default:
		return fmt.Errorf("%s: ssm %q: want online or offline", where, in.SSM)
	}
	if ip, err := netip.ParseAddr(in.IPAddress); err != nil || !ip.Is4() || ip.IsLoopback() || ip.IsUnspecified() {
		return fmt.Errorf("%s: ip_address %q: want an IPv4 address", where, in.IPAddress)
	}
	if in.Name == "" || len(in.Name) > 63 || !hostLabelPattern.MatchString(in.Name) {
		return fmt.Errorf("%s: name %q: want a host name (letters, digits and -), it is the server's computer name", where, in.Name)
	}
	if _, ok := in.Tags["Name"]; ok {
		return fmt.Errorf("%s: set name, not tags.Name", where)
	}
	return checkTags(in.Tags, where+".tags")
}

var hostLabelPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)

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

func isBuiltinPolicy(name string) bool {
	for _, b := range BuiltinPolicies {
		if b == name {
			return true
		}
	}
	return false
}

// policy returns the document named name.
func (f *File) policy(name string) (policy.Document, error) {
	o := policy.Options{Region: f.Region, Account: f.Account}
	switch name {
	case "jitssh-user":
		return policy.User(o), nil
	case "jitssh-scp":
		return policy.SCP(o), nil
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

// SetGenerate sets the generated fleet and validates f again.
func (f *File) SetGenerate(g GenerateSpec) error {
	f.Generate = &g
	return f.check()
}

// Resolve turns f into an Account. localUser names the default identity's
// role session when the file leaves it empty.
func (f *File) Resolve(localUser string) (*Account, error) {
	a := &Account{Region: f.Region, Account: f.Account}
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
	if f.Generate != nil {
		a.Instances = append(a.Instances, Generate(f.Region, f.Generate.NamePrefix, f.Generate.Count)...)
	}
	a.Latency, a.Throttle, a.Fail = f.Latency, f.Throttle, f.Fail
	return a, nil
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

// Launch is the launch time of configured instances.
var launch = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func (f *File) instance(s InstanceSpec) world.Instance {
	host := "ip-" + strings.ReplaceAll(s.PrivateIP, ".", "-")
	in := world.Instance{
		ID: s.ID, Hostname: host, State: s.State, PrivateIP: s.PrivateIP,
		PrivateDNS: host + "." + internalDomain(f.Region), AZ: s.AZ,
		SubnetID: or(s.SubnetID, "subnet-0a1b2c3d4e5f60001"), VpcID: or(s.VpcID, "vpc-0a1b2c3d4e5f60001"),
		InstanceType: or(s.InstanceType, "t3.micro"), ImageID: or(s.ImageID, "ami-0a1b2c3d4e5f60001"),
		LaunchTime: launch, Tags: map[string]string{}, SSMOnline: s.SSM == "online",
	}
	if s.Platform == "windows" {
		in.Platform = "windows"
	}
	for k, v := range s.Tags {
		in.Tags[k] = v
	}
	if s.Name != "" {
		in.Tags["Name"] = s.Name
	}
	if s.PublicIP != "" {
		in.PublicIP = s.PublicIP
		in.PublicDNS = PublicDNS(f.Region, s.PublicIP)
	}
	in.Public, in.Bastion = s.Public, s.Bastion
	in.JIT, in.JITGroups = s.JIT, append([]string(nil), s.JITGroups...)
	in.NoEIC = s.EIC != nil && !*s.EIC
	return in
}

// PublicDNS returns the public DNS name EC2 gives an address in region.
func PublicDNS(region, ip string) string {
	return "ec2-" + strings.ReplaceAll(ip, ".", "-") + "." + publicDomain(region)
}

// endpoint resolves an endpoint in subnet sn. Its DNS name has AWS's
// shape, eice-ID.HASH.ec2-instance-connect-endpoint.REGION.amazonaws.com;
// clients never resolve it against the sandbox (they use the endpoint URL).
func (f *File) endpoint(e EndpointSpec, sn SubnetSpec) world.Endpoint {
	h := fnv(e.ID)
	domain := "ec2-instance-connect-endpoint." + f.Region + ".amazonaws.com"
	tags := map[string]string{}
	for k, v := range e.Tags {
		tags[k] = v
	}
	return world.Endpoint{
		ID: e.ID, SubnetID: e.SubnetID, VpcID: sn.VpcID, AZ: sn.AZ, State: e.State,
		DNSName:            fmt.Sprintf("%s.%08x.%s", e.ID, uint32(h), domain),
		FipsDNSName:        fmt.Sprintf("%s.%08x.fips.%s", e.ID, uint32(h), domain),
		NetworkInterfaceID: fmt.Sprintf("eni-%017x", h>>4),
		SecurityGroupID:    fmt.Sprintf("sg-%017x", (h>>8)^0x5a5a5a5a),
		PreserveClientIP:   e.PreserveClientIP,
		CreatedAt:          launch,
		Tags:               tags,
	}
}

func fnv(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// registered is when the configured managed instances registered.
var registered = time.Date(2026, 10, 15, 8, 30, 0, 0, time.UTC)

func managedInstance(s ManagedInstanceSpec) world.Instance {
	in := world.Instance{
		ID: s.ID, Hostname: s.Name, State: "running", PrivateIP: s.IPAddress,
		LaunchTime: registered, Tags: map[string]string{"Name": s.Name},
		SSMOnline: s.SSM == "online", Managed: true,
	}
	for k, v := range s.Tags {
		in.Tags[k] = v
	}
	return in
}

func internalDomain(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

func publicDomain(region string) string {
	if region == "us-east-1" {
		return "compute-1.amazonaws.com"
	}
	return region + ".compute.amazonaws.com"
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Generate returns n API-only instances named PREFIX-00001 …, with ids
// i-0f00000000000001 … (above any hand-written id in the examples), spread
// over three AZs, tagged env (prod, staging, dev) and role (web, db,
// worker); every 20th is stopped and every 10th has its SSM agent offline,
// so filters have something to select.
func Generate(region, prefix string, n int) []world.Instance {
	out := make([]world.Instance, n)
	envs := []string{"prod", "staging", "dev"}
	roles := []string{"web", "db", "worker"}
	azs := []string{"a", "b", "c"}
	for i := range out {
		k := i + 1
		ip := fmt.Sprintf("10.%d.%d.%d", 100+k/65536, (k/256)%256, k%256)
		host := "ip-" + strings.ReplaceAll(ip, ".", "-")
		in := world.Instance{
			ID: fmt.Sprintf("i-0f%015x", k), Hostname: host, State: "running", PrivateIP: ip,
			PrivateDNS: host + "." + internalDomain(region), AZ: region + azs[i%3],
			SubnetID: fmt.Sprintf("subnet-0f%015x", i%3+1), VpcID: "vpc-0f000000000000001",
			InstanceType: "t3.micro", ImageID: "ami-0a1b2c3d4e5f60001", LaunchTime: launch,
			Tags: map[string]string{
				"Name": fmt.Sprintf("%s-%05d", prefix, k), "env": envs[i%3], "role": roles[(i/3)%3],
			},
			SSMOnline: k%10 != 0,
			Virtual:   true,
		}
		if k%20 == 0 {
			in.State = "stopped"
		}
		out[i] = in
	}
	return out
}
