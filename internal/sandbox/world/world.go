// Package world owns the in-memory state of the sandbox's simulated AWS
// account: identities, instances, pushed EC2 Instance Connect keys and SSM
// sessions. Every sandbox service reads and changes the account only through
// a *World, which is safe for concurrent use. A World is one account in one
// region; an Org (org.go) is an AWS Organization of accounts, each with a
// World per enabled region sharing the account's IAM state.
package world

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
)

// KeyLifetime is how long a key pushed with SendSSHPublicKey stays in IMDS,
// as on AWS.
const KeyLifetime = 60 * time.Second

// Identity is an IAM principal that can sign requests to the sandbox.
type Identity struct {
	AccessKeyID     string
	SecretAccessKey string
	// ARN is what GetCallerIdentity returns and what EIC records as #Caller,
	// e.g. arn:aws:sts::123456789012:assumed-role/Developer/alice.
	ARN string
	// UserID is GetCallerIdentity's UserId, e.g. AROAEXAMPLE:alice.
	UserID string
	// Tags are principal tags (aws:PrincipalTag/...).
	Tags map[string]string
	// Name is a short handle for the identity (the AWS profile name the
	// sandbox writes for it), e.g. "default" or "alice".
	Name string
	// Policies are the identity-based policies attached to the principal;
	// none means it may do nothing but sts:GetCallerIdentity.
	Policies []policy.Document
	// MFASerial is the ARN of the IAM user's virtual MFA device, if it
	// has one (see Config.MFADevices).
	MFASerial string

	// Temporary credentials (IssueSession) set the fields below; they are
	// zero for long-term keys.

	// SessionToken must accompany every request (X-Amz-Security-Token).
	SessionToken string
	// TokenIssueTime is when the credentials were issued (aws:TokenIssueTime).
	TokenIssueTime time.Time
	// Expiration is when they stop working (ExpiredToken).
	Expiration time.Time
	// MFAAuthTime is when the session's holder authenticated with MFA
	// (aws:MultiFactorAuthAge); zero means without MFA.
	MFAAuthTime time.Time
	// TransitiveTagKeys are the session tags that pass on to the sessions
	// of roles this session assumes (role chaining).
	TransitiveTagKeys []string
}

// Instance is one simulated EC2 instance.
type Instance struct {
	ID           string
	Hostname     string // what `hostname` prints on the instance
	State        string // "running", "stopped", ...
	PrivateIP    string
	PublicIP     string // empty for private-only instances
	PrivateDNS   string
	PublicDNS    string
	AZ           string
	SubnetID     string
	VpcID        string
	InstanceType string
	ImageID      string
	Platform     string // "" for Linux, "windows"
	LaunchTime   time.Time
	Tags         map[string]string // includes "Name"
	// SSMOnline reports whether the instance's SSM agent is connected.
	SSMOnline bool
	// Virtual instances exist only in the APIs (listing and resolution at
	// scale): the sandbox runs no IMDS and no SSH server for them, so a
	// session to one opens and is then closed by the agent.
	Virtual bool
	// Public asks the sandbox to give the instance a public IP from its
	// loopback block at start (PublicIP empty); see docs/sandbox.md.
	Public bool
	// Bastion instances run the embedded SSH server, which forwards
	// direct-tcpip channels to addresses in the instance's VPC.
	Bastion bool
	// JIT instances resolve unknown OS users through a jitssh-host
	// userdb service (just-in-time users), granting JITGroups; the
	// sandbox starts it (sandbox.Config.JIT).
	JIT       bool
	JITGroups []string
	// NoEIC instances run an image without EC2 Instance Connect: pushes
	// for them succeed at the API (EC2 cannot tell), but their sshd never
	// asks IMDS for the keys, so a pushed key does not log anybody in.
	NoEIC bool
	// Managed marks an SSM managed (hybrid) instance, id mi-…: known to
	// SSM (DescribeInstanceInformation, sessions, commands) but not to
	// EC2, without IMDS, so EC2 Instance Connect cannot reach it.
	Managed bool
	// LastPing is when the SSM agent last reported, for an agent that is
	// offline (zero: LaunchTime).
	LastPing time.Time
	// Role is the IAM role of the instance's profile, "" for none: IMDS
	// serves its credentials (iam/security-credentials/ROLE).
	Role string
	// LogGroup is the CloudWatch Logs group the instance's jitssh-host
	// ships its audit events to ("": none).
	LogGroup string
}

// VPC is a virtual private cloud.
type VPC struct {
	ID   string
	CIDR string // e.g. 10.0.0.0/16
	Tags map[string]string
}

// Subnet is a subnet of a VPC.
type Subnet struct {
	ID     string
	VpcID  string
	CIDR   string
	AZ     string
	Public bool // routes to an internet gateway: instances may have public IPs
	Tags   map[string]string
}

// Endpoint is an EC2 Instance Connect Endpoint.
type Endpoint struct {
	ID       string // eice-…
	SubnetID string
	VpcID    string
	AZ       string
	State    string // create-complete, …
	// DNSName and FipsDNSName are the names AWS gives the endpoint.
	DNSName     string
	FipsDNSName string
	// NetworkInterfaceID and SecurityGroupID are derived from the id.
	NetworkInterfaceID string
	SecurityGroupID    string
	PreserveClientIP   bool
	CreatedAt          time.Time
	Tags               map[string]string
}

// Name returns the instance's Name tag.
func (i Instance) Name() string { return i.Tags["Name"] }

// PushedKey is a public key published by SendSSHPublicKey.
type PushedKey struct {
	InstanceID string
	OSUser     string
	PublicKey  string // OpenSSH authorized_keys line
	Caller     string // IAM principal ARN of the pusher
	RequestID  string
	Expires    time.Time
}

// Session is an SSM session started with StartSession.
type Session struct {
	ID           string
	Token        string
	Target       string
	DocumentName string
	Parameters   map[string][]string
	Reason       string
	Caller       string
	// Owner is the aws:userid of the caller; AWS tags the session with it
	// (aws:ssmmessages:session-id), which policies use to let users end
	// and resume only their own sessions.
	Owner   string
	Started time.Time
	// RunAsTag is the caller's SSMSessionRunAs principal tag, the user
	// a Run As shell runs as ("" when untagged).
	RunAsTag string

	done     chan struct{}
	doneOnce *sync.Once    // a pointer so that Session values can be copied (go vet copylocks)
	endedAt  *atomic.Int64 // Unix nanoseconds of the end, 0 while live
}

// Done is closed when the session is terminated.
func (s *Session) Done() <-chan struct{} { return s.done }

func (s *Session) terminate() {
	s.doneOnce.Do(func() {
		if s.endedAt != nil {
			s.endedAt.Store(time.Now().UnixNano())
		}
		close(s.done)
	})
}

// Config seeds a World.
type Config struct {
	Region     string
	Account    string
	Identities []Identity
	// SCPs are the service control policies of the account's
	// organisation; nil means the account is in no organisation.
	SCPs      []policy.Document
	Instances []Instance
	// VPCs, Subnets and Endpoints describe the network; all optional.
	VPCs      []VPC
	Subnets   []Subnet
	Endpoints []Endpoint
	// Roles are the account's IAM roles and MFADevices its users'
	// virtual MFA devices.
	Roles      []Role
	MFADevices []MFADevice
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// IAM, when set, is the world of the same account in its home region:
	// IAM and STS state is global to an account, so this world's
	// identities, roles, MFA devices and temporary credentials are IAM's
	// (Identities, Roles and MFADevices must then be empty). See Org.
	IAM *World
	// AccountAlias is the account's IAM alias (iam:ListAccountAliases),
	// "" for none; IAM state, so empty when IAM is set.
	AccountAlias string
}

// World is the sandbox account's state.
type World struct {
	Region  string
	Account string
	// SCPs are the service control policies configured (nil: none); set
	// at creation. SCPsInForce is what applies now.
	SCPs []policy.Document
	now  func() time.Time
	// iam is the world holding the account's IAM state (Config.IAM), nil
	// for the home world itself.
	iam *World
	// alias is the account's IAM alias (Config.AccountAlias), set at
	// creation.
	alias string

	mu         sync.RWMutex
	identities map[string]*Identity // by access key id
	instances  []*Instance          // ordered by ID
	byID       map[string]*Instance
	keys       []PushedKey
	placed     []PlacedKey
	commands   map[string]*Command
	sessions   map[string]*Session
	resumed    map[string][]string // extra tokens by session id, see ResumeSession
	usedResume map[string]bool     // ResumeSession tokens a resumed data channel used (UseResumeToken)
	credCap    time.Duration       // SetCredentialLifetime
	vpcs       []VPC
	subnets    []Subnet
	endpoints  []Endpoint // ordered by ID
	roles      map[string]*Role
	mfa        map[string]*mfaState               // by serial
	temp       map[string]*Identity               // temporary credentials by access key id
	inline     map[string]map[string]InlinePolicy // roles' inline policies (rolepolicy.go)
	scps       *scpState                          // the organisation's SCPs when they change (scp.go)
	scpHome    *World                             // the world holding them (ShareSCPs), nil: this one or iam
	scpMembers []*World                           // the worlds sharing this one's SCPs (ShareSCPs)
}

// New returns a World seeded from cfg.
func New(cfg Config) (*World, error) {
	w := &World{
		Region:     cfg.Region,
		Account:    cfg.Account,
		SCPs:       cfg.SCPs,
		now:        cfg.Now,
		iam:        cfg.IAM,
		alias:      cfg.AccountAlias,
		identities: map[string]*Identity{},
		byID:       map[string]*Instance{},
		sessions:   map[string]*Session{},
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.Region == "" || w.Account == "" {
		return nil, fmt.Errorf("world: region and account are required")
	}
	if w.iam != nil && (len(cfg.Identities) > 0 || len(cfg.Roles) > 0 || len(cfg.MFADevices) > 0 || cfg.AccountAlias != "" || w.iam.Account != w.Account) {
		return nil, fmt.Errorf("world: %s in %s: a regional world takes its identities, roles, MFA devices and alias from its account's IAM world", w.Account, w.Region)
	}
	for i := range cfg.Identities {
		id := cfg.Identities[i]
		if id.AccessKeyID == "" || id.SecretAccessKey == "" || id.ARN == "" {
			return nil, fmt.Errorf("world: identity %d: access key, secret and ARN are required", i)
		}
		if _, dup := w.identities[id.AccessKeyID]; dup {
			return nil, fmt.Errorf("world: duplicate access key %s", id.AccessKeyID)
		}
		w.identities[id.AccessKeyID] = &id
	}
	for i := range cfg.Instances {
		in := cfg.Instances[i]
		if in.ID == "" {
			return nil, fmt.Errorf("world: instance %d has no ID", i)
		}
		if _, dup := w.byID[in.ID]; dup {
			return nil, fmt.Errorf("world: duplicate instance %s", in.ID)
		}
		if in.Tags == nil {
			in.Tags = map[string]string{}
		}
		w.instances = append(w.instances, &in)
		w.byID[in.ID] = &in
	}
	sort.Slice(w.instances, func(a, b int) bool { return w.instances[a].ID < w.instances[b].ID })
	w.vpcs = append([]VPC(nil), cfg.VPCs...)
	w.subnets = append([]Subnet(nil), cfg.Subnets...)
	w.endpoints = append([]Endpoint(nil), cfg.Endpoints...)
	seen := map[string]bool{}
	for _, e := range w.endpoints {
		if e.ID == "" || seen[e.ID] {
			return nil, fmt.Errorf("world: endpoint id %q is empty or repeated", e.ID)
		}
		seen[e.ID] = true
	}
	sort.Slice(w.endpoints, func(a, b int) bool { return w.endpoints[a].ID < w.endpoints[b].ID })
	if err := w.addRoles(cfg.Roles, cfg.MFADevices); err != nil {
		return nil, err
	}
	return w, nil
}

// VPCs returns the VPCs.
func (w *World) VPCs() []VPC { return append([]VPC(nil), w.vpcs...) }

// Subnets returns the subnets.
func (w *World) Subnets() []Subnet { return append([]Subnet(nil), w.subnets...) }

// VPC returns the VPC with the given id.
func (w *World) VPC(id string) (VPC, bool) {
	for _, v := range w.vpcs {
		if v.ID == id {
			return v, true
		}
	}
	return VPC{}, false
}

// Endpoints returns the EC2 Instance Connect Endpoints, ordered by ID.
func (w *World) Endpoints() []Endpoint { return append([]Endpoint(nil), w.endpoints...) }

// Endpoint returns the endpoint with the given id.
func (w *World) Endpoint(id string) (Endpoint, bool) {
	for _, e := range w.endpoints {
		if e.ID == id {
			return e, true
		}
	}
	return Endpoint{}, false
}

// Now returns the world's current time.
func (w *World) Now() time.Time { return w.now() }

// Identity returns the identity owning accessKeyID: a long-term key's, or
// temporary credentials' from IssueSession (SessionToken set, possibly
// expired: the caller checks the token and Expiration, as
// awsproto.Verifier does).
func (w *World) Identity(accessKeyID string) (Identity, bool) {
	if w.iam != nil {
		return w.iam.Identity(accessKeyID)
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	id, ok := w.identities[accessKeyID]
	if !ok {
		id, ok = w.temp[accessKeyID]
	}
	if !ok {
		return Identity{}, false
	}
	return *id, true
}

// AccountAlias returns the account's IAM alias, "" for none (IAM state:
// the home world's).
func (w *World) AccountAlias() string {
	if w.iam != nil {
		return w.iam.AccountAlias()
	}
	return w.alias
}

// Identities returns every long-term identity (not sessions), ordered by
// access key id.
func (w *World) Identities() []Identity {
	if w.iam != nil {
		return w.iam.Identities()
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]Identity, 0, len(w.identities))
	for _, id := range w.identities {
		out = append(out, *id)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].AccessKeyID < out[b].AccessKeyID })
	return out
}

// Instances returns a copy of every instance, ordered by ID.
func (w *World) Instances() []Instance {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]Instance, len(w.instances))
	for i, in := range w.instances {
		out[i] = *in
	}
	return out
}

// Instance returns a copy of the instance with the given ID.
func (w *World) Instance(id string) (Instance, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	in, ok := w.byID[id]
	if !ok {
		return Instance{}, false
	}
	return *in, true
}

// SetState changes an instance's state to "running" or "stopped", as
// StartInstances and StopInstances end up doing. Stopping ends the SSM
// sessions to the instance and its agent stops reporting. It returns the
// instance as changed.
func (w *World) SetState(id, state string) (Instance, error) {
	if state != "running" && state != "stopped" {
		return Instance{}, fmt.Errorf("state %q: want running or stopped", state)
	}
	w.mu.Lock()
	in, ok := w.byID[id]
	if !ok {
		w.mu.Unlock()
		return Instance{}, fmt.Errorf("no instance %s", id)
	}
	if in.State == "terminated" {
		w.mu.Unlock()
		return Instance{}, fmt.Errorf("instance %s is terminated", id)
	}
	if in.Managed && state == "stopped" {
		w.mu.Unlock()
		return Instance{}, fmt.Errorf("%s is a managed instance: SSM cannot stop it; take its agent offline instead", id)
	}
	if in.State == "running" && state != "running" && in.SSMOnline {
		in.LastPing = w.now()
	}
	in.State = state
	out := *in
	w.mu.Unlock()
	if state != "running" {
		w.terminateSessionsTo(id)
	}
	return out, nil
}

// SetSSMOnline connects or disconnects an instance's SSM agent. New
// sessions to an instance whose agent is offline fail with
// TargetNotConnected; live ones are not ended (AWS's service keeps them
// until the agent's websocket times out). It returns the instance as
// changed.
func (w *World) SetSSMOnline(id string, online bool) (Instance, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	in, ok := w.byID[id]
	if !ok {
		return Instance{}, fmt.Errorf("no instance %s", id)
	}
	if in.SSMOnline && !online && in.State == "running" {
		in.LastPing = w.now()
	}
	in.SSMOnline = online
	return *in, nil
}

// terminateSessionsTo ends every session whose target is id.
func (w *World) terminateSessionsTo(id string) {
	w.mu.RLock()
	var live []*Session
	for _, s := range w.sessions {
		if s.Target == id {
			live = append(live, s)
		}
	}
	w.mu.RUnlock()
	for _, s := range live {
		s.terminate()
	}
}

// PushKey publishes k; it expires KeyLifetime from now unless k.Expires is set.
func (w *World) PushKey(k PushedKey) PushedKey {
	if k.Expires.IsZero() {
		k.Expires = w.now().Add(KeyLifetime)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keys = append(filterKeys(w.keys[:0], w.keys, w.now(), "", ""), k)
	return k
}

// ActiveKeys returns the unexpired keys pushed for osUser on instanceID,
// oldest first.
func (w *World) ActiveKeys(instanceID, osUser string) []PushedKey {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return filterKeys(nil, w.keys, w.now(), instanceID, osUser)
}

// PlacedKey is a key placed in a managed instance's authorized keys by a
// command (SSM SendCommand), honoured by its SSH server until Expires.
type PlacedKey struct {
	InstanceID string
	OSUser     string
	PublicKey  string // OpenSSH authorized_keys line, without options
	Expires    time.Time
	CommandID  string
}

// PlaceKey adds k to its instance's authorized keys, dropping expired ones.
func (w *World) PlaceKey(k PlacedKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.placed = append(filterKeys(w.placed[:0], w.placed, w.now(), "", ""), k)
}

// PlacedKeys returns the unexpired keys placed for osUser on instanceID,
// oldest first.
func (w *World) PlacedKeys(instanceID, osUser string) []PlacedKey {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return filterKeys(nil, w.placed, w.now(), instanceID, osUser)
}

// key is what PushedKey and PlacedKey share: instance, OS user, expiry.
type key interface {
	facts() (string, string, time.Time)
}

func (k PushedKey) facts() (string, string, time.Time) { return k.InstanceID, k.OSUser, k.Expires }
func (k PlacedKey) facts() (string, string, time.Time) { return k.InstanceID, k.OSUser, k.Expires }

// filterKeys appends to dst the keys of all that are unexpired at now and,
// unless instanceID is "", for instanceID and osUser; dst may be all[:0].
func filterKeys[K key](dst, all []K, now time.Time, instanceID, osUser string) []K {
	for _, k := range all {
		in, user, exp := k.facts()
		if exp.After(now) && (instanceID == "" || in == instanceID && user == osUser) {
			dst = append(dst, k)
		}
	}
	return dst
}

// Command is an SSM command sent with SendCommand, and what each target
// made of it.
type Command struct {
	ID           string
	DocumentName string
	Comment      string
	Parameters   map[string][]string
	Requested    time.Time
	Caller       string
	Invocations  map[string]Invocation // by instance id
}

// Invocation is one instance's run of a command.
type Invocation struct {
	Status       string // Success, Failed
	ResponseCode int
	Stdout       string
	Stderr       string
	Start, End   time.Time
}

// AddCommand records c, giving it an id (a UUID, as AWS's), and returns
// it.
func (w *World) AddCommand(c Command) Command {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	x := hex.EncodeToString(b)
	c.ID = x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.commands == nil {
		w.commands = map[string]*Command{}
	}
	w.commands[c.ID] = &c
	return c
}

// Command returns the command with the given id.
func (w *World) Command(id string) (Command, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	c, ok := w.commands[id]
	if !ok {
		return Command{}, false
	}
	return *c, true
}

// StartSession records a new session for s.Target and returns it with ID,
// Token and Started filled in. callerName is used as the session id prefix,
// as AWS does (<caller-name>-<17 hex>).
func (w *World) StartSession(s Session, callerName string) *Session {
	if callerName == "" {
		callerName = "sandbox"
	}
	s.ID = callerName + "-" + randomHex(17)
	s.Token = "AAEAA" + randomHex(48)
	s.Started = w.now()
	s.done = make(chan struct{})
	s.doneOnce = new(sync.Once)
	s.endedAt = new(atomic.Int64)
	w.mu.Lock()
	defer w.mu.Unlock()
	p := &s
	w.sessions[s.ID] = p
	return p
}

// Session returns the session with the given ID.
func (w *World) Session(id string) (*Session, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	s, ok := w.sessions[id]
	return s, ok
}

// TerminateSession ends the session and reports whether it existed.
func (w *World) TerminateSession(id string) bool {
	w.mu.Lock()
	s, ok := w.sessions[id]
	w.mu.Unlock()
	if ok {
		s.terminate()
	}
	return ok
}

// randomHex returns n random lower-case hex digits.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)[:n]
}
