package sso_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssso "github.com/aws/aws-sdk-go-v2/service/sso"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	oidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
	"github.com/aws/smithy-go"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/sso"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

const testAccount = "123456789012"

// ssoClock is a settable clock for the service under test.
type ssoClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *ssoClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *ssoClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ssoTestEnv is an Identity Center on an httptest server with the real
// SDK clients for OIDC and the portal pointed at it.
type ssoTestEnv struct {
	svc    *sso.Service
	url    string
	clock  *ssoClock
	oidc   *ssooidc.Client
	portal *awssso.Client
	issued []world.Identity
}

func newSSOTestEnv(t *testing.T, opts ...func(*sso.Options)) *ssoTestEnv {
	t.Helper()
	e := &ssoTestEnv{clock: &ssoClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	var mu sync.Mutex
	o := sso.Options{
		Region: "us-east-1", Account: testAccount, BaseURL: srv.URL, Now: e.clock.Now,
		Users: []sso.User{
			{UserName: "dave", Email: "dave@example.com", Assignments: []sso.Assignment{{Account: testAccount, PermissionSet: "JitsshUser"}, {Account: testAccount, PermissionSet: "Admin"}, {Account: testAccount, PermissionSet: "ReadOnly"}}},
			{UserName: "erin", Email: "erin@example.com", Assignments: []sso.Assignment{{Account: testAccount, PermissionSet: "JitsshUser"}}},
		},
		PermissionSets: []sso.PermissionSet{{Name: "JitsshUser", Policies: []policy.Document{policy.User(policy.Options{})}, SessionDuration: 2 * time.Hour}, {Name: "Admin"}, {Name: "ReadOnly"}},
		IssueSession: func(id world.Identity, ttl time.Duration) (sso.Credentials, error) {
			mu.Lock()
			e.issued = append(e.issued, id)
			mu.Unlock()
			return sso.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "token", Expiration: e.clock.Now().Add(ttl)}, nil
		},
	}
	for _, f := range opts {
		f(&o)
	}
	e.svc = sso.New(o)
	e.svc.Register(mux)
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1}
	e.oidc = ssooidc.NewFromConfig(cfg)
	e.portal = awssso.NewFromConfig(cfg)
	return e
}

func (e *ssoTestEnv) register(t *testing.T, in *ssooidc.RegisterClientInput) *ssooidc.RegisterClientOutput {
	t.Helper()
	if in.ClientName == nil {
		in.ClientName = aws.String("jitssh-test")
	}
	if in.ClientType == nil {
		in.ClientType = aws.String("public")
	}
	out, err := e.oidc.RegisterClient(context.Background(), in)
	if err != nil {
		t.Fatalf("RegisterClient: %v", err)
	}
	return out
}

// wantAPIError asserts err is the AWS error code.
func wantAPIError(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

func TestDeviceFlowWithTheSDK(t *testing.T) {
	e := newSSOTestEnv(t)
	ctx := context.Background()
	reg := e.register(t, &ssooidc.RegisterClientInput{Scopes: []string{"sso:account:access"}})
	if reg.ClientSecretExpiresAt != e.clock.Now().Add(sso.ClientSecretTTL).Unix() || reg.ClientIdIssuedAt != e.clock.Now().Unix() {
		t.Fatalf("registration times %d %d", reg.ClientIdIssuedAt, reg.ClientSecretExpiresAt)
	}
	start, err := e.oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(e.svc.StartURL()),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Z]{4}-[A-Z]{4}$`).MatchString(*start.UserCode) || start.ExpiresIn != 600 || start.Interval != 1 ||
		*start.VerificationUri != e.url+"/device" || *start.VerificationUriComplete != e.url+"/device?user_code="+*start.UserCode {
		t.Fatalf("StartDeviceAuthorization = %+v", start)
	}
	poll := func() (*ssooidc.CreateTokenOutput, error) {
		return e.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
			GrantType: aws.String(sso.GrantDeviceCode), DeviceCode: start.DeviceCode})
	}
	_, err = poll()
	var pending *oidctypes.AuthorizationPendingException
	if !errors.As(err, &pending) || *pending.Error_ != "authorization_pending" {
		t.Fatalf("first poll: %v, want AuthorizationPendingException (authorization_pending)", err)
	}
	_, err = poll() // at once: faster than the interval
	var slow *oidctypes.SlowDownException
	if !errors.As(err, &slow) || *slow.Error_ != "slow_down" {
		t.Fatalf("early poll: %v, want SlowDownException", err)
	}
	if got := e.svc.Pending(); len(got) != 1 || got[0].UserCode != *start.UserCode || got[0].ClientName != "jitssh-test" {
		t.Fatalf("Pending = %+v", got)
	}
	if err := e.svc.Approve(strings.ToLower(strings.ReplaceAll(*start.UserCode, "-", "")), "erin"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Second)
	tok, err := poll()
	if err != nil {
		t.Fatalf("poll after approval: %v", err)
	}
	if *tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.RefreshToken == nil || !strings.HasPrefix(*tok.AccessToken, "aoa") {
		t.Fatalf("CreateToken = %+v", tok)
	}
	e.clock.Add(time.Second)
	_, err = poll()
	wantAPIError(t, err, "InvalidGrantException") // a device code is used once
	accts, err := e.portal.ListAccounts(ctx, &awssso.ListAccountsInput{AccessToken: tok.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(accts.AccountList) != 1 || *accts.AccountList[0].AccountId != testAccount {
		t.Fatalf("ListAccounts = %+v", accts.AccountList)
	}
	if len(e.svc.Pending()) != 0 {
		t.Fatal("a used authorization is still pending")
	}
}

func TestDeviceFlowDeniedExpiredAndBadClients(t *testing.T) {
	e := newSSOTestEnv(t)
	ctx := context.Background()
	reg := e.register(t, &ssooidc.RegisterClientInput{})
	startDev := func() *ssooidc.StartDeviceAuthorizationOutput {
		out, err := e.oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(e.svc.StartURL() + "#/")})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	poll := func(code *string) error {
		_, err := e.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String(sso.GrantDeviceCode), DeviceCode: code})
		return err
	}
	denied := startDev()
	if err := e.svc.Deny(*denied.UserCode); err != nil {
		t.Fatal(err)
	}
	var ad *oidctypes.AccessDeniedException
	if err := poll(denied.DeviceCode); !errors.As(err, &ad) || *ad.Error_ != "access_denied" {
		t.Fatalf("denied: %v", err)
	}
	expired := startDev()
	e.clock.Add(601 * time.Second)
	var et *oidctypes.ExpiredTokenException
	if err := poll(expired.DeviceCode); !errors.As(err, &et) || *et.Error_ != "expired_token" {
		t.Fatalf("expired: %v", err)
	}
	var ce *sso.CodeError
	if err := e.svc.Approve(*expired.UserCode, ""); !errors.As(err, &ce) || ce.Reason != "expired" {
		t.Fatalf("approving an expired code: %v", err)
	}
	wantAPIError(t, poll(aws.String("no-such-device-code")), "InvalidGrantException")
	// A wrong secret: InvalidClientException, HTTP 401.
	_, err := e.oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: aws.String("wrong"), StartUrl: aws.String(e.svc.StartURL())})
	var ic *oidctypes.InvalidClientException
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &ic) || !errors.As(err, &re) || re.HTTPStatusCode() != 401 {
		t.Fatalf("wrong secret: %v", err)
	}
	_, err = e.oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String("https://d-0000000000.awsapps.com/start")})
	wantAPIError(t, err, "InvalidRequestException")
	_, err = e.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String("password")})
	wantAPIError(t, err, "UnsupportedGrantTypeException")
	_, err = e.oidc.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("x"), ClientType: aws.String("confidential")})
	wantAPIError(t, err, "InvalidClientMetadataException")
	_, err = e.oidc.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("x"), ClientType: aws.String("public"),
		GrantTypes: []string{"authorization_code"}, RedirectUris: []string{"http://example.com/cb"}, IssuerUrl: aws.String(e.svc.StartURL())})
	wantAPIError(t, err, "InvalidRedirectUriException")
	e.clock.Add(sso.ClientSecretTTL)
	_, err = e.oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(e.svc.StartURL())})
	wantAPIError(t, err, "InvalidClientException")
}

// pkcePair returns a verifier and its S256 challenge, made as the AWS
// CLI v2 makes them.
func pkcePair(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 64/len(seed)+1)[:64]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// loopbackCallback listens on 127.0.0.1 like the AWS CLI's
// AuthCodeFetcher and records the query of the redirect it receives.
func loopbackCallback(t *testing.T) (redirectURI string, got <-chan url.Values) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan url.Values, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/callback" {
			select {
			case ch <- r.URL.Query():
			default:
			}
		}
		io.WriteString(w, "return to the terminal")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/oauth/callback", ch
}

var requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// signInThroughPages drives the authorize page as a browser would: GET the
// page, post its form as user with action, follow the redirect to the
// loopback listener.
func signInThroughPages(t *testing.T, authorizeURL, user, action string, got <-chan url.Values) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := browser.Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := requestField.FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil || !strings.Contains(string(page), `value="`+user+`"`) {
		t.Fatalf("authorize page %d:\n%s", resp.StatusCode, page)
	}
	base, _ := url.Parse(authorizeURL)
	resp, err = browser.PostForm(base.Scheme+"://"+base.Host+"/authorize", url.Values{"request": {string(m[1])}, "user": {user}, "action": {action}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Host == base.Host {
		t.Fatalf("the form was not redirected to the loopback listener (status %d at %s)", resp.StatusCode, resp.Request.URL)
	}
	select {
	case q := <-got:
		return q
	case <-time.After(5 * time.Second):
		t.Fatal("no redirect reached the loopback listener")
	}
	return nil
}

func authorizeURL(base, clientID, redirectURI, state, challenge string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI}, "state": {state},
		"code_challenge_method": {"S256"}, "scopes": {"sso:account:access"}}
	return base + "/authorize?" + q.Encode() + "&code_challenge=" + challenge
}

func TestAuthorizationCodeWithPKCEThroughTheSignInPage(t *testing.T) {
	e := newSSOTestEnv(t)
	ctx := context.Background()
	// As the AWS CLI v2 registers: the redirect URI without a port.
	reg := e.register(t, &ssooidc.RegisterClientInput{GrantTypes: []string{"authorization_code", "refresh_token"},
		RedirectUris: []string{"http://127.0.0.1/oauth/callback"}, IssuerUrl: aws.String(e.svc.StartURL()), Scopes: []string{"sso:account:access"}})
	redirect, got := loopbackCallback(t)
	verifier, challenge := pkcePair("Ab0-._~x")
	q := signInThroughPages(t, authorizeURL(e.url, *reg.ClientId, redirect, "state-1", challenge), "dave", "allow", got)
	if q.Get("state") != "state-1" || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	exchange := func(code, redirectURI, verifier string) (*ssooidc.CreateTokenOutput, error) {
		return e.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
			GrantType: aws.String("authorization_code"), Code: aws.String(code), RedirectUri: aws.String(redirectURI), CodeVerifier: aws.String(verifier)})
	}
	tok, err := exchange(q.Get("code"), redirect, verifier)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	roles, err := e.portal.ListAccountRoles(ctx, &awssso.ListAccountRolesInput{AccessToken: tok.AccessToken, AccountId: aws.String(testAccount)})
	if err != nil || len(roles.RoleList) != 3 {
		t.Fatalf("ListAccountRoles as dave: %v %+v", err, roles)
	}
	_, err = exchange(q.Get("code"), redirect, verifier)
	wantAPIError(t, err, "InvalidGrantException") // a code is used once

	// A wrong verifier: invalid_grant, and the code is spent.
	q = signInThroughPages(t, authorizeURL(e.url, *reg.ClientId, redirect, "state-2", challenge), "dave", "allow", got)
	other, _ := pkcePair("zzzzzzzz")
	_, err = exchange(q.Get("code"), redirect, other)
	var ig *oidctypes.InvalidGrantException
	if !errors.As(err, &ig) || *ig.Error_ != "invalid_grant" {
		t.Fatalf("wrong verifier: %v", err)
	}
	_, err = exchange(q.Get("code"), redirect, verifier)
	wantAPIError(t, err, "InvalidGrantException")

	// A redirect URI other than the authorize endpoint's.
	q = signInThroughPages(t, authorizeURL(e.url, *reg.ClientId, redirect, "state-3", challenge), "dave", "allow", got)
	_, err = exchange(q.Get("code"), strings.Replace(redirect, "/oauth/callback", "/other", 1), verifier)
	wantAPIError(t, err, "InvalidGrantException")

	// Deny: the redirect carries access_denied and the state.
	q = signInThroughPages(t, authorizeURL(e.url, *reg.ClientId, redirect, "state-4", challenge), "dave", "deny", got)
	if q.Get("error") != "access_denied" || q.Get("state") != "state-4" || q.Get("code") != "" {
		t.Fatalf("deny redirect %v", q)
	}
}

func TestAuthorizePageRefusesBadRequests(t *testing.T) {
	e := newSSOTestEnv(t)
	reg := e.register(t, &ssooidc.RegisterClientInput{GrantTypes: []string{"authorization_code"},
		RedirectUris: []string{"http://127.0.0.1/oauth/callback"}, IssuerUrl: aws.String(e.svc.StartURL())})
	_, challenge := pkcePair("abcdefgh")
	for name, u := range map[string]string{
		"unknown client":        authorizeURL(e.url, "nope", "http://127.0.0.1:9/oauth/callback", "s", challenge),
		"unregistered redirect": authorizeURL(e.url, *reg.ClientId, "http://127.0.0.1:9/elsewhere", "s", challenge),
		"no PKCE":               strings.TrimSuffix(authorizeURL(e.url, *reg.ClientId, "http://127.0.0.1:9/oauth/callback", "s", challenge), challenge),
		"plain method":          strings.Replace(authorizeURL(e.url, *reg.ClientId, "http://127.0.0.1:9/oauth/callback", "s", challenge), "S256", "plain", 1),
	} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), "not valid") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	// A form for no known request.
	resp, err := http.PostForm(e.url+"/authorize", url.Values{"request": {"forged"}, "user": {"dave"}, "action": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("forged request: %d", resp.StatusCode)
	}
}

// deviceToken signs user in with the device flow and returns the tokens.
func (e *ssoTestEnv) deviceToken(t *testing.T, reg *ssooidc.RegisterClientOutput, user string) *ssooidc.CreateTokenOutput {
	t.Helper()
	ctx := context.Background()
	start, err := e.oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(e.svc.StartURL())})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Approve(*start.UserCode, user); err != nil {
		t.Fatal(err)
	}
	tok, err := e.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String(sso.GrantDeviceCode), DeviceCode: start.DeviceCode})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestRefreshRotatesAndExpiredAccessTokensAreRefused(t *testing.T) {
	e := newSSOTestEnv(t)
	ctx := context.Background()
	if err := e.svc.SetAccessTokenTTL(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	reg := e.register(t, &ssooidc.RegisterClientInput{Scopes: []string{"sso:account:access"}})
	tok := e.deviceToken(t, reg, "dave")
	if tok.ExpiresIn != 30 {
		t.Fatalf("expiresIn %d, want 30", tok.ExpiresIn)
	}
	e.clock.Add(31 * time.Second)
	_, err := e.portal.ListAccounts(ctx, &awssso.ListAccountsInput{AccessToken: tok.AccessToken})
	var ue *ssotypes.UnauthorizedException
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &ue) || !errors.As(err, &re) || re.HTTPStatusCode() != 401 {
		t.Fatalf("expired access token: %v", err)
	}
	refresh := func(rt *string) (*ssooidc.CreateTokenOutput, error) {
		return e.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String("refresh_token"), RefreshToken: rt})
	}
	tok2, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if *tok2.RefreshToken == *tok.RefreshToken || *tok2.AccessToken == *tok.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	if _, err := e.portal.ListAccounts(ctx, &awssso.ListAccountsInput{AccessToken: tok2.AccessToken}); err != nil {
		t.Fatalf("refreshed access token: %v", err)
	}
	_, err = refresh(tok.RefreshToken)
	wantAPIError(t, err, "InvalidGrantException") // the old refresh token is spent
	if _, err := refresh(tok2.RefreshToken); err != nil {
		t.Fatalf("the new refresh token: %v", err)
	}
	// A client registered without scopes (the legacy device flow) gets no
	// refresh token and may not use the grant.
	legacy := e.register(t, &ssooidc.RegisterClientInput{})
	if tok := e.deviceToken(t, legacy, "dave"); tok.RefreshToken != nil {
		t.Fatal("a legacy device-code client got a refresh token")
	}
}

func TestLogoutAndRevokeEndSignIns(t *testing.T) {
	e := newSSOTestEnv(t)
	ctx := context.Background()
	reg := e.register(t, &ssooidc.RegisterClientInput{Scopes: []string{"sso:account:access"}})
	tok := e.deviceToken(t, reg, "dave")
	e.clock.Add(time.Second)
	if _, err := e.portal.Logout(ctx, &awssso.LogoutInput{AccessToken: tok.AccessToken}); err != nil {
		t.Fatal(err)
	}
	_, err := e.portal.GetRoleCredentials(ctx, &awssso.GetRoleCredentialsInput{AccessToken: tok.AccessToken, AccountId: aws.String(testAccount), RoleName: aws.String("JitsshUser")})
	wantAPIError(t, err, "UnauthorizedException")
	_, err = e.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String("refresh_token"), RefreshToken: tok.RefreshToken})
	wantAPIError(t, err, "InvalidGrantException")

	dave, erin := e.deviceToken(t, reg, "dave"), e.deviceToken(t, reg, "erin")
	if n, err := e.svc.Revoke("dave"); err != nil || n != 1 {
		t.Fatalf("Revoke(dave) = %d, %v", n, err)
	}
	_, err = e.portal.ListAccounts(ctx, &awssso.ListAccountsInput{AccessToken: dave.AccessToken})
	wantAPIError(t, err, "UnauthorizedException")
	if _, err := e.portal.ListAccounts(ctx, &awssso.ListAccountsInput{AccessToken: erin.AccessToken}); err != nil {
		t.Fatalf("erin's sign-in ended with dave's: %v", err)
	}
	var ue *sso.UserError
	if _, err := e.svc.Revoke("mallory"); !errors.As(err, &ue) {
		t.Fatalf("Revoke(mallory): %v", err)
	}
}

func TestPortalRoleCredentialsPagesAndErrors(t *testing.T) {
	e := newSSOTestEnv(t)
	ctx := context.Background()
	reg := e.register(t, &ssooidc.RegisterClientInput{Scopes: []string{"sso:account:access"}})
	dave := e.deviceToken(t, reg, "dave")
	out, err := e.portal.GetRoleCredentials(ctx, &awssso.GetRoleCredentialsInput{AccessToken: dave.AccessToken, AccountId: aws.String(testAccount), RoleName: aws.String("JitsshUser")})
	if err != nil {
		t.Fatal(err)
	}
	rc := out.RoleCredentials
	if *rc.AccessKeyId != "ASIAEXAMPLE" || rc.Expiration != e.clock.Now().Add(2*time.Hour).UnixMilli() {
		t.Fatalf("RoleCredentials = %+v", rc)
	}
	id := e.issued[0]
	if !regexp.MustCompile(`^arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_JitsshUser_[0-9a-f]{16}/dave$`).MatchString(id.ARN) ||
		id.Tags["userName"] != "dave" || len(id.Policies) != 1 || !strings.HasSuffix(id.UserID, ":dave") {
		t.Fatalf("session identity %+v", id)
	}
	// Pages of one role each, through the SDK's paginator.
	var names []string
	p := awssso.NewListAccountRolesPaginator(e.portal, &awssso.ListAccountRolesInput{AccessToken: dave.AccessToken, AccountId: aws.String(testAccount), MaxResults: aws.Int32(1)})
	for pages := 0; p.HasMorePages(); pages++ {
		pg, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.RoleList) != 1 || pages > 3 {
			t.Fatalf("page %d: %+v", pages, pg.RoleList)
		}
		names = append(names, *pg.RoleList[0].RoleName)
	}
	if strings.Join(names, ",") != "Admin,JitsshUser,ReadOnly" {
		t.Fatalf("roles %v", names)
	}
	_, err = e.portal.ListAccountRoles(ctx, &awssso.ListAccountRolesInput{AccessToken: dave.AccessToken, AccountId: aws.String(testAccount), NextToken: aws.String("forged")})
	wantAPIError(t, err, "InvalidRequestException")
	// Not assigned: erin has no Admin; no such account.
	erin := e.deviceToken(t, reg, "erin")
	for _, in := range []*awssso.GetRoleCredentialsInput{
		{AccessToken: erin.AccessToken, AccountId: aws.String(testAccount), RoleName: aws.String("Admin")},
		{AccessToken: erin.AccessToken, AccountId: aws.String("210987654321"), RoleName: aws.String("JitsshUser")},
	} {
		_, err := e.portal.GetRoleCredentials(ctx, in)
		var re interface{ HTTPStatusCode() int }
		wantAPIError(t, err, "ForbiddenException")
		if !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
			t.Fatalf("status of %v", err)
		}
	}
	_, err = e.portal.ListAccounts(ctx, &awssso.ListAccountsInput{AccessToken: aws.String("aoa-not-a-token")})
	wantAPIError(t, err, "UnauthorizedException")
}

func TestDevicePageApprovesAndDenies(t *testing.T) {
	e := newSSOTestEnv(t)
	ctx := context.Background()
	reg := e.register(t, &ssooidc.RegisterClientInput{Scopes: []string{"sso:account:access"}})
	start := func() *ssooidc.StartDeviceAuthorizationOutput {
		out, err := e.oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(e.svc.StartURL())})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	dev := start()
	resp, err := http.Get(*dev.VerificationUriComplete)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `value="`+*dev.UserCode+`"`) || !strings.Contains(string(page), `value="erin"`) {
		t.Fatalf("device page %d:\n%s", resp.StatusCode, page)
	}
	post := func(code, user, action string) (int, string) {
		resp, err := http.PostForm(*dev.VerificationUri, url.Values{"user_code": {code}, "user": {user}, "action": {action}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, body := post("BCDF-GHJK", "erin", "allow"); code != 400 || !strings.Contains(body, "unknown") {
		t.Fatalf("unknown code: %d %s", code, body)
	}
	if code, body := post(strings.ToLower(*dev.UserCode), "erin", "allow"); code != 200 || !strings.Contains(body, "approved") {
		t.Fatalf("approve: %d %s", code, body)
	}
	if code, body := post(*dev.UserCode, "erin", "allow"); code != 400 || !strings.Contains(body, "already approved") {
		t.Fatalf("approve twice: %d %s", code, body)
	}
	tok, err := e.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String(sso.GrantDeviceCode), DeviceCode: dev.DeviceCode})
	if err != nil {
		t.Fatal(err)
	}
	roles, err := e.portal.ListAccountRoles(ctx, &awssso.ListAccountRolesInput{AccessToken: tok.AccessToken, AccountId: aws.String(testAccount)})
	if err != nil || len(roles.RoleList) != 1 || *roles.RoleList[0].RoleName != "JitsshUser" {
		t.Fatalf("erin's roles: %v %+v", err, roles)
	}
	dev = start()
	if code, body := post(*dev.UserCode, "", "deny"); code != 200 || !strings.Contains(body, "denied") {
		t.Fatalf("deny: %d %s", code, body)
	}
	_, err = e.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String(sso.GrantDeviceCode), DeviceCode: dev.DeviceCode})
	wantAPIError(t, err, "AccessDeniedException")
}

// TestCloudTrailAndKnobs: every OIDC and portal call is in the CloudTrail
// log (event sources sso-oauth and sso, the user once known, no secret
// anywhere), and a throttle rule answers the portal's
// TooManyRequestsException (HTTP 429).
func TestCloudTrailAndKnobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cloudtrail.jsonl")
	tl, err := trail.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	var table knobs.Table
	e := newSSOTestEnv(t, func(o *sso.Options) { o.Trail, o.Knobs = tl, &table })
	ctx := context.Background()
	reg := e.register(t, &ssooidc.RegisterClientInput{Scopes: []string{"sso:account:access"}})
	tok := e.deviceToken(t, reg, "dave")
	if _, err := e.portal.GetRoleCredentials(ctx, &awssso.GetRoleCredentialsInput{AccessToken: tok.AccessToken, AccountId: aws.String(testAccount), RoleName: aws.String("JitsshUser")}); err != nil {
		t.Fatal(err)
	}
	if err := table.SetThrottle(map[string]string{"sso:GetRoleCredentials": "next:1"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.portal.GetRoleCredentials(ctx, &awssso.GetRoleCredentialsInput{AccessToken: tok.AccessToken, AccountId: aws.String(testAccount), RoleName: aws.String("JitsshUser")})
	var tm *ssotypes.TooManyRequestsException
	if !errors.As(err, &tm) {
		t.Fatalf("throttled: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{*reg.ClientSecret, *tok.AccessToken, *tok.RefreshToken, "ASIAEXAMPLE\",\"secretAccessKey"} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("a secret in CloudTrail:\n%s", b)
		}
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev struct {
			EventSource, EventName, ErrorCode string
			UserIdentity                      struct{ UserName string }
			RequestParameters                 map[string]any
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", ev.EventSource, ev.EventName, ev.UserIdentity.UserName, ev.ErrorCode))
		if ev.EventName == "GetRoleCredentials" && (ev.RequestParameters["roleName"] != "JitsshUser" || ev.RequestParameters["accountId"] != testAccount) {
			t.Errorf("GetRoleCredentials parameters %v", ev.RequestParameters)
		}
	}
	want := []string{"sso-oauth.amazonaws.com RegisterClient  ", "sso-oauth.amazonaws.com StartDeviceAuthorization  ", "sso-oauth.amazonaws.com CreateToken dave ",
		"sso.amazonaws.com GetRoleCredentials dave ", "sso.amazonaws.com GetRoleCredentials  TooManyRequestsException"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("CloudTrail:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSettingsShortenDeviceCodes(t *testing.T) {
	e := newSSOTestEnv(t)
	ctx := context.Background()
	if err := e.svc.SetSettings(sso.Settings{DeviceCodeTTL: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	var ie *sso.InputError
	if err := e.svc.SetSettings(sso.Settings{AccessTokenTTL: 30 * time.Second, DeviceCodeTTL: 2 * time.Hour}); !errors.As(err, &ie) || e.svc.AccessTokenTTL() != sso.DefaultAccessTokenTTL {
		t.Fatalf("an out-of-range setting: %v, access tokens %v", err, e.svc.AccessTokenTTL())
	}
	reg := e.register(t, &ssooidc.RegisterClientInput{})
	dev, err := e.oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(e.svc.StartURL())})
	if err != nil || dev.ExpiresIn != 5 {
		t.Fatalf("StartDeviceAuthorization: %v %+v", err, dev)
	}
	e.clock.Add(5 * time.Second)
	_, err = e.oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String(sso.GrantDeviceCode), DeviceCode: dev.DeviceCode})
	wantAPIError(t, err, "ExpiredTokenException")
}
