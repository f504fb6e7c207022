package sandbox

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	awssso "github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// startOrgSandbox starts the sandbox of the configuration f (embedded SSH
// servers).
func startOrgSandbox(t *testing.T, f *config.File) *Sandbox {
	t.Helper()
	acct, err := f.Resolve(LocalUser())
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir(), Account: acct})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

// orgSDK is an SDK config for the sandbox in region with static creds.
func orgSDK(sb *Sandbox, region string, c aws.Credentials) aws.Config {
	return aws.Config{Region: region, BaseEndpoint: aws.String(sb.URL), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: c}}
}

// TestOrgSSOAssignmentsReachMembers: the first Identity Center user of the
// built-in organization lists the management account and the members it
// is assigned to (named), not audit; its role credentials in dev are dev's
// and see dev's instance in us-west-2 only there.
func TestOrgSSOAssignmentsReachMembers(t *testing.T) {
	sb := startOrgSandbox(t, config.BuiltinOrg())
	ctx := context.Background()
	base := aws.Config{Region: sb.World.Region, BaseEndpoint: aws.String(sb.URL), RetryMaxAttempts: 1}
	oidc := ssooidc.NewFromConfig(base)
	reg, err := oidc.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("test"), ClientType: aws.String("public"), Scopes: []string{"sso:account:access"}})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(sb.SSO.StartURL())})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, sb.URL+"/_sandbox/sso/approve", strings.NewReader(`{"user_code":"`+*dev.UserCode+`"}`))
	req.Header.Set("Authorization", "Bearer "+sb.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("approve: %d %s", resp.StatusCode, b)
	}
	tok, err := oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
		GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"), DeviceCode: dev.DeviceCode})
	if err != nil {
		t.Fatal(err)
	}
	portal := awssso.NewFromConfig(base)
	la, err := portal.ListAccounts(ctx, &awssso.ListAccountsInput{AccessToken: tok.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	var accounts []string
	for _, a := range la.AccountList {
		accounts = append(accounts, aws.ToString(a.AccountId)+"="+aws.ToString(a.AccountName))
	}
	if want := []string{"123456789012=management", "210987654321=dev", "345678901234=prod"}; !slices.Equal(accounts, want) {
		t.Errorf("ListAccounts %v, want %v", accounts, want)
	}
	roles, err := portal.ListAccountRoles(ctx, &awssso.ListAccountRolesInput{AccessToken: tok.AccessToken, AccountId: aws.String("210987654321")})
	if err != nil {
		t.Fatal(err)
	}
	if len(roles.RoleList) != 1 || aws.ToString(roles.RoleList[0].RoleName) != "JitsshUser" {
		t.Errorf("ListAccountRoles in dev: %+v", roles.RoleList)
	}
	if _, err := portal.GetRoleCredentials(ctx, &awssso.GetRoleCredentialsInput{AccessToken: tok.AccessToken, AccountId: aws.String("456789012345"), RoleName: aws.String("JitsshUser")}); err == nil {
		t.Error("GetRoleCredentials in audit, where the user has no assignment, worked")
	}
	rc, err := portal.GetRoleCredentials(ctx, &awssso.GetRoleCredentialsInput{AccessToken: tok.AccessToken, AccountId: aws.String("210987654321"), RoleName: aws.String("JitsshUser")})
	if err != nil {
		t.Fatal(err)
	}
	c := aws.Credentials{AccessKeyID: *rc.RoleCredentials.AccessKeyId, SecretAccessKey: *rc.RoleCredentials.SecretAccessKey, SessionToken: *rc.RoleCredentials.SessionToken}
	who, err := sts.NewFromConfig(orgSDK(sb, "us-west-2", c)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(who.Arn), "arn:aws:sts::210987654321:assumed-role/AWSReservedSSO_JitsshUser_") {
		t.Errorf("SSO session in dev is %s", aws.ToString(who.Arn))
	}
	// The permission set's policy and the SCP hold in the member's second
	// region: a key for the user's own OS account, none for another's.
	eic := ec2instanceconnect.NewFromConfig(orgSDK(sb, "us-west-2", c))
	for user, ok := range map[string]bool{sb.DefaultUser(): true, "alice": false} {
		_, err := eic.SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{InstanceId: aws.String("i-0d1b2c3d4e5f00002"),
			InstanceOSUser: aws.String(user), SSHPublicKey: aws.String(testkeys.New(t).AuthorizedKey())})
		if (err == nil) != ok {
			t.Errorf("SSO session in dev pushes a key for %s in us-west-2: %v, want success %t", user, err, ok)
		}
	}
	for region, want := range map[string]int{"us-west-2": 1, "us-east-1": 1} {
		out, err := ec2.NewFromConfig(orgSDK(sb, region, c)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Reservations) != want {
			t.Errorf("dev in %s: %d instances, want %d", region, len(out.Reservations), want)
		}
	}
}

// TestGeneratedOrgListsEveryInstance: --generate 50x4x200 is 40,000
// instances, each listed once from its own account and region: the
// management account's keys assume every member's access role (the
// organization's reach policy), and DescribeInstances in each of the four
// regions answers that world's 200 (plus the built-in fleet in the
// management account's home region).
func TestGeneratedOrgListsEveryInstance(t *testing.T) {
	f := config.Builtin()
	g, err := config.ParseGenerate("50x4x200")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetGenerate(g); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sb := startOrgSandbox(t, f)
	t.Logf("started in %v", time.Since(start))
	if n := len(sb.Org.Accounts()); n != 50 {
		t.Fatalf("%d accounts, want 50", n)
	}
	ctx := context.Background()
	me := aws.Credentials{AccessKeyID: sb.Identity.AccessKeyID, SecretAccessKey: sb.Identity.SecretAccessKey}
	regions, err := ec2.NewFromConfig(orgSDK(sb, sb.World.Region, me)).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(regions.Regions) != 4 {
		t.Fatalf("DescribeRegions: %d regions, want 4", len(regions.Regions))
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	sem := make(chan struct{}, 16)
	list := func(c aws.Credentials, region string) {
		defer wg.Done()
		sem <- struct{}{}
		defer func() { <-sem }()
		out, err := ec2.NewFromConfig(orgSDK(sb, region, c)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			errs <- err
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				if strings.HasPrefix(aws.ToString(in.InstanceId), "i-0f") {
					if seen[*in.InstanceId] {
						errs <- &dupError{*in.InstanceId}
					}
					seen[*in.InstanceId] = true
				}
			}
		}
	}
	stsc := sts.NewFromConfig(orgSDK(sb, sb.World.Region, me))
	listed := time.Now()
	for _, a := range sb.Org.Accounts() {
		c := me
		if a.ID != sb.World.Account {
			out, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + a.ID + ":role/OrganizationAccountAccessRole"), RoleSessionName: aws.String("scale")})
			if err != nil {
				t.Fatal(err)
			}
			c = aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
		}
		for _, r := range regions.Regions {
			wg.Add(1)
			go list(c, aws.ToString(r.RegionName))
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("listed %d in %v", len(seen), time.Since(listed))
	if len(seen) != 40000 {
		t.Errorf("%d generated instances listed, want 40,000", len(seen))
	}
}

type dupError struct{ id string }

func (e *dupError) Error() string { return "instance " + e.id + " listed twice" }
