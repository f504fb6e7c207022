package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
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

// TestSSOAuthorizationCodeOnTheSandboxURL: the sign-in pages and the
// authorization-code grant work through the sandbox's one listener (the
// routes by path beside the signed APIs): the page signs the first user
// in, whose AdministratorAccess role session STS then names.
func TestSSOAuthorizationCodeOnTheSandboxURL(t *testing.T) {
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ctx := context.Background()
	for _, p := range []string{"/start", "/device"} {
		resp, err := http.Get(sb.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "IAM Identity Center") {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, b)
		}
	}
	base := aws.Config{Region: sb.World.Region, BaseEndpoint: aws.String(sb.URL), RetryMaxAttempts: 1}
	oidc := ssooidc.NewFromConfig(base)
	reg, err := oidc.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("test"), ClientType: aws.String("public"),
		GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectUris: []string{"http://127.0.0.1/oauth/callback"}, IssuerUrl: aws.String(sb.SSO.StartURL())})
	if err != nil {
		t.Fatal(err)
	}
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	redirect := "http://127.0.0.1:9/oauth/callback" // never dialled: the redirect is read, not followed
	q := url.Values{"response_type": {"code"}, "client_id": {*reg.ClientId}, "redirect_uri": {redirect}, "state": {"st"},
		"code_challenge_method": {"S256"}, "scopes": {"sso:account:access"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}}
	resp, err := http.Get(sb.URL + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="request" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("authorize page %d %s", resp.StatusCode, page)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	first := sb.SSO.Users()[0].UserName
	resp, err = noFollow.PostForm(sb.URL+"/authorize", url.Values{"request": {string(m[1])}, "user": {first}, "action": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Host != "127.0.0.1:9" || loc.Query().Get("state") != "st" {
		t.Fatalf("redirect %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String("authorization_code"),
		Code: aws.String(loc.Query().Get("code")), RedirectUri: aws.String(redirect), CodeVerifier: aws.String(verifier)})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := awssso.NewFromConfig(base).GetRoleCredentials(ctx, &awssso.GetRoleCredentialsInput{AccessToken: tok.AccessToken, AccountId: aws.String(sb.World.Account), RoleName: aws.String("AdministratorAccess")})
	if err != nil {
		t.Fatal(err)
	}
	as := base.Copy()
	as.Credentials = credentials.NewStaticCredentialsProvider(*rc.RoleCredentials.AccessKeyId, *rc.RoleCredentials.SecretAccessKey, *rc.RoleCredentials.SessionToken)
	who, err := sts.NewFromConfig(as).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.Contains(*who.Arn, ":assumed-role/AWSReservedSSO_AdministratorAccess_") || !strings.HasSuffix(*who.Arn, "/"+first) {
		t.Fatalf("GetCallerIdentity: %v %v", err, who)
	}
}
