package sandboxcli

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awssso "github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/testtool"
)

// ssoDeviceSignIn signs in to the sandbox's Identity Center with the real
// SDK's OIDC client, the approval given by `ctl sso approve` (without a
// code: the only pending one), and returns the AWS CLI's token cache
// entry for the sso-session "sandbox".
func ssoDeviceSignIn(t *testing.T, vars map[string]string, envFile string, approveArgs ...string) map[string]any {
	t.Helper()
	ctx := context.Background()
	oidc := ssooidc.NewFromConfig(aws.Config{Region: vars["AWS_REGION"], BaseEndpoint: aws.String(vars["AWS_ENDPOINT_URL"]), RetryMaxAttempts: 1})
	reg, err := oidc.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("sandboxcli-test"), ClientType: aws.String("public"), Scopes: []string{"sso:account:access"}})
	if err != nil {
		t.Fatalf("RegisterClient: %v", err)
	}
	startURL := vars["AWS_ENDPOINT_URL"] + "/start"
	dev, err := oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(startURL)})
	if err != nil {
		t.Fatalf("StartDeviceAuthorization: %v", err)
	}
	if out, errOut, code := ctl(t, envFile, "sso", "pending"); code != 0 || !strings.HasPrefix(out, *dev.UserCode+"  sandboxcli-test") {
		t.Fatalf("ctl sso pending: %d %q %s", code, out, errOut)
	}
	if out, errOut, code := ctl(t, envFile, append([]string{"sso", "approve"}, approveArgs...)...); code != 0 || out != "approved "+*dev.UserCode+"\n" {
		t.Fatalf("ctl sso approve: %d %q %s", code, out, errOut)
	}
	tok, err := oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
		GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"), DeviceCode: dev.DeviceCode})
	if err != nil {
		t.Fatalf("CreateToken after approval: %v", err)
	}
	utc := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
	return map[string]any{
		"startUrl": startURL, "region": vars["AWS_REGION"], "accessToken": *tok.AccessToken,
		"expiresAt": utc(time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)), "clientId": *reg.ClientId, "clientSecret": *reg.ClientSecret,
		"registrationExpiresAt": utc(time.Unix(reg.ClientSecretExpiresAt, 0)), "refreshToken": *tok.RefreshToken,
	}
}

// ssoHome returns a home directory whose ~/.aws/sso/cache holds token for
// the sso-session "sandbox", as `aws sso login` writes it.
func ssoHome(t *testing.T, token map[string]any) string {
	t.Helper()
	home := t.TempDir()
	sum := sha1.Sum([]byte(sandbox.SSOSessionName))
	dir := filepath.Join(home, ".aws", "sso", "cache")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if token == nil {
		return home
	}
	b, _ := json.Marshal(token)
	if err := os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:])+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// awsSSO runs the pip aws CLI with the sandbox's AWS config and home.
func awsSSO(t *testing.T, vars map[string]string, home string, args ...string) (string, string, int) {
	t.Helper()
	bin := testtool.Need(t, "aws", "pip install awscli")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--output", "json"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS_CONFIG_FILE=" + vars["JITSSH_SANDBOX_AWS_CONFIG"],
		"AWS_SHARED_CREDENTIALS_FILE=" + vars["JITSSH_SANDBOX_AWS_CREDENTIALS"], "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYENV_") || strings.HasPrefix(kv, "LANG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// TestSSOSignInWithCtlAndTheAWSCLI: a device sign-in approved with `ctl
// sso approve`, its token in the AWS CLI's cache, and `aws sts
// get-caller-identity --profile sso` (the pip CLI v1: GetRoleCredentials
// with the cached token, then STS with the role session) answered as the
// permission set's role session named after the Identity Center user;
// with the access token expired, botocore and then the Go SDK's SSO
// provider refresh it against the sandbox's OIDC (rotating the refresh
// token); after `ctl sso revoke` the portal refuses the token.
func TestSSOSignInWithCtlAndTheAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox and runs the aws CLI")
	}
	vars, envFile := upFile(t)
	conf, err := os.ReadFile(vars["JITSSH_SANDBOX_AWS_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[sso-session sandbox]\nsso_start_url = " + vars["AWS_ENDPOINT_URL"] + "/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
		"[profile sso]\nsso_session = sandbox\nsso_account_id = 123456789012\nsso_role_name = JitsshUser\nregion = us-east-1\nendpoint_url = " + vars["AWS_ENDPOINT_URL"] + "\nservices = jitssh-sandbox-sso\n",
		"sso =\n  endpoint_url = " + vars["AWS_ENDPOINT_URL"] + "\nsso_oidc =\n  endpoint_url = " + vars["AWS_ENDPOINT_URL"] + "\n"} {
		if !strings.Contains(string(conf), want) {
			t.Fatalf("AWS config lacks\n%s\nin\n%s", want, conf)
		}
	}
	user := vars["JITSSH_SANDBOX_USER"] // the built-in first SSO user is named like the default identity's session
	token := ssoDeviceSignIn(t, vars, envFile, "--wait", "5s")
	out, errOut, code := awsSSO(t, vars, ssoHome(t, token), "sts", "get-caller-identity", "--profile", "sso")
	var who struct{ Arn, UserId, Account string }
	if code != 0 || json.Unmarshal([]byte(out), &who) != nil {
		t.Fatalf("aws sts get-caller-identity --profile sso: exit %d\n%s\n%s", code, out, errOut)
	}
	if !regexp.MustCompile(`^arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_JitsshUser_[0-9a-f]{16}/`+regexp.QuoteMeta(user)+`$`).MatchString(who.Arn) ||
		!strings.HasSuffix(who.UserId, ":"+user) {
		t.Fatalf("caller %+v, want the JitsshUser role session of %s", who, user)
	}

	// The legacy profile: the token cache keyed by the start URL.
	legacy := ssoHome(t, nil)
	sum := sha1.Sum([]byte(vars["AWS_ENDPOINT_URL"] + "/start"))
	b, _ := json.Marshal(map[string]any{"startUrl": token["startUrl"], "region": token["region"], "accessToken": token["accessToken"], "expiresAt": token["expiresAt"]})
	if err := os.WriteFile(filepath.Join(legacy, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := awsSSO(t, vars, legacy, "sts", "get-caller-identity", "--profile", "sso-legacy"); code != 0 || !strings.Contains(out, who.Arn) {
		t.Fatalf("aws sts get-caller-identity --profile sso-legacy: exit %d\n%s\n%s", code, out, errOut)
	}

	// An expired access token: botocore refreshes it with the refresh token
	// (CreateToken refresh_token) and writes the rotated pair to the cache.
	expired := map[string]any{}
	for k, v := range token {
		expired[k] = v
	}
	expired["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05Z")
	home := ssoHome(t, expired)
	out, errOut, code = awsSSO(t, vars, home, "sts", "get-caller-identity", "--profile", "sso")
	if code != 0 || !strings.Contains(out, who.Arn) {
		t.Fatalf("with an expired access token: exit %d\n%s\n%s", code, out, errOut)
	}
	sum = sha1.Sum([]byte(sandbox.SSOSessionName))
	b, err = os.ReadFile(filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json"))
	var cached map[string]any
	if err != nil || json.Unmarshal(b, &cached) != nil || cached["accessToken"] == token["accessToken"] || cached["refreshToken"] == token["refreshToken"] || cached["refreshToken"] == nil {
		t.Fatalf("the token cache after botocore's refresh: %v %s", err, b)
	}

	// The Go SDK's SSO credential provider, from the same files: with the
	// env file's variables (AWS_ENDPOINT_URL alone would send the SSO
	// calls to AWS: the SDK makes the provider's clients before it reads
	// endpoint_url), and with none (the config's services section).
	// The access token botocore refreshed, marked expired: the SDK
	// refreshes it in turn (and rotates the refresh token again).
	cached["expiresAt"] = expired["expiresAt"]
	cached["registrationExpiresAt"] = token["registrationExpiresAt"]
	sdkHome := ssoHome(t, cached)
	t.Setenv("HOME", sdkHome)
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_STS", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for _, env := range [][]string{{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC"}, nil} {
		for _, k := range env {
			t.Setenv(k, vars[k])
		}
		cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithSharedConfigProfile("sso"),
			awsconfig.WithSharedConfigFiles([]string{vars["JITSSH_SANDBOX_AWS_CONFIG"]}), awsconfig.WithSharedCredentialsFiles([]string{vars["JITSSH_SANDBOX_AWS_CREDENTIALS"]}))
		if err != nil {
			t.Fatal(err)
		}
		got, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil || *got.Arn != who.Arn {
			t.Fatalf("the Go SDK with profile sso and %v set: %v %v", env, err, got)
		}
		for _, k := range env {
			os.Unsetenv(k)
		}
	}
	b, err = os.ReadFile(filepath.Join(sdkHome, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json"))
	var sdkCached map[string]any
	if err != nil || json.Unmarshal(b, &sdkCached) != nil || sdkCached["refreshToken"] == cached["refreshToken"] {
		t.Fatalf("the token cache after the Go SDK's refresh: %v %s", err, b)
	}

	// Revoked: a fresh CLI (no cached role credentials) is refused; botocore
	// says so for the portal's UnauthorizedException only.
	if out, errOut, code := ctl(t, envFile, "sso", "revoke", "--user", user); code != 0 || out != "revoked 1 sign-in(s)\n" {
		t.Fatalf("ctl sso revoke: %d %q %s", code, out, errOut)
	}
	_, errOut, code = awsSSO(t, vars, ssoHome(t, token), "sts", "get-caller-identity", "--profile", "sso")
	if code == 0 || !strings.Contains(errOut, "The SSO session associated with this profile has expired or is otherwise invalid") {
		t.Fatalf("after revocation: exit %d\n%s", code, errOut)
	}
	if out, errOut, code := ctl(t, envFile, "sso", "ttl", "30s", "--device-code", "5s"); code != 0 || out != "access_token_ttl=30s device_code_ttl=5s\n" {
		t.Fatalf("ctl sso ttl: %d %q %s", code, out, errOut)
	}
}

// TestCtlSSOErrors: approving without a pending sign-in, an unknown code
// or user, and a bad duration fail with messages that say what to do.
func TestCtlSSOErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox")
	}
	t.Parallel()
	_, envFile := upFile(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sso", "approve"}, "no device sign-in is pending"},
		{[]string{"sso", "approve", "BCDF-GHJK"}, "user code BCDF-GHJK is unknown"},
		{[]string{"sso", "approve", "AEIO-UAEI"}, "not a letter of user codes"},
		{[]string{"sso", "approve", "BCDF-GHJK", "--user", "mallory"}, `"mallory" is not a user`},
		{[]string{"sso", "revoke", "--user", "mallory"}, `"mallory" is not a user`},
		{[]string{"sso", "ttl", "soon"}, "is not a duration"},
		{[]string{"sso", "ttl", "48h"}, "from 1s to 24h"},
		{[]string{"sso", "ttl", "--device-code", "2h"}, "device_code_ttl: want a duration from 1s to 1h"},
	} {
		out, errOut, code := ctl(t, envFile, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("ctl %v: exit %d, %q %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
	if out, _, code := ctl(t, envFile, "sso", "pending", "--output", "json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("ctl sso pending -o json: %d %q", code, out)
	}
}

// TestCtlSSOBrowseIsTheBrowser: `ctl sso browse URL` signs in through the
// authorize page a client opened (as BROWSER would): the client's loopback
// listener gets the code and state, and the code with the PKCE verifier
// gives dave's token; --deny sends access_denied; a URL elsewhere is
// refused.
func TestCtlSSOBrowseIsTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox")
	}
	t.Parallel()
	vars, envFile := upFile(t)
	ctx := context.Background()
	base := aws.Config{Region: vars["AWS_REGION"], BaseEndpoint: aws.String(vars["AWS_ENDPOINT_URL"]), RetryMaxAttempts: 1}
	oidc := ssooidc.NewFromConfig(base)
	reg, err := oidc.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("browse-test"), ClientType: aws.String("public"),
		GrantTypes: []string{"authorization_code", "refresh_token"}, RedirectUris: []string{"http://127.0.0.1/oauth/callback"},
		IssuerUrl: aws.String(vars["AWS_ENDPOINT_URL"] + "/start"), Scopes: []string{"sso:account:access"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan url.Values, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.URL.Query() })}
	go srv.Serve(ln)
	defer srv.Close()
	redirect := "http://" + ln.Addr().String() + "/oauth/callback"
	verifier := strings.Repeat("Ab9~", 16)
	sum := sha256.Sum256([]byte(verifier))
	authorize := vars["AWS_ENDPOINT_URL"] + "/authorize?" + url.Values{"response_type": {"code"}, "client_id": {*reg.ClientId}, "redirect_uri": {redirect},
		"state": {"s1"}, "code_challenge_method": {"S256"}, "scopes": {"sso:account:access"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}}.Encode()
	out, errOut, code := ctl(t, envFile, "sso", "browse", authorize, "--user", "dave")
	if code != 0 || !strings.HasPrefix(out, "redirected to "+redirect+"?") {
		t.Fatalf("ctl sso browse: %d %q %s", code, out, errOut)
	}
	q := <-got
	tok, err := oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String("authorization_code"),
		Code: aws.String(q.Get("code")), RedirectUri: aws.String(redirect), CodeVerifier: aws.String(verifier)})
	if err != nil || q.Get("state") != "s1" {
		t.Fatalf("CreateToken with the code: %v (state %q)", err, q.Get("state"))
	}
	roles, err := awssso.NewFromConfig(base).ListAccountRoles(ctx, &awssso.ListAccountRolesInput{AccessToken: tok.AccessToken, AccountId: aws.String("123456789012")})
	if err != nil || len(roles.RoleList) != 1 || *roles.RoleList[0].RoleName != "JitsshUser" {
		t.Fatalf("dave's roles: %v %+v", err, roles)
	}
	if _, errOut, code := ctl(t, envFile, "sso", "browse", authorize, "--deny"); code != 0 {
		t.Fatalf("ctl sso browse --deny: %s", errOut)
	}
	if q := <-got; q.Get("error") != "access_denied" {
		t.Fatalf("deny: %v", q)
	}
	if _, errOut, code := ctl(t, envFile, "sso", "browse", "https://example.com/authorize?x=1"); code == 0 || !strings.Contains(errOut, "is not this sandbox's sign-in URL") {
		t.Fatalf("a foreign URL: %d %s", code, errOut)
	}
	bad := strings.Replace(authorize, "S256", "plain", 1)
	if _, errOut, code := ctl(t, envFile, "sso", "browse", bad); code == 0 || !strings.Contains(errOut, "code_challenge_method must be S256") {
		t.Fatalf("a bad request: %d %s", code, errOut)
	}
}
