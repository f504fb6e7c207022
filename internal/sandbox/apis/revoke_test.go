package apis

import (
	"context"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/jitssh/jitssh/internal/hostcmd"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// The APIs jitssh revoke uses: IAM inline role policies, Organizations
// SCPs, SSM DescribeSessions/TerminateSession for another principal's
// sessions, and Run Command with jitssh-host users scripts.

// testClock is a settable world clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func denyDoc(t *testing.T, action string, cond policy.Condition) string {
	t.Helper()
	return string(policy.Document{Version: policy.Version, Statement: []policy.Statement{{
		Sid: "Revoke", Effect: policy.Deny, Action: policy.Strings{action}, Resource: policy.Strings{"*"}, Condition: cond}}}.JSON())
}

// TestPutRolePolicyAppliesAtOnce: an inline deny put on the role of
// alice's session refuses her next call (and an older session's, by
// aws:TokenIssueTime); GetRolePolicy returns it URL-encoded, as IAM;
// deleting it lets her back.
func TestPutRolePolicyAppliesAtOnce(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	e := newEnvWith(t, world.Config{Instances: testInstances(), Now: clock.Now})
	ctx := context.Background()
	admin := iam.NewFromConfig(e.as(bob))
	describe := func(id world.Identity) error {
		_, err := ec2.NewFromConfig(e.as(id)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		return err
	}
	if err := describe(alice); err != nil {
		t.Fatal(err)
	}
	doc := denyDoc(t, "ec2:DescribeInstances", policy.Condition{"StringEquals": {"aws:userid": {alice.UserID}}})
	if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("Developer"), PolicyName: aws.String("jitssh-revoke"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, describe(alice), "UnauthorizedOperation", "with an explicit deny in an identity-based policy")
	if err := describe(bob); err != nil {
		t.Errorf("bob is not on the role: %v", err)
	}
	got, err := admin.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("Developer"), PolicyName: aws.String("jitssh-revoke")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := url.QueryUnescape(aws.ToString(got.PolicyDocument)); err != nil || dec != doc || strings.Contains(aws.ToString(got.PolicyDocument), "{") {
		t.Errorf("GetRolePolicy document %q (decoded %q, %v), want %q URL-encoded", aws.ToString(got.PolicyDocument), dec, err, doc)
	}
	list, err := admin.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("Developer")})
	if err != nil || !reflect.DeepEqual(list.PolicyNames, []string{"jitssh-revoke"}) {
		t.Errorf("ListRolePolicies = %v, %v", list, err)
	}

	// Revoke older sessions: sessions of the role issued before the cut
	// are denied everything, later ones are not.
	older := e.world.IssueSession(e.world.RoleSession(world.Role{Name: "Developer", ID: "AROASANDBOXDEVELOPER"}, "carol", nil), time.Hour)
	olderID, _ := e.world.Identity(older.AccessKeyID)
	olderID.Policies = []policy.Document{adminAccess}
	clock.add(2 * time.Second)
	cut := clock.Now()
	clock.add(2 * time.Second)
	newer := e.world.IssueSession(e.world.RoleSession(world.Role{Name: "Developer", ID: "AROASANDBOXDEVELOPER"}, "carol", nil), time.Hour)
	revokeOlder := denyDoc(t, "*", policy.Condition{"DateLessThan": {"aws:TokenIssueTime": {cut.Format(time.RFC3339)}}})
	if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("Developer"), PolicyName: aws.String("AWSRevokeOlderSessions"), PolicyDocument: aws.String(revokeOlder)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.sts(world.Identity{AccessKeyID: older.AccessKeyID, SecretAccessKey: older.SecretAccessKey, SessionToken: older.SessionToken}).GetCallerIdentity(ctx, nil)
	if err != nil {
		t.Errorf("GetCallerIdentity needs no permission, even with a deny: %v", err)
	}
	olderCfg := e.cfgSession(older.AccessKeyID, older.SecretAccessKey, older.SessionToken)
	_, err = ssm.NewFromConfig(olderCfg).DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: ssmtypes.SessionStateActive})
	wantAPIError(t, err, "AccessDeniedException", "explicit deny in an identity-based policy")
	newerCfg := e.cfgSession(newer.AccessKeyID, newer.SecretAccessKey, newer.SessionToken)
	_, err = ssm.NewFromConfig(newerCfg).DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: ssmtypes.SessionStateActive})
	wantAPIError(t, err, "AccessDeniedException", "because no identity-based policy allows") // not the revoke's deny: the session has no policies

	for _, name := range []string{"jitssh-revoke", "AWSRevokeOlderSessions"} {
		if _, err := admin.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("Developer"), PolicyName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := describe(alice); err != nil {
		t.Errorf("after DeleteRolePolicy: %v", err)
	}
	_, err = admin.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("Developer"), PolicyName: aws.String("jitssh-revoke")})
	wantAPIError(t, err, "NoSuchEntity", "The role policy with name jitssh-revoke cannot be found.")
}

func TestRolePolicyErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	ctx := context.Background()
	admin := iam.NewFromConfig(e.as(bob))
	put := func(role, name, doc string) error {
		_, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		return err
	}
	good := denyDoc(t, "ssm:StartSession", nil)
	wantAPIError(t, put("Nobody", "p", good), "NoSuchEntity", "The role with name Nobody cannot be found.")
	wantAPIError(t, put("Developer", "p", `{"Version":"2012-10-17","Statement":[]}`), "MalformedPolicyDocument", "")
	wantAPIError(t, put("Developer", "p", `not json`), "MalformedPolicyDocument", "")
	wantAPIError(t, put("Developer", "bad name!", good), "ValidationError", "policyName")
	big := policy.Document{Version: policy.Version}
	for i := 0; i < 200; i++ {
		big.Statement = append(big.Statement, policy.Statement{Effect: policy.Deny, Action: policy.Strings{"ssm:StartSession"}, Resource: policy.Strings{"arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"}})
	}
	wantAPIError(t, put("Developer", "big", string(big.JSON())), "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role Developer")
	if names, _ := e.world.RolePolicyNames("Developer"); len(names) != 0 {
		t.Errorf("a refused put left policies %v", names)
	}
	_, err := iam.NewFromConfig(e.as(world.Identity{AccessKeyID: "AKIASANDBOXNOPOL0001", SecretAccessKey: "x"})).PutRolePolicy(ctx, &iam.PutRolePolicyInput{})
	if err == nil {
		t.Error("an unknown key put a policy")
	}
}

// TestOrganizationsSCPs: a created and attached SCP denies at once; an
// update changes what it denies; detached and deleted, it is gone.
func TestOrganizationsSCPs(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, world.Config{Instances: testInstances(), SCPs: []policy.Document{adminAccess}})
	ctx := context.Background()
	org := organizations.NewFromConfig(e.as(bob))
	pols, err := org.ListPolicies(ctx, &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeServiceControlPolicy})
	if err != nil || len(pols.Policies) != 1 || aws.ToString(pols.Policies[0].Id) != "p-FullAWSAccess" || !pols.Policies[0].AwsManaged {
		t.Fatalf("ListPolicies = %+v, %v", pols, err)
	}
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil || len(roots.Roots) != 1 {
		t.Fatalf("ListRoots = %+v, %v", roots, err)
	}
	root := aws.ToString(roots.Roots[0].Id)
	created, err := org.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String("jitssh-revoke"), Description: aws.String("test"),
		Type: orgtypes.PolicyTypeServiceControlPolicy, Content: aws.String(denyDoc(t, "ec2:DescribeInstances", nil))})
	if err != nil {
		t.Fatal(err)
	}
	id := created.Policy.PolicySummary.Id
	_, err = org.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String("jitssh-revoke"), Description: aws.String("test"),
		Type: orgtypes.PolicyTypeServiceControlPolicy, Content: aws.String(denyDoc(t, "ec2:DescribeInstances", nil))})
	wantAPIError(t, err, "DuplicatePolicyException", "")
	describe := func() error {
		_, err := ec2.NewFromConfig(e.as(alice)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		return err
	}
	if err := describe(); err != nil {
		t.Fatalf("a created SCP attached nowhere denies: %v", err)
	}
	if _, err := org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: id, TargetId: aws.String(root)}); err != nil {
		t.Fatal(err)
	}
	_, err = org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: id, TargetId: aws.String(root)})
	wantAPIError(t, err, "DuplicatePolicyAttachmentException", "")
	wantAPIError(t, describe(), "UnauthorizedOperation", "with an explicit deny in a service control policy")
	if _, err := org.UpdatePolicy(ctx, &organizations.UpdatePolicyInput{PolicyId: id, Content: aws.String(denyDoc(t, "ssm:StartSession", nil))}); err != nil {
		t.Fatal(err)
	}
	if err := describe(); err != nil {
		t.Errorf("after UpdatePolicy: %v", err)
	}
	d, err := org.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: id})
	if err != nil || !strings.Contains(aws.ToString(d.Policy.Content), "ssm:StartSession") {
		t.Errorf("DescribePolicy = %+v, %v", d, err)
	}
	_, err = org.DeletePolicy(ctx, &organizations.DeletePolicyInput{PolicyId: id})
	wantAPIError(t, err, "PolicyInUseException", "")
	if _, err := org.DetachPolicy(ctx, &organizations.DetachPolicyInput{PolicyId: id, TargetId: aws.String(root)}); err != nil {
		t.Fatal(err)
	}
	if _, err := org.DeletePolicy(ctx, &organizations.DeletePolicyInput{PolicyId: id}); err != nil {
		t.Fatal(err)
	}
	_, err = org.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: id})
	wantAPIError(t, err, "PolicyNotFoundException", "")

	// Outside an organisation, and without the permission.
	_, err = organizations.NewFromConfig(newEnv(t, nil).as(bob)).ListPolicies(ctx, &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeServiceControlPolicy})
	wantAPIError(t, err, "AWSOrganizationsNotInUseException", "")
	limited := alice
	limited.AccessKeyID, limited.Policies = "AKIASANDBOXLIMITED01", nil
	e2 := newEnvWith(t, world.Config{SCPs: []policy.Document{adminAccess}, Identities: []world.Identity{limited}})
	_, err = organizations.NewFromConfig(e2.as(limited)).ListPolicies(ctx, &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeServiceControlPolicy})
	wantAPIError(t, err, "AccessDeniedException", "organizations:ListPolicies")
}

// TestDescribeAndTerminateOthersSessions: an administrator lists alice's
// active session by owner and ends it; the session's end is signalled
// (the agent then closes its websocket) and it moves to History.
func TestDescribeAndTerminateOthersSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	ctx := context.Background()
	out, err := e.ssm(alice).StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(idWeb1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.SessionId)
	admin := e.ssm(bob)
	active := func(owner string) []ssmtypes.Session {
		t.Helper()
		in := &ssm.DescribeSessionsInput{State: ssmtypes.SessionStateActive}
		if owner != "" {
			in.Filters = []ssmtypes.SessionFilter{{Key: ssmtypes.SessionFilterKeyOwner, Value: aws.String(owner)}}
		}
		var all []ssmtypes.Session
		p := ssm.NewDescribeSessionsPaginator(admin, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.Sessions...)
		}
		return all
	}
	if got := active(alice.ARN); len(got) != 1 || aws.ToString(got[0].SessionId) != id || aws.ToString(got[0].Target) != idWeb1 || got[0].Status != ssmtypes.SessionStatusConnected {
		t.Fatalf("alice's active sessions = %+v", got)
	}
	if got := active(bob.ARN); len(got) != 0 {
		t.Errorf("bob's = %+v", got)
	}
	s, _ := e.world.Session(id)
	if _, err := admin.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(time.Second):
		t.Fatal("the terminated session is not ended")
	}
	if got := active(""); len(got) != 0 {
		t.Errorf("active after TerminateSession: %+v", got)
	}
	hist, err := admin.DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: ssmtypes.SessionStateHistory})
	if err != nil || len(hist.Sessions) != 1 || hist.Sessions[0].Status != ssmtypes.SessionStatusTerminated || hist.Sessions[0].EndDate == nil {
		t.Errorf("history = %+v, %v", hist, err)
	}
	_, err = admin.DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: "Bogus"})
	wantAPIError(t, err, "ValidationException", "state")
	_, err = admin.DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: ssmtypes.SessionStateActive, Filters: []ssmtypes.SessionFilter{{Key: "InvokedAfter", Value: aws.String("yesterday")}}})
	wantAPIError(t, err, "InvalidFilterValue", "")
}

// TestSendCommandRunsHostScripts: a jitssh-host users script runs, step
// by step, through Options.RunHost on any instance, stopping at the first
// failure; ListCommandInvocations and GetCommandInvocation report each
// instance.
func TestSendCommandRunsHostScripts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var ran []string
	e := newEnvWith(t, world.Config{Instances: testInstances()}, func(o *Options) {
		o.RunHost = func(id string, args []string) (ScriptRun, bool) {
			mu.Lock()
			defer mu.Unlock()
			ran = append(ran, id+" "+strings.Join(args, " "))
			if id == idWeb2 {
				return ScriptRun{Stderr: "jitssh-host: block list: permission denied\n", Code: 1}, true
			}
			return ScriptRun{Stdout: "ok " + args[1] + "\n"}, true
		}
	})
	ctx := context.Background()
	script, err := hostcmd.Script([]hostcmd.Step{{Action: hostcmd.Block, User: "alice"}, {Action: hostcmd.Kill, User: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	cl := e.ssm(bob)
	out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{InstanceIds: []string{idWeb1, idWeb2}, DocumentName: aws.String(RunShellScript),
		Parameters: map[string][]string{"commands": script}})
	if err != nil {
		t.Fatal(err)
	}
	cid := out.Command.CommandId
	want := []string{idWeb1 + " users block alice", idWeb1 + " users kill --if-exists alice", idWeb2 + " users block alice"}
	if mu.Lock(); !reflect.DeepEqual(ran, want) {
		t.Errorf("ran %q, want %q", ran, want)
	}
	mu.Unlock()
	inv, err := cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: cid, InstanceId: aws.String(idWeb1)})
	if err != nil || inv.Status != ssmtypes.CommandInvocationStatusSuccess || aws.ToString(inv.StandardOutputContent) != "ok block\nok kill\n" {
		t.Errorf("web-1: %+v, %v", inv, err)
	}
	inv, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: cid, InstanceId: aws.String(idWeb2)})
	if err != nil || inv.Status != ssmtypes.CommandInvocationStatusFailed || inv.ResponseCode != 1 || !strings.Contains(aws.ToString(inv.StandardErrorContent), "permission denied") {
		t.Errorf("web-2: %+v, %v", inv, err)
	}
	list, err := cl.ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{CommandId: cid, Details: true})
	if err != nil || len(list.CommandInvocations) != 2 {
		t.Fatalf("ListCommandInvocations = %+v, %v", list, err)
	}
	b, _ := json.Marshal(list.CommandInvocations[1].CommandPlugins)
	if list.CommandInvocations[1].Status != ssmtypes.CommandInvocationStatusFailed || !strings.Contains(string(b), "permission denied") {
		t.Errorf("web-2 in the list: %+v %s", list.CommandInvocations[1], b)
	}
	// Any other script still runs nowhere.
	out, err = cl.SendCommand(ctx, &ssm.SendCommandInput{InstanceIds: []string{idWeb1}, DocumentName: aws.String(RunShellScript),
		Parameters: map[string][]string{"commands": {hostcmd.Header, "set -e", "jitssh-host users remove alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(idWeb1)})
	if err != nil || inv.Status != ssmtypes.CommandInvocationStatusFailed {
		t.Errorf("an unrecognised script: %+v, %v", inv, err)
	}
}

// TestAWSCLIRolePolicies: the aws CLI, an independent client, puts,
// reads (decoding IAM's URL-encoded document), lists and deletes an
// inline role policy, and the deny applies to the role's next request.
func TestAWSCLIRolePolicies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aws CLI")
	}
	t.Parallel()
	e := newEnv(t, testInstances())
	doc := denyDoc(t, "ec2:DescribeInstances", nil)
	if out, errOut, code := awsCLI(t, e, bob, bob.SecretAccessKey, "iam", "put-role-policy", "--role-name", "Developer",
		"--policy-name", "jitssh-revoke", "--policy-document", doc); code != 0 {
		t.Fatalf("put-role-policy: %d %s %s", code, out, errOut)
	}
	out, errOut, code := awsCLI(t, e, bob, bob.SecretAccessKey, "iam", "get-role-policy", "--role-name", "Developer", "--policy-name", "jitssh-revoke")
	var got struct {
		RoleName, PolicyName string
		PolicyDocument       policy.Document
	}
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.PolicyName != "jitssh-revoke" || len(got.PolicyDocument.Statement) != 1 || got.PolicyDocument.Statement[0].Effect != policy.Deny {
		t.Fatalf("get-role-policy: %d %s %s", code, out, errOut)
	}
	if out, _, code := awsCLI(t, e, bob, bob.SecretAccessKey, "iam", "list-role-policies", "--role-name", "Developer"); code != 0 || !strings.Contains(out, `"jitssh-revoke"`) {
		t.Errorf("list-role-policies: %d %s", code, out)
	}
	if _, errOut, code := awsCLI(t, e, alice, alice.SecretAccessKey, "ec2", "describe-instances"); code == 0 || !strings.Contains(errOut, "explicit deny in an identity-based policy") {
		t.Errorf("alice describe-instances under the deny: %d %s", code, errOut)
	}
	if _, errOut, code := awsCLI(t, e, bob, bob.SecretAccessKey, "iam", "delete-role-policy", "--role-name", "Developer", "--policy-name", "jitssh-revoke"); code != 0 {
		t.Fatalf("delete-role-policy: %d %s", code, errOut)
	}
	if _, errOut, code := awsCLI(t, e, alice, alice.SecretAccessKey, "ec2", "describe-instances"); code != 0 {
		t.Errorf("alice after delete-role-policy: %d %s", code, errOut)
	}
	if _, errOut, code := awsCLI(t, e, bob, bob.SecretAccessKey, "iam", "get-role-policy", "--role-name", "Developer", "--policy-name", "jitssh-revoke"); code == 0 || !strings.Contains(errOut, "NoSuchEntity") {
		t.Errorf("get-role-policy after delete: %d %s", code, errOut)
	}
}

// TestOrgSCPsAndInlinePoliciesAcrossAccounts: in an organization, the
// management account's SCP attached to a member account denies there at
// once, in every region; the member cannot manage policies; an inline
// role policy put through one region's endpoint applies in every region.
func TestOrgSCPsAndInlinePoliciesAcrossAccounts(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	mgmt, _ := e.org.Account(testAccount)
	mgmt.Home.SCPs = []policy.Document{adminAccess}
	ctx := context.Background()
	org := organizations.NewFromConfig(e.in(orgWest, credsOf(bob)))
	created, err := org.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String("jitssh-revoke-mallory"), Description: aws.String("test"),
		Type: orgtypes.PolicyTypeServiceControlPolicy, Content: aws.String(denyDoc(t, "ec2:DescribeInstances", nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: created.Policy.PolicySummary.Id, TargetId: aws.String(orgMember)}); err != nil {
		t.Fatal(err)
	}
	_, err = ec2.NewFromConfig(e.in(orgWest, credsOf(memberUser))).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	wantAPIError(t, err, "UnauthorizedOperation", "with an explicit deny in a service control policy")
	if _, err := ec2.NewFromConfig(e.in(orgWest, credsOf(bob))).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("the management account is not a target: %v", err)
	}
	_, err = organizations.NewFromConfig(e.in(testRegion, credsOf(memberUser))).ListPolicies(ctx, &organizations.ListPoliciesInput{Filter: orgtypes.PolicyTypeServiceControlPolicy})
	wantAPIError(t, err, "AccessDeniedException", "You don't have permissions to access this resource.")

	if _, err := iam.NewFromConfig(e.in(orgWest, credsOf(bob))).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("Developer"),
		PolicyName: aws.String("jitssh-revoke-alice"), PolicyDocument: aws.String(denyDoc(t, "ec2:DescribeInstances", nil))}); err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{testRegion, orgWest} {
		_, err = ec2.NewFromConfig(e.in(region, credsOf(alice))).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		wantAPIError(t, err, "UnauthorizedOperation", "with an explicit deny in an identity-based policy")
	}
}
