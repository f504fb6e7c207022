package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/coder/websocket"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestRoleProfilesThroughTheSDK loads the env file's AWS config with the
// Go SDK's own credential chain (what jitssh uses): the mfa profile
// assumes JitsshAdminMFA with carol's keys and a code from MFACode, the
// webid profile signs in with the token file the sandbox writes, and the
// sessions carry the role's userName tag into the jitssh policies.
func TestRoleProfilesThroughTheSDK(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
	}
	state := t.TempDir()
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if err := sb.WriteFiles(filepath.Join(t.TempDir(), "env")); err != nil {
		t.Fatal(err)
	}
	// The env file's variables, and an HTTP client that reaches only
	// loopback: the SDK resolves credentials before the endpoint, so the
	// STS clients of its assume-role and web identity providers ignore
	// endpoint_url and AWS_ENDPOINT_URL and would call the real STS;
	// AWS_ENDPOINT_URL_STS (Env) reaches them.
	for _, kv := range sb.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	loopbackOnly := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("test: refusing to dial %s: only the sandbox may be called", addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	})
	ctx := context.Background()
	load := func(profile string, opts ...func(*config.LoadOptions) error) aws.Config {
		t.Helper()
		cfg, err := config.LoadDefaultConfig(ctx, append([]func(*config.LoadOptions) error{
			config.WithSharedConfigFiles([]string{filepath.Join(state, "aws-config")}),
			config.WithSharedCredentialsFiles([]string{filepath.Join(state, "aws-credentials")}),
			config.WithSharedConfigProfile(profile),
			config.WithRetryMaxAttempts(1),
			config.WithHTTPClient(loopbackOnly),
		}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	prompts := 0
	mfa := load("mfa", config.WithAssumeRoleCredentialOptions(func(o *stscreds.AssumeRoleOptions) {
		o.TokenProvider = func() (string, error) {
			prompts++
			_, code, _, err := sb.MFACode("mfa", false)
			return code, err
		}
	}))
	out, err := sts.NewFromConfig(mfa).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity with the mfa profile: %v", err)
	}
	if arn := aws.ToString(out.Arn); !strings.HasPrefix(arn, "arn:aws:sts::123456789012:assumed-role/JitsshAdminMFA/") || prompts != 1 {
		t.Errorf("mfa profile: %s after %d prompts", arn, prompts)
	}
	id, ok := sb.World.Identity(mustKey(t, mfa))
	if !ok || id.Tags["userName"] != "carol" || id.MFAAuthTime.IsZero() {
		t.Errorf("the mfa session %+v", id)
	}

	// A wrong code: AWS's AccessDenied reaches the SDK's caller.
	bad := load("mfa", config.WithAssumeRoleCredentialOptions(func(o *stscreds.AssumeRoleOptions) {
		o.TokenProvider = func() (string, error) { return "000000", nil }
	}))
	_, err = sts.NewFromConfig(bad).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !strings.Contains(ae.ErrorMessage(), "MultiFactorAuthentication failed") {
		// 000000 may be the current code once in a million runs.
		t.Errorf("a wrong code: %v", err)
	}

	webid := load("webid")
	out, err = sts.NewFromConfig(webid).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Arn) != "arn:aws:sts::123456789012:assumed-role/JitsshWebIdentity/webid" {
		t.Fatalf("webid profile: %v %v", out, err)
	}
	b, err := os.ReadFile(filepath.Join(state, "web-identity-token-webid"))
	if err != nil || strings.Count(string(b), ".") != 2 {
		t.Errorf("token file: %q %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(state, "mfa", "carol.base32")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("MFA secret file: %v %v", st, err)
	}
	_, code1, left, err := sb.MFACode("carol", false)
	_, code2, left2, err2 := sb.MFACode("arn:aws:iam::123456789012:mfa/carol", true)
	if err != nil || err2 != nil || len(code1) != 6 || len(code2) != 6 || left < 1 || left > 30 || left2 < 31 || left2 > 60 {
		t.Errorf("MFACode: %s %d %v, next %s %d %v", code1, left, err, code2, left2, err2)
	}
	if _, _, _, err := sb.MFACode("alice", false); err == nil || !strings.Contains(err.Error(), "names no MFA device") {
		t.Errorf("MFACode(alice) = %v", err)
	}
}

func mustKey(t *testing.T, cfg aws.Config) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c.AccessKeyID
}

// TestMFASecretKeptInStateDir: a device's secret is made once, kept
// (0600) and read back on restart; a damaged file is an error saying how
// to recover.
func TestMFASecretKeptInStateDir(t *testing.T) {
	dir := t.TempDir()
	const serial = "arn:aws:iam::123456789012:mfa/carol"
	a, err := mfaSecret(dir, serial)
	if err != nil {
		t.Fatal(err)
	}
	b, err := mfaSecret(dir, serial)
	if err != nil || string(a) != string(b) || len(a) != 20 {
		t.Fatalf("second read: %x %v, first %x", b, err, a)
	}
	path := filepath.Join(dir, "mfa", "carol.base32")
	if err := os.WriteFile(path, []byte("not base32!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := mfaSecret(dir, serial); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("damaged secret: %v", err)
	}
}

// TestEICETunnelWithSessionCredentials: the endpoint's presigned URL of a
// role session carries X-Amz-Security-Token (as the SDK's presigner puts
// it); without it the endpoint refuses the tunnel as AWS does.
func TestEICETunnelWithSessionCredentials(t *testing.T) {
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	role, ok := sb.World.Role("JitsshAdminMFA")
	if !ok {
		t.Fatal("no built-in role JitsshAdminMFA")
	}
	creds := sb.World.IssueSession(sb.World.RoleSession(role, "carol", nil), time.Hour)
	var app InstanceInfo
	for _, in := range sb.Instances {
		if in.Name == "app-1" {
			app = in
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(token string) (int, error) {
		params := tunnelParams(app.PrivateIP, "22")
		params.Set("X-Amz-Expires", "60")
		req, err := http.NewRequest(http.MethodGet, sb.URL+"/openTunnel?"+params.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		signed, _, err := v4.NewSigner().PresignHTTP(ctx,
			aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: token},
			req, awsproto.EmptyPayloadHash, "ec2-instance-connect", sb.World.Region, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ws, resp, err := websocket.Dial(ctx, strings.Replace(signed, "http://", "ws://", 1), nil)
		if err != nil {
			if resp != nil {
				return resp.StatusCode, err
			}
			return 0, err
		}
		ws.Close(websocket.StatusNormalClosure, "")
		return http.StatusSwitchingProtocols, nil
	}
	if code, err := dial(creds.SessionToken); err != nil {
		t.Errorf("tunnel with the session token: %d %v", code, err)
	}
	if code, err := dial(""); err == nil || code != http.StatusForbidden {
		t.Errorf("tunnel without the session token: %d %v, want 403", code, err)
	}
}
