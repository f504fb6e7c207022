package awsapi

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// RunShellScript is the AWS-owned Run Command document that runs shell
// commands on Linux; jitssh sends it only with its key-placement script
// (package placekey).
const RunShellScript = "AWS-RunShellScript"

// Invocation is the state of one command on one instance
// (ssm:GetCommandInvocation).
type Invocation struct {
	// Status is Pending, InProgress, Delayed, Success, Cancelled,
	// TimedOut, Failed or Cancelling.
	Status        string
	StatusDetails string
	ResponseCode  int32
	Stdout        string
	Stderr        string
}

// Done reports whether the invocation has finished (successfully or not).
func (i Invocation) Done() bool {
	switch i.Status {
	case "Success", "Failed", "TimedOut", "Cancelled":
		return true
	}
	return false
}

// SendCommand runs AWS-RunShellScript with commands on one instance
// (ssm:SendCommand) and returns the command id. comment is shown in the
// console and CloudTrail (at most 100 characters); timeoutSeconds
// (30 or more, as SSM requires) bounds how long SSM tries to deliver it,
// and the script's own run (executionTimeout).
func (c *Client) SendCommand(ctx context.Context, instanceID string, commands []string, comment string, timeoutSeconds int32) (string, error) {
	in := &ssm.SendCommandInput{
		DocumentName: aws.String(RunShellScript),
		InstanceIds:  []string{instanceID},
		Parameters:   map[string][]string{"commands": commands},
	}
	if comment != "" {
		if len(comment) > 100 {
			comment = comment[:100]
		}
		in.Comment = aws.String(comment)
	}
	if timeoutSeconds > 0 {
		in.TimeoutSeconds = aws.Int32(timeoutSeconds)
		in.Parameters["executionTimeout"] = []string{strconv.Itoa(int(timeoutSeconds))}
	}
	out, err := c.ssm().SendCommand(ctx, in)
	if err != nil {
		return "", explain("ssm:SendCommand", err)
	}
	if out.Command == nil || aws.ToString(out.Command.CommandId) == "" {
		return "", fmt.Errorf("ssm:SendCommand to %s returned no command id", instanceID)
	}
	return aws.ToString(out.Command.CommandId), nil
}

// CommandInvocation returns the state of command commandID on instanceID
// (ssm:GetCommandInvocation). Right after SendCommand, AWS answers
// InvocationDoesNotExist for a while: callers polling should retry that
// code (it comes back as an *APIError).
func (c *Client) CommandInvocation(ctx context.Context, commandID, instanceID string) (Invocation, error) {
	out, err := c.ssm().GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{
		CommandId:  aws.String(commandID),
		InstanceId: aws.String(instanceID),
	})
	if err != nil {
		return Invocation{}, explain("ssm:GetCommandInvocation", err)
	}
	return Invocation{
		Status: string(out.Status), StatusDetails: aws.ToString(out.StatusDetails),
		ResponseCode: out.ResponseCode,
		Stdout:       aws.ToString(out.StandardOutputContent), Stderr: aws.ToString(out.StandardErrorContent),
	}, nil
}
