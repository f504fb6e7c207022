package awsapi

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// The calls jitssh revoke makes: inline role policies (IAM), service
// control policies (Organizations), other principals' SSM sessions, and
// Run Command to many instances.

// PutRolePolicy adds or replaces the inline policy name of role.
func (c *Client) PutRolePolicy(ctx context.Context, role, name, document string) error {
	_, err := c.iam().PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(document)})
	if err != nil {
		return explain("iam:PutRolePolicy", err)
	}
	return nil
}

// RolePolicy returns the inline policy name of role, decoded (IAM returns
// it URL-encoded); ok false when the role has no such policy.
func (c *Client) RolePolicy(ctx context.Context, role, name string) (doc string, ok bool, err error) {
	out, err := c.iam().GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
	if IsCode(err, "NoSuchEntity") {
		if _, rerr := c.iam().ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(role), MaxItems: aws.Int32(1)}); rerr != nil {
			return "", false, explain("iam:ListRolePolicies", rerr) // the role itself is missing
		}
		return "", false, nil
	}
	if err != nil {
		return "", false, explain("iam:GetRolePolicy", err)
	}
	d, err := url.QueryUnescape(aws.ToString(out.PolicyDocument))
	if err != nil {
		return "", false, errors.New("iam:GetRolePolicy returned a policy document that is not URL-encoded")
	}
	return d, true, nil
}

// DeleteRolePolicy removes the inline policy name of role; ok false when
// it was not there.
func (c *Client) DeleteRolePolicy(ctx context.Context, role, name string) (ok bool, err error) {
	_, err = c.iam().DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
	if IsCode(err, "NoSuchEntity") {
		_, rerr := c.iam().ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(role), MaxItems: aws.Int32(1)})
		if rerr != nil {
			return false, explain("iam:ListRolePolicies", rerr)
		}
		return false, nil
	}
	if err != nil {
		return false, explain("iam:DeleteRolePolicy", err)
	}
	return true, nil
}

// IsCode reports whether err is an AWS API error with code.
func IsCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// SCP is a service control policy of the organisation.
type SCP struct {
	ID, Name, Content string
}

// OrgRoot returns the organisation's root id; AWS's errors
// (AWSOrganizationsNotInUseException, AccessDeniedException) come back as
// *APIError.
func (c *Client) OrgRoot(ctx context.Context) (string, error) {
	out, err := c.org().ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		return "", explain("organizations:ListRoots", err)
	}
	if len(out.Roots) == 0 {
		return "", errors.New("organizations:ListRoots returned no root")
	}
	return aws.ToString(out.Roots[0].Id), nil
}

// FindSCP returns the service control policy named name, with its
// content; ok false when there is none.
func (c *Client) FindSCP(ctx context.Context, name string) (SCP, bool, error) {
	p := organizations.NewListPoliciesPaginator(c.org(), &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeServiceControlPolicy})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return SCP{}, false, explain("organizations:ListPolicies", err)
		}
		for _, s := range page.Policies {
			if aws.ToString(s.Name) != name {
				continue
			}
			out, err := c.org().DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: s.Id})
			if err != nil {
				return SCP{}, false, explain("organizations:DescribePolicy", err)
			}
			return SCP{ID: aws.ToString(s.Id), Name: name, Content: aws.ToString(out.Policy.Content)}, true, nil
		}
	}
	return SCP{}, false, nil
}

// PutSCP creates the service control policy name with content, or
// updates its content when one of that name exists (id non-empty).
func (c *Client) PutSCP(ctx context.Context, id, name, description, content string) (string, error) {
	if id != "" {
		if _, err := c.org().UpdatePolicy(ctx, &organizations.UpdatePolicyInput{PolicyId: aws.String(id), Content: aws.String(content)}); err != nil {
			return "", explain("organizations:UpdatePolicy", err)
		}
		return id, nil
	}
	out, err := c.org().CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String(name), Description: aws.String(description),
		Content: aws.String(content), Type: orgtypes.PolicyTypeServiceControlPolicy})
	if err != nil {
		return "", explain("organizations:CreatePolicy", err)
	}
	return aws.ToString(out.Policy.PolicySummary.Id), nil
}

// AttachSCP attaches policy id to target; ok false when it already was.
func (c *Client) AttachSCP(ctx context.Context, id, target string) (ok bool, err error) {
	_, err = c.org().AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: aws.String(id), TargetId: aws.String(target)})
	if IsCode(err, "DuplicatePolicyAttachmentException") {
		return false, nil
	}
	if err != nil {
		return false, explain("organizations:AttachPolicy", err)
	}
	return true, nil
}

// DeleteSCP detaches policy id from target (if attached) and deletes it.
func (c *Client) DeleteSCP(ctx context.Context, id, target string) error {
	_, err := c.org().DetachPolicy(ctx, &organizations.DetachPolicyInput{PolicyId: aws.String(id), TargetId: aws.String(target)})
	if err != nil && !IsCode(err, "PolicyNotAttachedException") {
		return explain("organizations:DetachPolicy", err)
	}
	if _, err := c.org().DeletePolicy(ctx, &organizations.DeletePolicyInput{PolicyId: aws.String(id)}); err != nil && !IsCode(err, "PolicyNotFoundException") {
		return explain("organizations:DeletePolicy", err)
	}
	return nil
}

// SessionInfo is an SSM session as DescribeSessions lists it.
type SessionInfo struct {
	ID       string    `json:"id"`
	Target   string    `json:"target"`
	Owner    string    `json:"owner"`
	Document string    `json:"document"`
	Start    time.Time `json:"start"`
	Active   bool      `json:"active"`
}

// Sessions lists the SSM sessions of every principal (ssm:DescribeSessions):
// the active ones, or with history the ended ones SSM still keeps.
func (c *Client) Sessions(ctx context.Context, history bool) ([]SessionInfo, error) {
	state := ssmtypes.SessionStateActive
	if history {
		state = ssmtypes.SessionStateHistory
	}
	var out []SessionInfo
	p := ssm.NewDescribeSessionsPaginator(c.ssm(), &ssm.DescribeSessionsInput{State: state, MaxResults: aws.Int32(200)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, explain("ssm:DescribeSessions", err)
		}
		for _, s := range page.Sessions {
			out = append(out, SessionInfo{ID: aws.ToString(s.SessionId), Target: aws.ToString(s.Target), Owner: aws.ToString(s.Owner),
				Document: aws.ToString(s.DocumentName), Start: aws.ToTime(s.StartDate), Active: !history})
		}
	}
	return out, nil
}

// MaxCommandTargets is how many instances one SendCommand names.
const MaxCommandTargets = 50

// SendCommandTo runs AWS-RunShellScript with commands on up to
// MaxCommandTargets instances (ssm:SendCommand) and returns the command id.
func (c *Client) SendCommandTo(ctx context.Context, ids []string, commands []string, comment string, timeoutSeconds int32) (string, error) {
	in := &ssm.SendCommandInput{DocumentName: aws.String(RunShellScript), InstanceIds: ids,
		Parameters: map[string][]string{"commands": commands}, Comment: aws.String(comment), TimeoutSeconds: aws.Int32(timeoutSeconds)}
	out, err := c.ssm().SendCommand(ctx, in)
	if err != nil {
		return "", explain("ssm:SendCommand", err)
	}
	if out.Command == nil || aws.ToString(out.Command.CommandId) == "" {
		return "", errors.New("ssm:SendCommand returned no command id")
	}
	return aws.ToString(out.Command.CommandId), nil
}
