//go:build unix

package awsapi

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awscreds"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/oidc"
	"github.com/jitssh/jitssh/internal/sandbox/totp"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

const chainAccount = "123456789012"

// chainSandbox is an account for the role settings the AWS CLI documents:
// the IAM user carol (static keys, MFA device), Ops (trusts carol with
// external id ext-1, 2-hour sessions), Deploy (trusts Ops: role
// chaining) and Web (trusts the sandbox's OIDC issuer); the profiles
// of conf use them.
type chainSandbox struct {
	w      *world.World
	calls  *actionCounter
	issuer *oidc.Issuer
	home   string
	dir    string
}

func mustPolicy(t *testing.T, doc string) policy.Document {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return p
}

func newChainSandbox(t *testing.T, conf string) *chainSandbox {
	t.Helper()
	arn := func(s string) string { return "arn:aws:iam::" + chainAccount + ":" + s }
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	issuer := oidc.New("https://127.0.0.1/jitssh-test-oidc", key, nil)
	user := policy.User(policy.Options{Region: "us-east-1", Account: chainAccount})
	assume := mustPolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`)
	carol := world.Identity{Name: "carol", AccessKeyID: "AKIAJITSSHCHAIN00001", SecretAccessKey: "secret-of-carol-for-the-chain-test-0123",
		ARN: arn("user/carol"), UserID: "AIDAJITSSHCHAIN00001", Policies: []policy.Document{user, assume}}
	roles := []world.Role{
		{Name: "Ops", MaxSession: 2 * time.Hour, Policies: []policy.Document{user, assume},
			Trust: mustPolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+arn("user/carol")+`"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ext-1"}}}]}`)},
		{Name: "Deploy", Policies: []policy.Document{user},
			Trust: mustPolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+arn("role/Ops")+`"},"Action":"sts:AssumeRole"}]}`)},
		{Name: "Web", Policies: []policy.Document{user},
			Trust: mustPolicy(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"`+issuer.ProviderARN(chainAccount)+`"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`)},
	}
	w, err := world.New(world.Config{Region: "us-east-1", Account: chainAccount, Identities: []world.Identity{carol}, Roles: roles,
		MFADevices: []world.MFADevice{{Serial: arn("mfa/carol"), UserARN: carol.ARN, Secret: []byte("jitssh-chain-test-totp-seed")}}})
	if err != nil {
		t.Fatal(err)
	}
	counter := &actionCounter{n: map[string]int{}}
	srv := httptest.NewServer(counter.wrap(apis.NewHandler(w, apis.Options{OIDC: issuer})))
	t.Cleanup(srv.Close)
	testEnv(t, srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	conf = "[profile carol]\naws_access_key_id = " + carol.AccessKeyID + "\naws_secret_access_key = " + carol.SecretAccessKey + "\n" + conf
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	return &chainSandbox{w: w, calls: counter, issuer: issuer, home: home, dir: dir}
}

func wantAssumed(t *testing.T, opts Options, prefix string) {
	t.Helper()
	caller, err := callerOf(t, opts)
	if err != nil {
		t.Fatalf("profile %s: %v", opts.Profile, err)
	}
	if !strings.HasPrefix(caller.ARN, prefix) {
		t.Fatalf("profile %s: caller %s, want %s…", opts.Profile, caller.ARN, prefix)
	}
}

func cachedEntry(t *testing.T, home string, args awscreds.RoleArgs) *awscreds.Entry {
	t.Helper()
	c := &awscreds.Cache{Dir: filepath.Join(home, ".aws", "cli", "cache")}
	e, why := c.Load(args.CacheKey(), args.RoleARN)
	if e == nil {
		t.Fatalf("no cache entry for %+v: %s", args, why)
	}
	return e
}

// TestRoleProfileSettings: external_id, role_session_name and
// duration_seconds reach AssumeRole; the session is cached at the key
// botocore computes from them.
func TestRoleProfileSettings(t *testing.T) {
	s := newChainSandbox(t, `[profile ops]
role_arn = arn:aws:iam::123456789012:role/Ops
source_profile = carol
external_id = ext-1
role_session_name = opsy
duration_seconds = 7200
[profile opsbad]
role_arn = arn:aws:iam::123456789012:role/Ops
source_profile = carol
external_id = wrong
[profile opslong]
role_arn = arn:aws:iam::123456789012:role/Ops
source_profile = carol
external_id = ext-1
duration_seconds = 43200
[profile opsshort]
role_arn = arn:aws:iam::123456789012:role/Ops
source_profile = carol
external_id = ext-1
role_session_name = shorty
duration_seconds = 900
[profile opsdefault]
role_arn = arn:aws:iam::123456789012:role/Ops
source_profile = carol
external_id = ext-1
role_session_name = plain
`)
	wantAssumed(t, Options{Profile: "ops"}, "arn:aws:sts::123456789012:assumed-role/Ops/opsy")
	two := 7200
	e := cachedEntry(t, s.home, awscreds.RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Ops", ExternalID: "ext-1", RoleSessionName: "opsy", DurationSeconds: &two})
	if left := time.Until(e.Expiration); left < 115*time.Minute || left > 2*time.Hour {
		t.Errorf("duration_seconds = 7200: session expires in %v", left)
	}
	// 900 s is asked for and cached under the key with 900, although the
	// Go SDK itself ignores durations of 15 minutes or less; no
	// duration_seconds asks for DefaultRoleDuration, as the AWS CLI gets.
	wantAssumed(t, Options{Profile: "opsshort"}, "arn:aws:sts::123456789012:assumed-role/Ops/shorty")
	fifteen := 900
	e = cachedEntry(t, s.home, awscreds.RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Ops", ExternalID: "ext-1", RoleSessionName: "shorty", DurationSeconds: &fifteen})
	if left := time.Until(e.Expiration); left < 13*time.Minute || left > 15*time.Minute {
		t.Errorf("duration_seconds = 900: session expires in %v", left)
	}
	wantAssumed(t, Options{Profile: "opsdefault"}, "arn:aws:sts::123456789012:assumed-role/Ops/plain")
	e = cachedEntry(t, s.home, awscreds.RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Ops", ExternalID: "ext-1", RoleSessionName: "plain"})
	if left := time.Until(e.Expiration); left < DefaultRoleDuration-5*time.Minute || left > DefaultRoleDuration {
		t.Errorf("no duration_seconds: session expires in %v, want %v", left, DefaultRoleDuration)
	}
	var ae *awscreds.AssumeRoleError
	if _, err := callerOf(t, Options{Profile: "opsbad"}); !errors.As(err, &ae) || ae.Code != "AccessDenied" {
		t.Errorf("wrong external id: %v", err)
	}
	if _, err := callerOf(t, Options{Profile: "opslong"}); !errors.As(err, &ae) || !strings.Contains(ae.Message, "DurationSeconds") {
		t.Errorf("duration beyond the role's maximum: %v", err)
	}
}

// TestChainedAndCredentialSourceRoles: role → role → user chains, and
// credential_source = Environment.
func TestChainedAndCredentialSourceRoles(t *testing.T) {
	s := newChainSandbox(t, `[profile ops]
role_arn = arn:aws:iam::123456789012:role/Ops
source_profile = carol
external_id = ext-1
[profile deploy]
role_arn = arn:aws:iam::123456789012:role/Deploy
source_profile = ops
role_session_name = deployer
[profile envops]
role_arn = arn:aws:iam::123456789012:role/Ops
credential_source = Environment
external_id = ext-1
role_session_name = from-env
`)
	wantAssumed(t, Options{Profile: "deploy"}, "arn:aws:sts::123456789012:assumed-role/Deploy/deployer")
	if n := s.calls.count("AssumeRole"); n != 2 {
		t.Errorf("%d AssumeRole calls for a role → role → user chain, want 2", n)
	}
	wantAssumed(t, Options{Profile: "deploy"}, "arn:aws:sts::123456789012:assumed-role/Deploy/deployer")
	if n := s.calls.count("AssumeRole"); n != 2 {
		t.Errorf("%d AssumeRole calls after a second process, want still 2 (cached)", n)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAJITSSHCHAIN00001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-of-carol-for-the-chain-test-0123")
	wantAssumed(t, Options{Profile: "envops"}, "arn:aws:sts::123456789012:assumed-role/Ops/from-env")
}

// TestCredentialSourceInstanceAndContainer: credential_source =
// Ec2InstanceMetadata and EcsContainer take the source credentials from
// IMDSv2 and the container endpoint (here carol's keys, served by test
// endpoints on 127.0.0.1) and assume the role with them, each session
// cached under its own key.
func TestCredentialSourceInstanceAndContainer(t *testing.T) {
	s := newChainSandbox(t, `[profile imdsops]
role_arn = arn:aws:iam::123456789012:role/Ops
credential_source = Ec2InstanceMetadata
external_id = ext-1
role_session_name = from-imds
[profile ecsops]
role_arn = arn:aws:iam::123456789012:role/Ops
credential_source = EcsContainer
external_id = ext-1
role_session_name = from-ecs
`)
	carol := world.Identity{AccessKeyID: "AKIAJITSSHCHAIN00001", SecretAccessKey: "secret-of-carol-for-the-chain-test-0123", Expiration: time.Now().Add(time.Hour)}
	imds := testIMDS(t, carol)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	wantAssumed(t, Options{Profile: "imdsops"}, "arn:aws:sts::123456789012:assumed-role/Ops/from-imds")

	const auth = "Bearer jitssh-credential-source-test"
	container := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != auth {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		w.Write(credsJSON(carol, nil))
	}))
	t.Cleanup(container.Close)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.URL+"/creds")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", auth)
	wantAssumed(t, Options{Profile: "ecsops"}, "arn:aws:sts::123456789012:assumed-role/Ops/from-ecs")
	if n := s.calls.count("AssumeRole"); n != 2 {
		t.Errorf("%d AssumeRole calls, want 2 (one per profile)", n)
	}
	for _, name := range []string{"from-imds", "from-ecs"} {
		cachedEntry(t, s.home, awscreds.RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Ops", ExternalID: "ext-1", RoleSessionName: name})
	}
}

// TestWebIdentityProfile: a web_identity_token_file profile, and
// AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, assume their role with the
// sandbox's OIDC issuer's token, at the sandbox (not AWS's STS).
func TestWebIdentityProfile(t *testing.T) {
	s := newChainSandbox(t, "")
	tok, err := s.issuer.Sign("repo:jitssh/ci", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(s.dir, "token")
	if err := os.WriteFile(file, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := os.Getenv("AWS_CONFIG_FILE")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("[profile webid]\nrole_arn = arn:aws:iam::123456789012:role/Web\nweb_identity_token_file = " + file + "\nrole_session_name = ci\n")
	f.Close()
	wantAssumed(t, Options{Profile: "webid"}, "arn:aws:sts::123456789012:assumed-role/Web/ci")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", file)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/Web")
	t.Setenv("AWS_ROLE_SESSION_NAME", "ci-env")
	wantAssumed(t, Options{}, "arn:aws:sts::123456789012:assumed-role/Web/ci-env")
}

// TestMFAUserProfileSessionToken: static keys with mfa_serial and no
// role: GetSessionToken with the code, cached; the next process asks
// nothing.
func TestMFAUserProfileSessionToken(t *testing.T) {
	s := newChainSandbox(t, `[profile carolmfa]
aws_access_key_id = AKIAJITSSHCHAIN00001
aws_secret_access_key = secret-of-carol-for-the-chain-test-0123
mfa_serial = arn:aws:iam::123456789012:mfa/carol
`)
	d, _ := s.w.MFADevice("arn:aws:iam::123456789012:mfa/carol")
	caller, err := callerOf(t, Options{Profile: "carolmfa", MFACode: totp.Code(d.Secret, time.Now())})
	if err != nil || caller.ARN != "arn:aws:iam::123456789012:user/carol" {
		t.Fatalf("caller %+v, %v", caller, err)
	}
	again, err := callerOf(t, Options{Profile: "carolmfa", MFACode: "not-a-code"})
	if err != nil || again.ARN != caller.ARN {
		t.Fatalf("second process: %+v %v", again, err)
	}
	if n := s.calls.count("GetSessionToken"); n != 1 {
		t.Errorf("%d GetSessionToken calls, want 1", n)
	}
	if m, _ := filepath.Glob(filepath.Join(s.home, ".aws", "cli", "cache", "sts-session-token-*.json")); len(m) != 1 {
		t.Errorf("session token cache files: %v", m)
	}
}
