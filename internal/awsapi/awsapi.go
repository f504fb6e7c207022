// Package awsapi is the only place the client imports AWS SDK service
// packages (but for internal/ssologin, IAM Identity Center's sign-in). It loads the SDK configuration (profiles, SSO, environment,
// AWS_ENDPOINT_URL, ...) and wraps the few calls jitssh makes — EC2
// DescribeInstances and DescribeInstanceConnectEndpoints, EC2 Instance
// Connect SendSSHPublicKey (and OpenTunnel's signing configuration), SSM
// StartSession/TerminateSession, SendCommand/GetCommandInvocation (key
// placement on managed instances), STS GetCallerIdentity, IAM
// SimulatePrincipalPolicy (`jitssh doctor`'s permission check) and
// ListAccountAliases (ls over a scope) — returning
// jitssh's own types and turning AWS errors into messages that say what to
// do.
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Options selects the AWS configuration. Empty fields defer to the SDK's
// usual sources (AWS_REGION, AWS_PROFILE, ~/.aws/config, ...).
type Options struct {
	Region  string
	Profile string
	// MaxAttempts bounds the SDK's standard retryer (throttling and
	// transient errors are retried with jittered exponential backoff);
	// 0 means DefaultMaxAttempts.
	MaxAttempts int
	// MaxBackoff caps the retryer's backoff between attempts; 0 means
	// 5 seconds.
	MaxBackoff time.Duration
	// CallTimeout bounds each call, its retries included, so that no
	// command waits silently for an AWS endpoint that does not answer; 0
	// means DefaultCallTimeout.
	CallTimeout time.Duration
	// MFACode answers the MFA prompt of a role profile with mfa_serial
	// (scripts: `jitssh login --mfa-code`); empty: ask on the terminal
	// when no cached credentials will do.
	MFACode string
	// BeforePrompt is called before the MFA prompt is written to the
	// terminal (to erase a status line).
	BeforePrompt func()
	// NoPrompt: never ask for an MFA code (shell completion): without a
	// cached session, an MFA profile's credentials fail with
	// awscreds.NoTerminalError.
	NoPrompt bool
	// Credentials, if set, are used instead of the profile's (a role
	// reached through an SSO session, ssologin.RoleProvider); the profile
	// still gives the endpoints and other settings.
	Credentials aws.CredentialsProvider
	// ConfigFile, if set, is the shared config file read once for many
	// clients (ReadConfigFile): the SDK is given only the profile's part
	// of it to parse.
	ConfigFile *ConfigFile
}

// DefaultCallTimeout is how long one call (with its retries) may take.
const DefaultCallTimeout = 30 * time.Second

// CallTimeoutError is a call that AWS did not answer within the call
// timeout. Each call is logged as it is made, which the command line may
// point at.
type CallTimeoutError struct {
	After time.Duration
	Err   error
}

func (e *CallTimeoutError) Error() string {
	return fmt.Sprintf("no answer from AWS within %v: a slow or blocked network path to the AWS endpoint (proxy, VPN, firewall) or heavy throttling", e.After)
}

func (e *CallTimeoutError) Unwrap() error { return e.Err }

// callTimeout is the SDK middleware bounding each operation by d.
func callTimeout(d time.Duration) func(*smithymiddleware.Stack) error {
	return func(s *smithymiddleware.Stack) error {
		return s.Initialize.Add(smithymiddleware.InitializeMiddlewareFunc("jitsshCallTimeout",
			func(ctx context.Context, in smithymiddleware.InitializeInput, next smithymiddleware.InitializeHandler) (smithymiddleware.InitializeOutput, smithymiddleware.Metadata, error) {
				tctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				out, md, err := next.HandleInitialize(tctx, in)
				if err != nil && ctx.Err() == nil && tctx.Err() == context.DeadlineExceeded {
					err = &CallTimeoutError{After: d, Err: err}
				}
				return out, md, err
			}), smithymiddleware.Before)
	}
}

// DefaultMaxAttempts is how often a throttled or transiently failing call
// is tried in all.
const DefaultMaxAttempts = 6

// Client holds the service clients jitssh uses.
type Client struct {
	Region string
	// The service clients, each made on first use: a scope search makes
	// clients for hundreds of locations and calls one service in most.
	ec2   func() *ec2.Client
	eic   func() *ec2instanceconnect.Client
	ssm   func() *ssm.Client
	sts   func() *sts.Client
	iam   func() *iam.Client
	kms   func() *kms.Client // encrypted SSM sessions' data keys (kms.go)
	org   func() *organizations.Client
	creds aws.CredentialsProvider // the SDK's cached provider (credentials.go)
	// http dials the websockets (network.go); ssmMessages is the
	// ssmmessages endpoint override, "" for none.
	http        *http.Client
	ssmMessages string
	// audit's clients (audit.go)
	cloudtrail func() *cloudtrail.Client
	logs       func() *cloudwatchlogs.Client
	cfg        aws.Config // what the clients were made from (InRegion)
	// profileSSO says whether the profile the SDK read signs in with IAM
	// Identity Center (sso_session or sso_start_url), if it read one.
	profileSSO ssoKind
}

// ssoKind is what the SDK's reading of a profile says of IAM Identity
// Center.
type ssoKind int

const (
	ssoUnknown ssoKind = iota // no profile read (credentials from the environment)
	ssoNo
	ssoYes
)

// ProfileUsesSSO reports whether the profile the clients were made from
// signs in with IAM Identity Center itself (sso_session or
// sso_start_url; a role profile chained on one does not), and whether
// that is known: false when no profile was read.
func (c *Client) ProfileUsesSSO() (sso, known bool) {
	return c.profileSSO == ssoYes, c.profileSSO != ssoUnknown
}

// InRegion returns the same profile's clients for another region: the
// same configuration and credentials (one role session, one MFA prompt or
// SSO token for every region), no files read again.
func (c *Client) InRegion(region string) *Client {
	if region == c.Region || c.cfg.Credentials == nil {
		return c
	}
	return c.build(c.cfg.Copy(), region)
}

func (c *Client) build(cfg aws.Config, region string) *Client {
	cfg.Region = region
	return &Client{
		http:        c.http,
		ssmMessages: c.ssmMessages,
		profileSSO:  c.profileSSO,
		Region:      region,
		ec2:         lazy(cfg, ec2.NewFromConfig),
		eic:         lazy(cfg, ec2instanceconnect.NewFromConfig),
		ssm:         lazy(cfg, ssm.NewFromConfig),
		sts:         lazy(cfg, sts.NewFromConfig),
		iam:         lazy(cfg, iam.NewFromConfig),
		kms:         lazy(cfg, kms.NewFromConfig),
		org:         lazy(cfg, organizations.NewFromConfig),
		creds:       cfg.Credentials,
		cloudtrail:  lazy(cfg, cloudtrail.NewFromConfig),
		logs:        lazy(cfg, cloudwatchlogs.NewFromConfig),
		cfg:         cfg,
	}
}

// lazy is a service client made from cfg on first use.
func lazy[C any, O any](cfg aws.Config, newFromConfig func(aws.Config, ...func(*O)) *C) func() *C {
	return sync.OnceValue(func() *C { return newFromConfig(cfg) })
}

// New loads the SDK configuration and builds the clients.
func New(ctx context.Context, opts Options) (*Client, error) {
	var lo []func(*config.LoadOptions) error
	if opts.Region != "" {
		lo = append(lo, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(opts.Profile))
	}
	attempts := opts.MaxAttempts
	if attempts == 0 {
		attempts = DefaultMaxAttempts
	}
	lo = append(lo, config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = 5 * time.Second
			if opts.MaxBackoff > 0 {
				o.MaxBackoff = opts.MaxBackoff
			}
			// Throttling is the common case for jitssh (ls over large
			// fleets, scp bursts): do not give up because a client-side
			// retry budget ran out.
			o.RateLimiter = ratelimit.None
			o.Retryables = append([]retry.IsErrorRetryable{notRetryable}, o.Retryables...)
		})
	}))
	env, err := config.NewEnvConfig()
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: read AWS environment: %w", err)
	}
	profile := profileName(env, opts)
	creds, ep, roles := assumer(profile, opts), &stsEndpoint{}, &roleSet{}
	lo = append(lo, config.WithHTTPClient(sdkHTTPClient()))
	if opts.Credentials != nil {
		lo = append(lo, config.WithCredentialsProvider(opts.Credentials))
	}
	lo = append(lo, config.WithAssumeRoleCredentialOptions(roleOptions(creds, roles, ep)), webIdentityOptions(ep))
	cfg, err := loadConfig(ctx, opts.ConfigFile, env, profile, lo)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	ep.set(cfg.BaseEndpoint)
	// The profile as the SDK read it (the files are parsed once: a scope
	// makes clients for tens of profiles at once).
	shared := sharedConfigOf(cfg.ConfigSources)
	roles.roles = roleArgs(shared)
	mfaUser := opts.Credentials == nil && mfaUserProfile(env, opts, shared)
	if mfaUser {
		withMFASession(&cfg, shared, creds)
	}
	if mfaUser || (opts.Credentials == nil && needsMFA(roleArgs(shared))) {
		// Now, not within the first call's timeout: the prompt (or the
		// wait for another process's) may take minutes. Cached, this
		// costs a file read.
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return nil, fmt.Errorf("get AWS credentials of profile %q: %w", profile, err)
		}
	}
	timeout := opts.CallTimeout
	if timeout == 0 {
		timeout = DefaultCallTimeout
	}
	cfg.APIOptions = append(cfg.APIOptions, callTimeout(timeout))
	if cfg.Region == "" {
		return nil, ErrNoRegion
	}
	ssmMessages, err := serviceEndpoint(ctx, SSMMessagesService, cfg.ConfigSources)
	if err == nil && ssmMessages != "" {
		_, err = parseEndpoint(SSMMessagesService, ssmMessages)
	}
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	var ws *http.Client
	cfg.HTTPClient, ws = networkClients(cfg.HTTPClient)
	base := &Client{http: ws, ssmMessages: ssmMessages, profileSSO: ssoKindOf(shared)}
	return base.build(cfg, cfg.Region), nil
}

// SecondaryRetries is how often a call made through a Secondary context
// is retried after a transient failure (an HTTP 5xx, a dropped
// connection): the SDK's standard retryer's default. Throttling is still
// retried up to Options.MaxAttempts.
const SecondaryRetries = 2

type secondaryKey struct{}

// Secondary marks calls made with ctx as asking a secondary source, one
// whose failure the caller survives (SSM's managed instances while
// resolving a Name, the agent status column of ls): a transient failure
// is retried SecondaryRetries times rather than until MaxAttempts, so that
// a failing service costs seconds, not half a minute, before the caller
// warns and goes on.
func Secondary(ctx context.Context) context.Context {
	return context.WithValue(ctx, secondaryKey{}, true)
}

func isSecondary(ctx context.Context) bool { v, _ := ctx.Value(secondaryKey{}).(bool); return v }

// fewerTransientRetries wraps an operation's retryer (a fresh one per
// operation, so the count is the operation's) to give up on transient
// errors after SecondaryRetries retries; throttling and everything else
// is the inner retryer's decision.
type fewerTransientRetries struct {
	aws.RetryerV2
	transient int
}

func (r *fewerTransientRetries) IsErrorRetryable(err error) bool {
	if !r.RetryerV2.IsErrorRetryable(err) {
		return false
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	r.transient++
	return r.transient <= SecondaryRetries
}

// secondaryOption returns the per-operation option applying Secondary.
func secondaryOption[O any](ctx context.Context, retryer func(*O) *aws.Retryer) []func(*O) {
	if !isSecondary(ctx) {
		return nil
	}
	return []func(*O){func(o *O) {
		p := retryer(o)
		if v2, ok := (*p).(aws.RetryerV2); ok {
			*p = &fewerTransientRetries{RetryerV2: v2}
		}
	}}
}

// Instance is what jitssh needs to know about an EC2 instance.
type Instance struct {
	ID               string
	Name             string
	State            string
	AvailabilityZone string
	PrivateIP        string
	PublicIP         string
	PrivateDNS       string
	PublicDNS        string
	Platform         string
	VpcID            string
	SubnetID         string
	Tags             map[string]string
	// OwnerID is the account of the instance's reservation.
	OwnerID string
}

// DescribeInstances returns the instances matching ids and filters
// (name → values, as the EC2 API's Filter), following every page.
func (c *Client) DescribeInstances(ctx context.Context, ids []string, filters map[string][]string) ([]Instance, error) {
	var out []Instance
	err := c.DescribeInstancesPages(ctx, ids, filters, func(page []Instance) error {
		out = append(out, page...)
		return nil
	})
	return out, err
}

// DescribeInstancesPages is DescribeInstances handing over each page as it
// arrives (pages of up to 1000 when no ids are given), so callers can start
// work on the first page while the next is fetched.
func (c *Client) DescribeInstancesPages(ctx context.Context, ids []string, filters map[string][]string, fn func([]Instance) error) error {
	in := &ec2.DescribeInstancesInput{InstanceIds: ids}
	if len(ids) == 0 {
		in.MaxResults = aws.Int32(1000)
	}
	for name, values := range filters {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String(name), Values: values})
	}
	p := ec2.NewDescribeInstancesPaginator(c.ec2(), in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, append(secondaryOption(ctx, func(o *ec2.Options) *aws.Retryer { return &o.Retryer }), fastDescribeInstances)...)
		if err != nil {
			return explain("ec2:DescribeInstances", err)
		}
		var out []Instance
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				in := convertInstance(i)
				in.OwnerID = aws.ToString(r.OwnerId)
				out = append(out, in)
			}
		}
		if err := fn(out); err != nil {
			return err
		}
	}
	return nil
}

// EnabledRegions returns the regions enabled for the account
// (DescribeRegions without AllRegions: those not needing opt-in and those
// opted in), sorted.
func (c *Client) EnabledRegions(ctx context.Context) ([]string, error) {
	out, err := c.ec2().DescribeRegions(ctx, &ec2.DescribeRegionsInput{}, secondaryOption(ctx, func(o *ec2.Options) *aws.Retryer { return &o.Retryer })...)
	if err != nil {
		return nil, explain("ec2:DescribeRegions", err)
	}
	var regions []string
	for _, r := range out.Regions {
		if s := aws.ToString(r.OptInStatus); s == "not-opted-in" {
			continue
		}
		regions = append(regions, aws.ToString(r.RegionName))
	}
	sort.Strings(regions)
	return regions, nil
}

// ManagedInstance is what SSM knows about an instance's agent
// (DescribeInstanceInformation).
type ManagedInstance struct {
	ID           string
	PingStatus   string // Online, ConnectionLost, Inactive
	PlatformType string // Linux, Windows, MacOS
	PlatformName string
	IPAddress    string
	ComputerName string
	ResourceType string // EC2Instance, ManagedInstance
	AgentVersion string
	Name         string // the managed instance's name (hybrid activations)
	LastPing     time.Time
}

// MaxInstanceInformationFilterValues is how many values one
// DescribeInstanceInformation filter takes.
const MaxInstanceInformationFilterValues = 50

// InstanceInformation lists SSM's view of instances matching filters
// (ssm:DescribeInstanceInformation Filters, e.g. "InstanceIds",
// "PingStatus", "ResourceType", "tag:Name"), following every page.
func (c *Client) InstanceInformation(ctx context.Context, filters map[string][]string) ([]ManagedInstance, error) {
	in := &ssm.DescribeInstanceInformationInput{MaxResults: aws.Int32(50)}
	for k, v := range filters {
		in.Filters = append(in.Filters, ssmtypes.InstanceInformationStringFilter{Key: aws.String(k), Values: v})
	}
	var out []ManagedInstance
	p := ssm.NewDescribeInstanceInformationPaginator(c.ssm(), in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, secondaryOption(ctx, func(o *ssm.Options) *aws.Retryer { return &o.Retryer })...)
		if err != nil {
			return nil, explain("ssm:DescribeInstanceInformation", err)
		}
		for _, i := range page.InstanceInformationList {
			out = append(out, ManagedInstance{
				ID: aws.ToString(i.InstanceId), PingStatus: string(i.PingStatus),
				PlatformType: string(i.PlatformType), PlatformName: aws.ToString(i.PlatformName),
				IPAddress: aws.ToString(i.IPAddress), ComputerName: aws.ToString(i.ComputerName),
				ResourceType: string(i.ResourceType), AgentVersion: aws.ToString(i.AgentVersion),
				Name: aws.ToString(i.Name), LastPing: aws.ToTime(i.LastPingDateTime),
			})
		}
	}
	return out, nil
}

func convertInstance(i ec2types.Instance) Instance {
	in := Instance{
		ID:         aws.ToString(i.InstanceId),
		PrivateIP:  aws.ToString(i.PrivateIpAddress),
		PublicIP:   aws.ToString(i.PublicIpAddress),
		PrivateDNS: aws.ToString(i.PrivateDnsName),
		PublicDNS:  aws.ToString(i.PublicDnsName),
		Platform:   string(i.Platform),
		VpcID:      aws.ToString(i.VpcId),
		SubnetID:   aws.ToString(i.SubnetId),
		Tags:       map[string]string{},
	}
	if i.State != nil {
		in.State = string(i.State.Name)
	}
	if i.Placement != nil {
		in.AvailabilityZone = aws.ToString(i.Placement.AvailabilityZone)
	}
	for _, t := range i.Tags {
		in.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	in.Name = in.Tags["Name"]
	return in
}

// SendSSHPublicKey publishes pubKey (an authorized_keys line) for osUser on
// the instance for 60 seconds and returns the request id.
func (c *Client) SendSSHPublicKey(ctx context.Context, instanceID, osUser, pubKey string) (string, error) {
	out, err := c.eic().SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
		InstanceId:     aws.String(instanceID),
		InstanceOSUser: aws.String(osUser),
		SSHPublicKey:   aws.String(pubKey),
	})
	if err != nil {
		return "", explain("ec2-instance-connect:SendSSHPublicKey", err)
	}
	if !out.Success {
		return "", fmt.Errorf("EC2 Instance Connect did not accept the key for %s on %s (request %s)", osUser, instanceID, aws.ToString(out.RequestId))
	}
	return aws.ToString(out.RequestId), nil
}

// Session is a started SSM session.
type Session struct {
	ID string
	// StreamURL is the data channel's websocket URL: the service's, with
	// the ssmmessages endpoint override applied.
	StreamURL string
	Token     string
	// HTTPClient dials StreamURL (Client.HTTPClient); nil means
	// http.DefaultClient.
	HTTPClient *http.Client
}

// session makes the Session of a StartSession or ResumeSession answer.
func (c *Client) session(id, streamURL, token *string) (*Session, error) {
	u, err := RewriteStreamURL(aws.ToString(streamURL), c.ssmMessages)
	if err != nil {
		return nil, err
	}
	return &Session{ID: aws.ToString(id), StreamURL: u, Token: aws.ToString(token), HTTPClient: c.http}, nil
}

// StartSession starts an SSM session on target with the given document.
func (c *Client) StartSession(ctx context.Context, target, document string, params map[string][]string, reason string) (*Session, error) {
	in := &ssm.StartSessionInput{Target: aws.String(target), Parameters: params}
	if document != "" {
		in.DocumentName = aws.String(document)
	}
	if reason != "" {
		in.Reason = aws.String(reason)
	}
	out, err := c.ssm().StartSession(ctx, in)
	if err != nil {
		return nil, explain("ssm:StartSession", err)
	}
	return c.session(out.SessionId, out.StreamUrl, out.TokenValue)
}

// TerminateSession ends an SSM session.
func (c *Client) TerminateSession(ctx context.Context, id string) error {
	if _, err := c.ssm().TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(id)}); err != nil {
		return explain("ssm:TerminateSession", err)
	}
	return nil
}

// Caller is the identity behind the credentials.
type Caller struct {
	Account, ARN, UserID string
}

// CallerIdentity calls sts:GetCallerIdentity.
func (c *Client) CallerIdentity(ctx context.Context) (*Caller, error) {
	caller, _, err := c.CallerIdentityAndDate(ctx)
	return caller, err
}

// CallerIdentityAndDate calls sts:GetCallerIdentity and also returns the
// Date header of AWS's response (zero if absent), for clock-skew checks.
func (c *Client) CallerIdentityAndDate(ctx context.Context) (*Caller, time.Time, error) {
	out, err := c.sts().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, time.Time{}, explain("sts:GetCallerIdentity", err)
	}
	var date time.Time
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		date, _ = http.ParseTime(raw.Header.Get("Date"))
	}
	return &Caller{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}, date, nil
}

// ErrNoRegion is returned by New when neither the options nor the AWS
// configuration name a region.
var ErrNoRegion = errors.New("no AWS region configured")

// Fix names what jitssh itself offers for an APIError beyond its Advice:
// the command line words it (this package names no command or flag).
type Fix int

const (
	FixNone Fix = iota
	// FixDoctor: jitssh's diagnosis of the instance (its SSM agent).
	FixDoctor
	// FixPolicyUser: the IAM policy jitssh prints for its users.
	FixPolicyUser
	// FixPolicyManaged: that policy with key placement on managed
	// instances.
	FixPolicyManaged
	// FixImpersonation: the impersonation SCP jitssh prints, and logging
	// in as the OS user of one's userName principal tag.
	FixImpersonation
	// FixRegionProfile: the region and profile jitssh was given.
	FixRegionProfile
	// FixSignIn: signing in again (an SSO session, an MFA role session).
	FixSignIn
	// FixPolicyRevoker: the IAM policy jitssh prints for incident
	// responders (the command line sets it on its revoke's calls, which
	// this package cannot tell from a user's).
	FixPolicyRevoker
)

// APIError is an AWS error with advice for the user. Its Error is one
// line (what failed and AWS's code and message); the advice is apart.
type APIError struct {
	Action  string // IAM action of the failed call, e.g. ssm:StartSession
	Code    string // AWS's error code, e.g. AccessDenied
	Message string // AWS's error message
	// Advice is what the user can do, in AWS's terms (names no command
	// or flag of jitssh's); "" when there is nothing to say.
	Advice string
	// Fix is what jitssh offers besides, for the command line to word.
	Fix Fix
	Err error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s failed: %s: %s", e.Action, e.Code, e.Message)
}

func (e *APIError) Unwrap() error { return e.Err }

// explain turns an SDK error into an *APIError with advice where we know
// what the user should do.
func explain(action string, err error) error {
	var ae smithy.APIError
	var te *CallTimeoutError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: %w", action, te)
	}
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", action, err)
	}
	e := &APIError{Action: action, Code: ae.ErrorCode(), Message: ae.ErrorMessage(), Err: err}
	switch code := e.Code; {
	case code == "InvalidInstanceId" && action == "ssm:SendCommand":
		e.Advice, e.Fix = "SSM cannot run commands on the instance now: its SSM agent is offline or it is not registered in this account and region", FixDoctor
	case code == "TargetNotConnected":
		e.Advice, e.Fix = "the instance is not connected to SSM: check it is running and its instance profile has AmazonSSMManagedInstanceCore", FixDoctor
	case (strings.Contains(code, "AccessDenied") || code == "UnauthorizedOperation") && strings.Contains(e.Message, "service control policy"):
		if action == "ec2-instance-connect:SendSSHPublicKey" {
			e.Advice, e.Fix = "your organisation's service control policy refuses this OS user: the impersonation SCP lets you push a key only for the OS user named by your userName principal tag; log in as that user, or ask an administrator", FixImpersonation
		} else {
			e.Advice = fmt.Sprintf("a service control policy of your organisation denies %s, whatever your own IAM policies say: only an administrator of the organisation can change that", action)
		}
	case strings.Contains(code, "AccessDenied") && action == "iam:SimulatePrincipalPolicy":
		e.Advice = "jitssh only uses it to check your permissions: connections do not need it; to have the check, ask for iam:SimulatePrincipalPolicy on your own IAM user or role"
	case strings.Contains(code, "AccessDenied") && (action == "ssm:SendCommand" || action == "ssm:GetCommandInvocation"):
		e.Advice, e.Fix = fmt.Sprintf("your IAM identity is not allowed %s, which jitssh needs to place a key on an SSM managed (mi-) instance", action), FixPolicyManaged
	case strings.Contains(code, "AccessDenied") || code == "UnauthorizedOperation" || code == "AuthException":
		e.Advice, e.Fix = fmt.Sprintf("your IAM identity is not allowed %s", action), FixPolicyUser
	case code == "UnrecognizedClientException" || code == "InvalidClientTokenId" || code == "ExpiredToken" || code == "ExpiredTokenException":
		e.Advice, e.Fix = "your AWS credentials are invalid or expired: sign in again (a new SSO token, MFA code or role session) and retry", FixSignIn
	case code == "InvalidSignatureException" || code == "SignatureDoesNotMatch":
		e.Advice = "the request signature was refused: check the secret key and that this machine's clock is correct"
	case code == "EC2InstanceNotFoundException" || code == "InvalidInstanceID.NotFound":
		e.Advice, e.Fix = "no such instance in this account and region: check the id", FixRegionProfile
	case code == "EC2InstanceStateInvalidException":
		e.Advice = "the instance is not running: start it first"
	case code == "Throttling" || code == "ThrottlingException" || code == "RequestLimitExceeded" || code == "TooManyRequestsException":
		e.Advice = "AWS kept throttling this call after retries with backoff: wait a little and retry, or ask for a higher API rate limit"
	}
	return e
}

func ssoKindOf(sc *config.SharedConfig) ssoKind {
	switch {
	case sc == nil:
		return ssoUnknown
	case sc.SSOSession != nil || sc.SSOStartURL != "":
		return ssoYes
	}
	return ssoNo
}
