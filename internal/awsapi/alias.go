package awsapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// AccountAlias returns the IAM alias of the caller's account
// (iam:ListAccountAliases; an account has at most one), "" when it has
// none. IAM is global: on AWS every region's client reaches the one
// endpoint; with an endpoint URL (the sandbox) the call is signed for the
// client's region, which the account must have enabled. Through a
// Secondary context it gives up sooner on transient failures.
func (c *Client) AccountAlias(ctx context.Context) (string, error) {
	out, err := c.iam().ListAccountAliases(ctx, &iam.ListAccountAliasesInput{}, secondaryOption(ctx, func(o *iam.Options) *aws.Retryer { return &o.Retryer })...)
	if err != nil {
		return "", explain("iam:ListAccountAliases", err)
	}
	if len(out.AccountAliases) == 0 {
		return "", nil
	}
	return out.AccountAliases[0], nil
}
