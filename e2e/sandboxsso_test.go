package e2e

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

// TestSSOProfileConnectsWithTheSandboxToken: a device sign-in to the
// sandbox's Identity Center (the SDK's OIDC client, approved as an
// administrator would), its token in the standard cache, and `jitssh
// --profile sso ssh web-1` connects: the SDK inside jitssh takes the
// permission set's role session from the portal, the key is pushed by
// AWSReservedSSO_JitsshUser_…/<user> and the login is the Identity Center
// user name, which the userName tag allows.
func TestSSOProfileConnectsWithTheSandboxToken(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	if err := e.sb.WriteFiles(filepath.Join(t.TempDir(), "env")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	oidc := ssooidc.NewFromConfig(aws.Config{Region: e.sb.World.Region, BaseEndpoint: aws.String(e.sb.URL), RetryMaxAttempts: 1, HTTPClient: sandboxenv.HTTPClient(t, e.sb)})
	reg, err := oidc.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("e2e"), ClientType: aws.String("public"), Scopes: []string{"sso:account:access"}})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(e.sb.SSO.StartURL())})
	if err != nil {
		t.Fatal(err)
	}
	user := e.sb.SSO.Users()[0].UserName
	if err := e.sb.SSO.Approve(*dev.UserCode, user); err != nil {
		t.Fatal(err)
	}
	tok, err := oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
		GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"), DeviceCode: dev.DeviceCode})
	if err != nil {
		t.Fatal(err)
	}
	utc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	cache, _ := json.Marshal(map[string]any{"startUrl": e.sb.SSO.StartURL(), "region": e.sb.World.Region, "accessToken": *tok.AccessToken,
		"expiresAt": utc(time.Now().Add(time.Hour)), "clientId": *reg.ClientId, "clientSecret": *reg.ClientSecret,
		"registrationExpiresAt": utc(time.Unix(reg.ClientSecretExpiresAt, 0)), "refreshToken": *tok.RefreshToken})
	sum := sha1.Sum([]byte(sandbox.SSOSessionName))
	dir := filepath.Join(e.home, ".aws", "sso", "cache")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:])+".json"), cache, 0o600); err != nil {
		t.Fatal(err)
	}
	files := []string{"AWS_CONFIG_FILE=" + filepath.Join(e.sb.StateDir, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(e.sb.StateDir, "aws-credentials")}
	out, stderr, err := e.run3(files, "jitssh", "--profile", "sso", "ssh", "web-1", "--", "id", "-un")
	if err != nil {
		t.Fatalf("jitssh --profile sso ssh web-1: %v\n%s\n%s", err, out, stderr)
	}
	if got := strings.TrimSpace(out); got != user {
		t.Fatalf("logged in as %q, want the Identity Center user %q", got, user)
	}
	if n := e.cloudTrailCount("GetRoleCredentials", `"userName":"`+user+`"`); n < 1 {
		t.Errorf("no GetRoleCredentials by %s in CloudTrail", user)
	}
	if n := e.cloudTrailCount("SendSSHPublicKey", "assumed-role/AWSReservedSSO_JitsshUser_"); n != 1 {
		t.Errorf("%d SendSSHPublicKey calls by the SSO role session, want 1", n)
	}
}
