package apis

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// dev is a role session allowed to describe instances and to push keys
// for the OS user named by its userName session tag, and nothing else.
var dev = world.Identity{
	AccessKeyID:     "AKIASANDBOXDEV000003",
	SecretAccessKey: "dev/secret/key/0123456789abcdefghijklmnop",
	ARN:             "arn:aws:sts::123456789012:assumed-role/Dev/dana",
	UserID:          "AROASANDBOXDEV:dana",
	Tags:            map[string]string{"userName": "dana"},
	Policies: []policy.Document{mustPolicy(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"},
		{"Effect":"Allow","Action":"ec2-instance-connect:SendSSHPublicKey","Resource":"arn:aws:ec2:*:*:instance/*",
		 "Condition":{"StringEquals":{"ec2:osuser":"${aws:PrincipalTag/userName}"}}}]}`)},
}

func mustPolicy(s string) policy.Document {
	d, err := policy.Parse([]byte(s))
	if err != nil {
		panic(err)
	}
	return d
}

type simResult struct{ Action, Resource, Decision, Missing string }

func simResults(out *iam.SimulatePrincipalPolicyOutput) []simResult {
	var got []simResult
	for _, r := range out.EvaluationResults {
		got = append(got, simResult{aws.ToString(r.EvalActionName), aws.ToString(r.EvalResourceName), string(r.EvalDecision), strings.Join(r.MissingContextValues, ",")})
	}
	return got
}

// SimulatePrincipalPolicy through the Go SDK's IAM client: decisions of
// the sandbox's evaluator for a role (without its sessions' tags, which
// then show as missing context values), context entries as condition
// keys, and AWS's errors for a caller without the permission and an
// unknown role.
func TestSimulatePrincipalPolicySDK(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, world.Config{Identities: []world.Identity{alice, bob, dev}})
	ctx := context.Background()
	admin := iam.NewFromConfig(e.as(bob))
	inst := "arn:aws:ec2:" + testRegion + ":" + testAccount + ":instance/" + idWeb1
	in := &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::" + testAccount + ":role/Dev"),
		ActionNames:     []string{"ec2:DescribeInstances", "ec2-instance-connect:SendSSHPublicKey", "ssm:StartSession"},
		ResourceArns:    []string{inst},
		ContextEntries:  []iamtypes.ContextEntry{{ContextKeyName: aws.String("ec2:osuser"), ContextKeyValues: []string{"dana"}, ContextKeyType: iamtypes.ContextKeyTypeEnumString}},
	}
	out, err := admin.SimulatePrincipalPolicy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []simResult{
		{"ec2:DescribeInstances", inst, "allowed", ""},
		{"ec2-instance-connect:SendSSHPublicKey", inst, "implicitDeny", "aws:PrincipalTag/userName"},
		{"ssm:StartSession", inst, "implicitDeny", ""},
	}
	if got := simResults(out); !reflect.DeepEqual(got, want) {
		t.Errorf("simulation of role Dev:\n got %v\nwant %v", got, want)
	}

	// The tag supplied as a context entry decides the push.
	in.ActionNames = []string{"ec2-instance-connect:SendSSHPublicKey"}
	in.ContextEntries = append(in.ContextEntries, iamtypes.ContextEntry{ContextKeyName: aws.String("aws:PrincipalTag/userName"), ContextKeyValues: []string{"dana"}, ContextKeyType: iamtypes.ContextKeyTypeEnumString})
	out, err = admin.SimulatePrincipalPolicy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := simResults(out); len(got) != 1 || got[0].Decision != "allowed" || got[0].Missing != "" {
		t.Errorf("with the tag given: %v, want allowed", got)
	}

	// An IAM user, by its ARN; no resources means "*".
	out, err = admin.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(bob.ARN), ActionNames: []string{"ssm:StartSession"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := simResults(out); len(got) != 1 || got[0] != (simResult{"ssm:StartSession", "*", "allowed", ""}) {
		t.Errorf("user bob: %v", got)
	}

	// Dev may not simulate, not even itself.
	_, err = iam.NewFromConfig(e.as(dev)).SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::" + testAccount + ":role/Dev"), ActionNames: []string{"ec2:DescribeInstances"}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !strings.Contains(ae.ErrorMessage(), "is not authorized to perform: iam:SimulatePrincipalPolicy on resource: arn:aws:iam::123456789012:role/Dev") {
		t.Errorf("dev simulating: %v, want AccessDenied", err)
	}

	// Unknown principals and bad input.
	_, err = admin.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::" + testAccount + ":role/Nobody"), ActionNames: []string{"ec2:DescribeInstances"}})
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) || !strings.Contains(err.Error(), "The role with name Nobody cannot be found.") {
		t.Errorf("unknown role: %v, want NoSuchEntity", err)
	}
	_, err = admin.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::" + testAccount + ":role/Dev"), ActionNames: []string{"ec2:*"}})
	var ii *iamtypes.InvalidInputException
	if !errors.As(err, &ii) {
		t.Errorf("wildcard action: %v, want InvalidInput", err)
	}
}

// The same through the real aws CLI (AWS query protocol, botocore's
// parser).
func TestSimulatePrincipalPolicyAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aws CLI")
	}
	t.Parallel()
	e := newEnvWith(t, world.Config{Identities: []world.Identity{alice, bob, dev}})
	inst := "arn:aws:ec2:" + testRegion + ":" + testAccount + ":instance/" + idWeb1
	stdout, stderr, code := awsCLI(t, e, bob, bob.SecretAccessKey, "iam", "simulate-principal-policy",
		"--policy-source-arn", "arn:aws:iam::"+testAccount+":role/Dev",
		"--action-names", "ec2:DescribeInstances", "ec2-instance-connect:SendSSHPublicKey",
		"--resource-arns", inst,
		"--context-entries", "ContextKeyName=ec2:osuser,ContextKeyValues=dana,ContextKeyType=string")
	if code != 0 {
		t.Fatalf("aws iam simulate-principal-policy: exit %d\n%s", code, stderr)
	}
	var out struct {
		EvaluationResults []struct {
			EvalActionName, EvalResourceName, EvalDecision string
			MissingContextValues                           []string
			OrganizationsDecisionDetail                    struct{ AllowedByOrganizations bool }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(out.EvaluationResults) != 2 {
		t.Fatalf("results: %s", stdout)
	}
	r0, r1 := out.EvaluationResults[0], out.EvaluationResults[1]
	if r0.EvalActionName != "ec2:DescribeInstances" || r0.EvalDecision != "allowed" || r0.EvalResourceName != inst || !r0.OrganizationsDecisionDetail.AllowedByOrganizations {
		t.Errorf("first result: %+v", r0)
	}
	if r1.EvalDecision != "implicitDeny" || !reflect.DeepEqual(r1.MissingContextValues, []string{"aws:PrincipalTag/userName"}) {
		t.Errorf("second result: %+v", r1)
	}
	_, stderr, code = awsCLI(t, e, dev, dev.SecretAccessKey, "iam", "simulate-principal-policy",
		"--policy-source-arn", "arn:aws:iam::"+testAccount+":role/Dev", "--action-names", "ec2:DescribeInstances")
	if code == 0 || !strings.Contains(stderr, "(AccessDenied)") {
		t.Errorf("dev simulating: exit %d\n%s", code, stderr)
	}
}

// FuzzSimulateInput: the query-list readers of SimulatePrincipalPolicy
// never panic, and what they accept stays within the API's limits.
func FuzzSimulateInput(f *testing.F) {
	f.Add("ActionNames.member.1=ec2:DescribeInstances&ContextEntries.member.1.ContextKeyName=ec2:osuser&ContextEntries.member.1.ContextKeyValues.member.1=root&ContextEntries.member.1.ContextKeyType=string")
	f.Add("ContextEntries.member.1.ContextKeyName=k&ContextEntries.member.1.ContextKeyType=bogus")
	f.Add("ActionNames.member.2=x&ActionNames.member.1=")
	f.Fuzz(func(t *testing.T, q string) {
		form, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		_ = members(form, "ActionNames")
		keys, err := contextEntries(form)
		if err == nil && len(keys) > maxSimulateContext {
			t.Fatalf("%d context entries accepted", len(keys))
		}
		for k, v := range keys {
			if k == "" || len(v) == 0 {
				t.Fatalf("empty entry accepted: %q=%v", k, v)
			}
		}
	})
}
