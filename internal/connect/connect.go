// Package connect is the client's use case: Proxy (proxy.go, its steps
// in order) resolves a target, authorizes an ephemeral key with EC2
// Instance Connect (on SSM managed, mi-, instances: places it with SSM Run
// Command; both in internal/keypush), reaches the instance's sshd through
// a transport (see internal/transport: ssm, eice, direct, bastion, or auto
// choosing from the instance's facts), makes sure the instance's host key
// is pinned (learned only over an AWS-authenticated transport, ssm or
// eice), and splices the connection to the ssh client's ProxyCommand
// pipes. Independent steps run concurrently. Instances are found by
// internal/instances; the ephemeral key file it pushes is
// internal/keyfile's; SSM port forwarding and shell sessions are
// internal/ssmsession's. See docs/transports.md.
package connect

import (
	"context"

	"github.com/jitssh/jitssh/internal/awsapi"
)

// API is the subset of AWS calls the client makes (implemented by
// *awsapi.Client): those of the lookup, the transports and the key push
// (keypush.API).
type API interface {
	DescribeInstances(ctx context.Context, ids []string, filters map[string][]string) ([]awsapi.Instance, error)
	InstanceInformation(ctx context.Context, filters map[string][]string) ([]awsapi.ManagedInstance, error)
	SendSSHPublicKey(ctx context.Context, instanceID, osUser, pubKey string) (string, error)
	StartSession(ctx context.Context, target, document string, params map[string][]string, reason string) (*awsapi.Session, error)
	TerminateSession(ctx context.Context, id string) error
	ResumeSession(ctx context.Context, id string) (*awsapi.Session, error)
	InstanceConnectEndpoints(ctx context.Context, filters map[string][]string) ([]awsapi.InstanceConnectEndpoint, error)
	EICESigning() awsapi.EICESigning
	SendCommand(ctx context.Context, instanceID string, commands []string, comment string, timeoutSeconds int32) (string, error)
	CommandInvocation(ctx context.Context, commandID, instanceID string) (awsapi.Invocation, error)
}
