package apis

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/cwlogs"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

const (
	orgMember   = "210987654321"
	orgOutsider = "999988887777"
	orgWest     = "us-west-2"
	orgOptIn    = "ap-east-1"
	idEastMgmt  = "i-0c00000000000e001"
	idWestMgmt  = "i-0c00000000000e002"
	idWestMbr   = "i-0c00000000000e003"
	// orgMemberAlias is the member account's IAM alias (the management
	// account has none).
	orgMemberAlias = "acme-dev"
)

// memberUser is an IAM user of the member account, with administrator
// policies: it may call anything, but only in its own account.
var memberUser = world.Identity{
	AccessKeyID:     "AKIASANDBOXMEMBER001",
	SecretAccessKey: "member/secret/key/0123456789abcdefghijkl",
	ARN:             "arn:aws:iam::" + orgMember + ":user/mallory",
	UserID:          "AIDASANDBOXMALLORY",
	Policies:        []policy.Document{adminAccess},
}

// orgEnv is an organization served by NewRouter: the management account
// (alice, bob) in us-east-1 and us-west-2 with ap-east-1 disabled, and a
// member account (memberUser; the role OrganizationAccountAccessRole
// trusting the management account) in the same regions, each world with
// one instance (the member has none in us-east-1).
type orgEnv struct {
	*env
	org   *world.Org
	trail string
}

func newOrgEnv(t *testing.T) *orgEnv {
	t.Helper()
	in := func(id, region, name string) world.Instance {
		return world.Instance{ID: id, State: "running", PrivateIP: "10.0.0.1", AZ: region + "a", Tags: map[string]string{"Name": name}, SSMOnline: true}
	}
	mk := func(cfg world.Config) *world.World {
		w, err := world.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	mgmtEast := mk(world.Config{Region: testRegion, Account: testAccount, Identities: []world.Identity{alice, bob}, Instances: []world.Instance{in(idEastMgmt, testRegion, "web-east")}})
	mgmtWest := mk(world.Config{Region: orgWest, Account: testAccount, IAM: mgmtEast, Instances: []world.Instance{in(idWestMgmt, orgWest, "web-west")}})
	trust := policy.Document{Version: policy.Version, Statement: []policy.Statement{{Effect: policy.Allow, Action: policy.Strings{"sts:AssumeRole"},
		Principal: &policy.Principal{AWS: policy.Strings{"arn:aws:iam::" + testAccount + ":root"}}}}}
	mbrEast := mk(world.Config{Region: testRegion, Account: orgMember, AccountAlias: orgMemberAlias, Identities: []world.Identity{memberUser},
		Roles: []world.Role{{Name: "OrganizationAccountAccessRole", Trust: trust, Policies: []policy.Document{adminAccess}}}})
	mbrWest := mk(world.Config{Region: orgWest, Account: orgMember, IAM: mbrEast, Instances: []world.Instance{in(idWestMbr, orgWest, "api-west")}})
	org, err := world.NewOrg(
		&world.OrgAccount{ID: testAccount, Name: "management", Home: mgmtEast, Regions: map[string]*world.World{testRegion: mgmtEast, orgWest: mgmtWest}, Disabled: []string{orgOptIn}},
		&world.OrgAccount{ID: orgMember, Name: "dev", Home: mbrEast, Regions: map[string]*world.World{testRegion: mbrEast, orgWest: mbrWest}, Disabled: []string{orgOptIn}},
	)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cloudtrail.jsonl")
	tl, err := trail.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	e := &env{t: t, world: mgmtEast, logs: &syncBuffer{}}
	// As sandbox.Start: one Logs store given, the management account's
	// home region's.
	e.srv = httptest.NewServer(NewRouter(org, Options{Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Trail: tl, Logs: cwlogs.New(testRegion, testAccount, mgmtEast.Now)}))
	t.Cleanup(e.srv.Close)
	return &orgEnv{env: e, org: org, trail: path}
}

// in returns an SDK config signing as creds for region.
func (e *orgEnv) in(region string, creds aws.Credentials) aws.Config {
	e.t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.StaticCredentialsProvider{Value: creds}),
		config.WithBaseEndpoint(e.srv.URL),
		config.WithRetryer(testRetryer),
		config.WithHTTPClient(noKeepAlive()),
	)
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

func credsOf(id world.Identity) aws.Credentials {
	return aws.Credentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: id.SecretAccessKey, SessionToken: id.SessionToken}
}

// orgInstanceIDs lists the instance ids DescribeInstances answers.
func orgInstanceIDs(t *testing.T, c *ec2.Client) []string {
	t.Helper()
	out, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			ids = append(ids, aws.ToString(in.InstanceId))
		}
	}
	return ids
}

// TestOrgRoutesByKeyAndRegion: one endpoint; the signing key picks the
// account and the credential scope's region the world: the same key works
// in every region of its account and sees only that region's instances.
func TestOrgRoutesByKeyAndRegion(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	for _, tc := range []struct {
		id     world.Identity
		region string
		want   []string
	}{
		{alice, testRegion, []string{idEastMgmt}},
		{alice, orgWest, []string{idWestMgmt}},
		{memberUser, testRegion, nil},
		{memberUser, orgWest, []string{idWestMbr}},
	} {
		got := orgInstanceIDs(t, ec2.NewFromConfig(e.in(tc.region, credsOf(tc.id))))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s in %s: instances %v, want %v", tc.id.ARN, tc.region, got, tc.want)
		}
	}
	who, err := sts.NewFromConfig(e.in(orgWest, credsOf(memberUser))).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(who.Account) != orgMember {
		t.Errorf("GetCallerIdentity account = %s, want %s", aws.ToString(who.Account), orgMember)
	}
}

// TestOrgDisabledRegion: a call signed for an opt-in region the account
// has not enabled fails as AWS fails it, per protocol.
func TestOrgDisabledRegion(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	cfg := e.in(orgOptIn, credsOf(alice))
	ctx := context.Background()
	_, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	wantAPIError(t, err, "AuthFailure", "AWS was not able to validate the provided access credentials")
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", "The security token included in the request is invalid")
	_, err = ssm.NewFromConfig(cfg).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	wantAPIError(t, err, "UnrecognizedClientException", "The security token included in the request is invalid")
	b, err := os.ReadFile(e.trail)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"awsRegion":"`+orgOptIn+`"`); n != 3 {
		t.Errorf("CloudTrail: %d records in %s, want the 3 refused calls\n%s", n, orgOptIn, b)
	}
}

// TestDescribeRegions: the enabled regions, and with AllRegions the opt-in
// region not enabled; names and filters narrow the list.
func TestDescribeRegions(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	c := ec2.NewFromConfig(e.in(testRegion, credsOf(alice)))
	ctx := context.Background()
	list := func(in *ec2.DescribeRegionsInput) []string {
		t.Helper()
		out, err := c.DescribeRegions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range out.Regions {
			got = append(got, aws.ToString(r.RegionName)+"="+aws.ToString(r.OptInStatus)+"@"+aws.ToString(r.Endpoint))
		}
		return got
	}
	east := "us-east-1=opt-in-not-required@ec2.us-east-1.amazonaws.com"
	west := "us-west-2=opt-in-not-required@ec2.us-west-2.amazonaws.com"
	hk := "ap-east-1=not-opted-in@ec2.ap-east-1.amazonaws.com"
	for _, tc := range []struct {
		name string
		in   *ec2.DescribeRegionsInput
		want []string
	}{
		{"enabled", &ec2.DescribeRegionsInput{}, []string{east, west}},
		{"all", &ec2.DescribeRegionsInput{AllRegions: aws.Bool(true)}, []string{hk, east, west}},
		{"by name", &ec2.DescribeRegionsInput{RegionNames: []string{"us-west-2"}}, []string{west}},
		{"opt-in filter", &ec2.DescribeRegionsInput{AllRegions: aws.Bool(true),
			Filters: []ec2types.Filter{{Name: aws.String("opt-in-status"), Values: []string{"not-opted-in"}}}}, []string{hk}},
		{"wildcard", &ec2.DescribeRegionsInput{Filters: []ec2types.Filter{{Name: aws.String("region-name"), Values: []string{"us-*-2"}}}}, []string{west}},
	} {
		if got := list(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	_, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{RegionNames: []string{"eu-nowhere-9"}})
	wantAPIError(t, err, "InvalidParameterValue", "Invalid region: eu-nowhere-9")
	_, err = c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{Filters: []ec2types.Filter{{Name: aws.String("bogus"), Values: []string{"x"}}}})
	wantAPIError(t, err, "InvalidParameterValue", "bogus")
}

// TestCrossAccountAssumeRole: a management principal assumes the member's
// access role; the session is the member's (its account, its instances in
// every region), and CloudTrail records each call in the account and
// region it was served in. A principal of the member account is not
// trusted by the role, and a role of an account outside the organization
// is denied like a missing one.
func TestCrossAccountAssumeRole(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	ctx := context.Background()
	role := "arn:aws:iam::" + orgMember + ":role/OrganizationAccountAccessRole"
	out, err := sts.NewFromConfig(e.in(testRegion, credsOf(alice))).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.AssumedRoleUser.Arn), "arn:aws:sts::"+orgMember+":assumed-role/OrganizationAccountAccessRole/alice"; got != want {
		t.Errorf("assumed role ARN %s, want %s", got, want)
	}
	sess := aws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken)}
	if got := orgInstanceIDs(t, ec2.NewFromConfig(e.in(orgWest, sess))); !slices.Equal(got, []string{idWestMbr}) {
		t.Errorf("member session in %s sees %v, want [%s]", orgWest, got, idWestMbr)
	}
	_, err = sts.NewFromConfig(e.in(testRegion, credsOf(memberUser))).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("mallory")})
	wantAPIError(t, err, "AccessDenied", "is not authorized to perform: sts:AssumeRole")
	_, err = sts.NewFromConfig(e.in(testRegion, credsOf(alice))).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + orgOutsider + ":role/OrganizationAccountAccessRole"), RoleSessionName: aws.String("alice")})
	wantAPIError(t, err, "AccessDenied", "is not authorized to perform: sts:AssumeRole")

	want := map[string]string{"AssumeRole": testAccount + " " + testRegion, "DescribeInstances": orgMember + " " + orgWest}
	f, err := os.Open(e.trail)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]string{}
	assumed := map[string]bool{} // accounts whose CloudTrail has the AssumeRole
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			EventName, AWSRegion, RecipientAccountID string
			ErrorCode                                string
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.EventName == "AssumeRole" && ev.ErrorCode == "" {
			assumed[ev.RecipientAccountID] = true
		}
		if _, ok := seen[ev.EventName]; !ok && ev.ErrorCode == "" {
			seen[ev.EventName] = ev.RecipientAccountID + " " + ev.AWSRegion
		}
	}
	if !assumed[testAccount] || !assumed[orgMember] || len(assumed) != 2 {
		t.Errorf("the cross-account AssumeRole is in the CloudTrail of %v, want the caller's and the role's accounts", assumed)
	}
	for name, w := range want {
		if seen[name] != w {
			t.Errorf("CloudTrail %s: account and region %q, want %q", name, seen[name], w)
		}
	}
}

// TestAWSCLIOrg: the pip aws CLI lists the regions and assumes the
// member's role across accounts.
func TestAWSCLIOrg(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	out, stderr, code := awsCLI(t, e.env, alice, alice.SecretAccessKey, "ec2", "describe-regions", "--all-regions")
	if code != 0 {
		t.Fatalf("describe-regions: exit %d: %s", code, stderr)
	}
	for _, s := range []string{`"RegionName": "ap-east-1"`, `"OptInStatus": "not-opted-in"`, `"RegionName": "us-west-2"`} {
		if !strings.Contains(out, s) {
			t.Errorf("describe-regions --all-regions lacks %s:\n%s", s, out)
		}
	}
	role := "arn:aws:iam::" + orgMember + ":role/OrganizationAccountAccessRole"
	out, stderr, code = awsCLI(t, e.env, alice, alice.SecretAccessKey, "sts", "assume-role", "--role-arn", role, "--role-session-name", "alice")
	if code != 0 {
		t.Fatalf("assume-role: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, `"Arn": "arn:aws:sts::`+orgMember+`:assumed-role/OrganizationAccountAccessRole/alice"`) {
		t.Errorf("assume-role output:\n%s", out)
	}
	_, stderr, code = awsCLI(t, e.env, alice, alice.SecretAccessKey, "ec2", "describe-instances", "--region", orgOptIn)
	if code == 0 || !strings.Contains(stderr, "AuthFailure") {
		t.Errorf("describe-instances in a disabled region: exit %d, stderr %s; want AuthFailure", code, stderr)
	}
}

// TestOrgLogsPerWorld: CloudWatch Logs is regional: a log group created in
// one (account, region) world is not in the account's other region nor in
// another account.
func TestOrgLogsPerWorld(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	ctx := context.Background()
	if _, err := cloudwatchlogs.NewFromConfig(e.in(orgWest, credsOf(alice))).CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/west")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id     world.Identity
		region string
		want   int
	}{{alice, orgWest, 1}, {alice, testRegion, 0}, {memberUser, orgWest, 0}} {
		out, err := cloudwatchlogs.NewFromConfig(e.in(tc.region, credsOf(tc.id))).DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.LogGroups) != tc.want {
			t.Errorf("%s in %s: %d log groups, want %d", tc.id.ARN, tc.region, len(out.LogGroups), tc.want)
		}
	}
}

// TestOrgThrottlePerWorld: a rate rule throttles per account and region,
// as AWS's request buckets: a second call in one world is throttled, the
// first in another world of the same account is not.
func TestOrgThrottlePerWorld(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	ctx := context.Background()
	rt := e.srv.Config.Handler.(*router)
	var tb knobs.Table
	if err := tb.SetThrottle(map[string]string{"ec2:DescribeInstances": "1/s"}); err != nil {
		t.Fatal(err)
	}
	for _, h := range rt.byWorld {
		h.opts.Knobs = &tb
	}
	east := ec2.NewFromConfig(e.in(testRegion, credsOf(alice)))
	if _, err := east.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := east.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	wantAPIError(t, err, "RequestLimitExceeded", "Request limit exceeded")
	for _, c := range []aws.Config{e.in(orgWest, credsOf(alice)), e.in(testRegion, credsOf(memberUser))} {
		if _, err := ec2.NewFromConfig(c).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
			t.Errorf("first call in another world: %v", err)
		}
	}
}
