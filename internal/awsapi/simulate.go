package awsapi

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// Simulation is one decision of IAM's policy simulator.
type Simulation struct {
	Action   string
	Resource string
	// Decision is allowed, explicitDeny or implicitDeny.
	Decision string
	// Missing are condition keys the decision needed and the simulation
	// lacked (a role's session tags, for one): a denial with missing keys
	// is no verdict.
	Missing []string
	// ByOrganizations is false when a service control policy denies.
	ByOrganizations bool
}

// Allowed reports whether the simulator allowed the call.
func (s Simulation) Allowed() bool {
	return s.Decision == string(iamtypes.PolicyEvaluationDecisionTypeAllowed)
}

// SimulatePrincipalPolicy asks IAM's policy simulator
// (iam:SimulatePrincipalPolicy) whether the user or role source may call
// each action on each resource ("*" if none) with the given condition keys
// (string values).
func (c *Client) SimulatePrincipalPolicy(ctx context.Context, source string, actions, resources []string, keys map[string][]string) ([]Simulation, error) {
	in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(source), ActionNames: actions, ResourceArns: resources}
	for k, v := range keys {
		typ := iamtypes.ContextKeyTypeEnumString
		if len(v) > 1 {
			typ = iamtypes.ContextKeyTypeEnumStringList
		}
		in.ContextEntries = append(in.ContextEntries, iamtypes.ContextEntry{ContextKeyName: aws.String(k), ContextKeyValues: v, ContextKeyType: typ})
	}
	var out []Simulation
	p := iam.NewSimulatePrincipalPolicyPaginator(c.iam(), in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, explain("iam:SimulatePrincipalPolicy", err)
		}
		for _, r := range page.EvaluationResults {
			s := Simulation{Action: aws.ToString(r.EvalActionName), Resource: aws.ToString(r.EvalResourceName),
				Decision: string(r.EvalDecision), Missing: r.MissingContextValues, ByOrganizations: true}
			if d := r.OrganizationsDecisionDetail; d != nil {
				s.ByOrganizations = d.AllowedByOrganizations
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// PolicySource returns the IAM principal whose policies decide for the
// caller ARN, as SimulatePrincipalPolicy wants it: an IAM user's ARN, or
// the role of an assumed-role session (its path, which the session ARN
// omits, cannot be known: a role with a path is not found). ok is false
// for anything else (the root user, federated users).
func PolicySource(callerARN string) (string, bool) {
	f := strings.SplitN(callerARN, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return "", false
	}
	switch {
	case f[2] == "iam" && strings.HasPrefix(f[5], "user/"):
		return callerARN, true
	case f[2] == "sts" && strings.HasPrefix(f[5], "assumed-role/"):
		parts := strings.Split(f[5], "/")
		if len(parts) >= 3 && parts[1] != "" {
			return "arn:" + f[1] + ":iam::" + f[4] + ":role/" + parts[1], true
		}
	}
	return "", false
}
