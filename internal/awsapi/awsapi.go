// Package awsapi is the only place the client imports AWS SDK service
// packages. It loads the SDK configuration (profiles, SSO, environment,
// AWS_ENDPOINT_URL, ...) and wraps the few calls jitssh makes — EC2
// DescribeInstances, EC2 Instance Connect SendSSHPublicKey, SSM
// StartSession/TerminateSession and STS GetCallerIdentity — returning
// jitssh's own types and turning AWS errors into messages that say what to
// do.
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Options selects the AWS configuration. Empty fields defer to the SDK's
// usual sources (AWS_REGION, AWS_PROFILE, ~/.aws/config, ...).
type Options struct {
	Region  string
	Profile string
}

// Client holds the service clients jitssh uses.
type Client struct {
	Region string
	ec2    *ec2.Client
	eic    *ec2instanceconnect.Client
	ssm    *ssm.Client
	sts    *sts.Client
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
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region configured: pass --region, set AWS_REGION, or set region in your AWS profile")
	}
	return &Client{
		Region: cfg.Region,
		ec2:    ec2.NewFromConfig(cfg),
		eic:    ec2instanceconnect.NewFromConfig(cfg),
		ssm:    ssm.NewFromConfig(cfg),
		sts:    sts.NewFromConfig(cfg),
	}, nil
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
	Tags             map[string]string
}

// DescribeInstances returns the instances matching ids and filters
// (name → values, as the EC2 API's Filter), following every page.
func (c *Client) DescribeInstances(ctx context.Context, ids []string, filters map[string][]string) ([]Instance, error) {
	in := &ec2.DescribeInstancesInput{InstanceIds: ids}
	for name, values := range filters {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String(name), Values: values})
	}
	var out []Instance
	p := ec2.NewDescribeInstancesPaginator(c.ec2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, explain("ec2:DescribeInstances", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				out = append(out, convertInstance(i))
			}
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
	out, err := c.eic.SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
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
	ID        string
	StreamURL string
	Token     string
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
	out, err := c.ssm.StartSession(ctx, in)
	if err != nil {
		return nil, explain("ssm:StartSession", err)
	}
	return &Session{ID: aws.ToString(out.SessionId), StreamURL: aws.ToString(out.StreamUrl), Token: aws.ToString(out.TokenValue)}, nil
}

// TerminateSession ends an SSM session.
func (c *Client) TerminateSession(ctx context.Context, id string) error {
	if _, err := c.ssm.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(id)}); err != nil {
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
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, explain("sts:GetCallerIdentity", err)
	}
	return &Caller{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}, nil
}

// APIError is an AWS error with advice for the user.
type APIError struct {
	Action  string // IAM action of the failed call, e.g. ssm:StartSession
	Code    string
	Message string
	Advice  string
	Err     error
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s failed: %s: %s", e.Action, e.Code, e.Message)
	if e.Advice != "" {
		s += "\n  " + e.Advice
	}
	return s
}

func (e *APIError) Unwrap() error { return e.Err }

// explain turns an SDK error into an *APIError with advice where we know
// what the user should do.
func explain(action string, err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", action, err)
	}
	e := &APIError{Action: action, Code: ae.ErrorCode(), Message: ae.ErrorMessage(), Err: err}
	switch code := e.Code; {
	case code == "TargetNotConnected":
		e.Advice = "the instance is not connected to SSM: check it is running and its instance profile has AmazonSSMManagedInstanceCore (try `jitssh doctor`)"
	case strings.Contains(code, "AccessDenied") || code == "UnauthorizedOperation" || code == "AuthException":
		e.Advice = fmt.Sprintf("your IAM identity is not allowed %s: `jitssh policy user` prints a policy that grants what jitssh needs", action)
	case code == "UnrecognizedClientException" || code == "InvalidClientTokenId" || code == "ExpiredToken" || code == "ExpiredTokenException":
		e.Advice = "your AWS credentials are invalid or expired: refresh them (e.g. `aws sso login`) and retry"
	case code == "InvalidSignatureException" || code == "SignatureDoesNotMatch":
		e.Advice = "the request signature was refused: check the secret key and that this machine's clock is correct"
	case code == "EC2InstanceNotFoundException" || code == "InvalidInstanceID.NotFound":
		e.Advice = "no such instance in this account and region: check the id and --region/--profile"
	case code == "EC2InstanceStateInvalidException":
		e.Advice = "the instance is not running: start it first"
	}
	return e
}
