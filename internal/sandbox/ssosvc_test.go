package sandbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	awssso "github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// TestSSOSessionsKeepTheImpersonationRules signs dave in (device flow,
// approved through the admin endpoint), takes the JitsshUser role session
// from the portal and uses it with the real SDK: STS names the
// AWSReservedSSO role session after dave, EC2 Instance Connect takes a key
// for the OS user dave and refuses one for alice (the userName principal
// tag is dave's: attributes for access control).
func TestSSOSessionsKeepTheImpersonationRules(t *testing.T) {
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
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
	admin := func(path, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, sb.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+sb.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := admin("/_sandbox/sso/approve", `{"user_code":"`+*dev.UserCode+`","user":"mallory"}`); code != 400 || !strings.Contains(body, "not a user") {
		t.Fatalf("approve as an unknown user: %d %s", code, body)
	}
	if code, body := admin("/_sandbox/sso/approve", `{"user_code":"`+*dev.UserCode+`","user":"dave"}`); code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}
	tok, err := oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
		GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"), DeviceCode: dev.DeviceCode})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := awssso.NewFromConfig(base).GetRoleCredentials(ctx, &awssso.GetRoleCredentialsInput{AccessToken: tok.AccessToken, AccountId: aws.String(sb.World.Account), RoleName: aws.String("JitsshUser")})
	if err != nil {
		t.Fatal(err)
	}
	c := rc.RoleCredentials
	if left := time.Until(time.UnixMilli(c.Expiration)); left < 59*time.Minute || left > 61*time.Minute || !strings.HasPrefix(*c.AccessKeyId, "ASIA") {
		t.Fatalf("role credentials %s expire in %v", *c.AccessKeyId, left)
	}
	as := base.Copy()
	as.Credentials = credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
	who, err := sts.NewFromConfig(as).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasPrefix(*who.Arn, "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_JitsshUser_") || !strings.HasSuffix(*who.Arn, "/dave") {
		t.Fatalf("GetCallerIdentity: %v %v", err, who)
	}
	eic := ec2instanceconnect.NewFromConfig(as)
	push := func(osUser string) error {
		_, err := eic.SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{InstanceId: aws.String("i-0a1b2c3d4e5f00001"),
			InstanceOSUser: aws.String(osUser), SSHPublicKey: aws.String(testkeys.New(t).AuthorizedKey())})
		return err
	}
	if err := push("dave"); err != nil {
		t.Fatalf("dave pushing for dave: %v", err)
	}
	var ae smithy.APIError
	if err := push("alice"); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("dave pushing for alice: %v, want AccessDeniedException", err)
	}
}
