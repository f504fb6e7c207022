package cli

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/connect"
)

// fakeAWS answers the AWS calls of the commands for the flags → options
// and error → exit-code tables only (the behaviour is proven against the
// sandbox: ls_test.go, e2e): each service fails with the error set for it,
// shaped as awsapi's clients return AWS's errors, or answers with the
// values set.
type fakeAWS struct {
	ec2, ssm, eice, sts, iam error // a service's error, nil if it answers
	instances                []awsapi.Instance
	caller                   *awsapi.Caller
	date                     time.Time
}

// denied is AWS's answer to a call the identity may not make.
func denied(action string) error {
	return &awsapi.APIError{Action: action, Code: "AccessDeniedException", Message: "User is not authorized to perform: " + action}
}

var (
	_ lister            = (*fakeAWS)(nil)
	_ doctorAPI         = (*fakeAWS)(nil)
	_ connect.API       = (*fakeAWS)(nil)
	_ instanceDescriber = (*fakeAWS)(nil)
	_ sshAPI            = (*fakeAWS)(nil)
	// and the real clients
	_ lister            = (*awsapi.Client)(nil)
	_ doctorAPI         = (*awsapi.Client)(nil)
	_ instanceDescriber = (*awsapi.Client)(nil)
	_ sshAPI            = (*awsapi.Client)(nil)
)

func (f *fakeAWS) DescribeInstances(ctx context.Context, ids []string, filters map[string][]string) ([]awsapi.Instance, error) {
	return f.instances, f.ec2
}

func (f *fakeAWS) DescribeInstancesPages(ctx context.Context, ids []string, filters map[string][]string, fn func([]awsapi.Instance) error) error {
	if f.ec2 != nil {
		return f.ec2
	}
	return fn(f.instances)
}

func (f *fakeAWS) InstanceInformation(ctx context.Context, filters map[string][]string) ([]awsapi.ManagedInstance, error) {
	return nil, f.ssm
}

func (f *fakeAWS) InstanceConnectEndpoints(ctx context.Context, filters map[string][]string) ([]awsapi.InstanceConnectEndpoint, error) {
	return nil, f.eice
}

func (f *fakeAWS) SendSSHPublicKey(ctx context.Context, instanceID, osUser, pubKey string) (string, error) {
	return "", errors.New("fakeAWS: SendSSHPublicKey is not modelled")
}

func (f *fakeAWS) StartSession(ctx context.Context, target, document string, params map[string][]string, reason string) (*awsapi.Session, error) {
	if f.ssm != nil {
		return nil, f.ssm
	}
	return nil, errors.New("fakeAWS: sessions are not modelled")
}

func (f *fakeAWS) TerminateSession(ctx context.Context, id string) error { return f.ssm }

func (f *fakeAWS) ResumeSession(ctx context.Context, id string) (*awsapi.Session, error) {
	return nil, errors.New("fakeAWS: sessions are not modelled")
}

func (f *fakeAWS) EICESigning() awsapi.EICESigning { return awsapi.EICESigning{Region: testRegion} }

func (f *fakeAWS) SendCommand(ctx context.Context, instanceID string, commands []string, comment string, timeoutSeconds int32) (string, error) {
	return "", errors.New("fakeAWS: SendCommand is not modelled")
}

func (f *fakeAWS) CommandInvocation(ctx context.Context, commandID, instanceID string) (awsapi.Invocation, error) {
	return awsapi.Invocation{}, errors.New("fakeAWS: CommandInvocation is not modelled")
}

func (f *fakeAWS) CallerIdentityAndDate(ctx context.Context) (*awsapi.Caller, time.Time, error) {
	if f.sts != nil {
		return nil, time.Time{}, f.sts
	}
	return f.caller, f.date, nil
}

func (f *fakeAWS) CallerIdentity(ctx context.Context) (*awsapi.Caller, error) {
	if f.sts != nil {
		return nil, f.sts
	}
	if f.caller == nil {
		return nil, errors.New("fakeAWS: no caller set")
	}
	return f.caller, nil
}

func (f *fakeAWS) SimulatePrincipalPolicy(ctx context.Context, source string, actions, resources []string, keys map[string][]string) ([]awsapi.Simulation, error) {
	return nil, f.iam
}

func environ() []string { return os.Environ() }
