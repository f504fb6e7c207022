package ssologin

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	ssoTestEnv(t, nil, sessionConfig)
	s, err := Resolve(context.Background(), "sso")
	if err != nil {
		t.Fatal(err)
	}
	want := &Session{Profile: "sso", Name: "sandbox", StartURL: "https://sandbox.example/start", Region: "us-east-1",
		Scopes: []string{"sso:account:access"}, AccountID: "123456789012", RoleName: "Dev", ConfigFile: os.Getenv("AWS_CONFIG_FILE")}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Resolve(sso) = %+v, want %+v", s, want)
	}
	l, err := Resolve(context.Background(), "legacy")
	if err != nil || !l.Legacy() || l.StartURL != "https://legacy.example/start" || l.Region != "eu-west-1" {
		t.Errorf("Resolve(legacy) = %+v, %v", l, err)
	}
	var notSSO *NotSSOError
	for _, p := range []string{"plain", "nonexistent"} {
		if _, err := Resolve(context.Background(), p); !errors.As(err, &notSSO) || notSSO.Profile != p {
			t.Errorf("Resolve(%s) = %v, want a NotSSOError", p, err)
		}
	}
	t.Setenv("AWS_PROFILE", "sso")
	if s, err := Resolve(context.Background(), ""); err != nil || s.Profile != "sso" {
		t.Errorf("Resolve(\"\") with AWS_PROFILE=sso = %+v, %v", s, err)
	}
}

func TestResolveIncomplete(t *testing.T) {
	ssoTestEnv(t, nil, "[profile p]\nsso_session = s\n\n[sso-session s]\nsso_start_url = https://x.example/start\n")
	var ce *ConfigError
	if _, err := Resolve(context.Background(), "p"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "sso_region") {
		t.Errorf("Resolve = %v, want a ConfigError naming sso_region", err)
	}
}

func TestParseScopes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"[sso-session a]\nsso_registration_scopes = x, y ,,z\n", []string{"x", "y", "z"}},
		{"[sso-session  a ]\nsso_registration_scopes=\n", []string{}},
		{"[sso-session b]\nsso_registration_scopes = x\n[sso-session a]\nsso_region = r\n", nil},
		{"[sso-session a]\n# sso_registration_scopes = x\n  sso_registration_scopes = y\n", nil},
		{"[profile a]\nsso_registration_scopes = x\n", nil},
	} {
		got, err := ParseScopes(strings.NewReader(tc.in), "a")
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseScopes(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseScopes(strings.NewReader("[sso-session a\n"), "a"); err == nil {
		t.Error("a malformed section header was accepted")
	}
}

// TestCacheKeys checks the file names against the AWS CLI's: sha1 of the
// session name (or the start URL) for tokens, sha1 of Python's json.dumps
// of the registration's arguments, and of the role credentials' key.
func TestCacheKeys(t *testing.T) {
	s := &Session{Name: "my-sso", StartURL: "https://my-sso-portal.awsapps.com/start", Region: "us-east-1", AccountID: "123456789012", RoleName: "Dev"}
	c := Cache{Dir: "/h/.aws/sso/cache"}
	// hashlib.sha1(b"my-sso").hexdigest()
	if got, want := c.TokenPath(s), "/h/.aws/sso/cache/"+sha1Hex("my-sso")+".json"; got != want {
		t.Errorf("TokenPath = %s, want %s", got, want)
	}
	// botocore's test_sso_token_cache_key (legacy: the start URL)
	l := &Session{StartURL: "https://d-abc123.awsapps.com/start"}
	if got := filepath.Base(c.TokenPath(l)); got != "40a89917e3175433e361b710a9d43528d7f1890a.json" {
		t.Errorf("legacy TokenPath = %s", got)
	}
	for _, tc := range []struct {
		s    *Session
		want string // the exact string Python hashes
	}{
		{s, `{"region": "us-east-1", "scopes": null, "session_name": "my-sso", "startUrl": "https://my-sso-portal.awsapps.com/start", "tool": "botocore"}`},
		{&Session{Name: "é", StartURL: "u", Region: "r", Scopes: []string{"a", "b"}}, `{"region": "r", "scopes": ["a", "b"], "session_name": "\u00e9", "startUrl": "u", "tool": "botocore"}`},
		{&Session{StartURL: "u", Region: "r", Scopes: []string{}}, `{"region": "r", "scopes": [], "session_name": null, "startUrl": "u", "tool": "botocore"}`},
	} {
		if got := RegistrationKey(tc.s); got != sha1Hex(tc.want) {
			t.Errorf("RegistrationKey(%+v) is not sha1(%s)", tc.s, tc.want)
		}
	}
	if got := RoleCacheKey(s); got != sha1Hex(`{"accountId":"123456789012","roleName":"Dev","sessionName":"my-sso"}`) {
		t.Errorf("RoleCacheKey = %s", got)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	tok := &Token{StartURL: "https://x/start", Region: "us-east-1", AccessToken: "a<b>", ExpiresAt: time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC),
		RefreshToken: "r", ClientID: "c", ClientSecret: "s", RegistrationExpiresAt: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)}
	data := tok.Marshal()
	for _, want := range []string{`"expiresAt":"2026-12-02T13:00:00Z"`, `"registrationExpiresAt":"2027-03-01T00:00:00Z"`, `"accessToken":"a<b>"`, `"startUrl":"https://x/start"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("%s lacks %s", data, want)
		}
	}
	back, err := ParseToken(data)
	if err != nil || !reflect.DeepEqual(back, tok) {
		t.Errorf("ParseToken(Marshal) = %+v, %v", back, err)
	}
	// What other tools write: an offset, extra fields.
	other, err := ParseToken([]byte(`{"accessToken":"x","expiresAt":"2026-12-02T14:00:00+01:00","x":1}`))
	if err != nil || !other.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Errorf("ParseToken(offset) = %+v, %v", other, err)
	}
	for _, bad := range []string{``, `[]`, `{"accessToken":"x"}`, `{"expiresAt":"2026-12-02T13:00:00Z"}`, `{"accessToken":"x","expiresAt":"tomorrow"}`, `{"accessToken":1,"expiresAt":"2026-12-02T13:00:00Z"}`} {
		if _, err := ParseToken([]byte(bad)); err == nil {
			t.Errorf("ParseToken(%s) accepted", bad)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add([]byte(`{"accessToken":"x","expiresAt":"2026-12-02T13:00:00Z","refreshToken":"r","clientId":"c","clientSecret":"s","registrationExpiresAt":"2027-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"accessToken":"x","expiresAt":"2026-12-02T14:00:00+01:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseToken(data)
		if err != nil {
			return
		}
		again, err := ParseToken(tok.Marshal())
		if err != nil {
			t.Fatalf("re-parse of %s: %v", tok.Marshal(), err)
		}
		if again.AccessToken != tok.AccessToken || !again.ExpiresAt.Equal(tok.ExpiresAt.Truncate(time.Second)) && again.ExpiresAt.Unix() != tok.ExpiresAt.Unix() {
			t.Fatalf("round trip changed %+v into %+v", tok, again)
		}
	})
}

func FuzzParseRegistration(f *testing.F) {
	f.Add([]byte(`{"clientId":"c","clientSecret":"s","expiresAt":"2027-01-01T00:00:00Z","scopes":["a"],"grantTypes":["authorization_code","refresh_token"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRegistration(data)
		if err != nil {
			return
		}
		if _, err := ParseRegistration(r.Marshal()); err != nil {
			t.Fatalf("re-parse of %s: %v", r.Marshal(), err)
		}
	})
}

func FuzzParseScopes(f *testing.F) {
	f.Add("[sso-session a]\nsso_registration_scopes = x, y\n", "a")
	f.Add("[profile a]\n[sso-session a\n", "a")
	f.Fuzz(func(t *testing.T, in, name string) {
		scopes, err := ParseScopes(strings.NewReader(in), name)
		if err != nil {
			return
		}
		for _, s := range scopes {
			if s == "" || strings.TrimSpace(s) != s || strings.Contains(s, ",") {
				t.Fatalf("scope %q from %q", s, in)
			}
		}
	})
}

func TestDeviceCodeLogin(t *testing.T) {
	f := newFakeOIDC(t)
	ssoTestEnv(t, f, sessionConfig)
	c := testClient(t, f, "sso")
	f.polls = []string{"pending", "pending", "slow", "pending", ""}
	var slept []time.Duration
	c.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	var shown []Prompt
	tok, err := c.Login(context.Background(), LoginOptions{DeviceCode: true, Show: func(p Prompt) { shown = append(shown, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(shown) != 1 || shown[0].UserCode != "ABCD-EFGH" || !strings.HasSuffix(shown[0].URL, "/device") {
		t.Errorf("shown %+v, want the code and URL once", shown)
	}
	// interval 1 s; slow_down adds 5 s for every later poll
	if want := []time.Duration{time.Second, time.Second, 6 * time.Second, 6 * time.Second}; !reflect.DeepEqual(slept, want) {
		t.Errorf("slept %v, want %v", slept, want)
	}
	if f.register["scopes"] == nil || f.register["grantTypes"] != nil {
		t.Errorf("device-code registration %v: want the session's scopes and no grant types", f.register)
	}
	// The token cache is what the AWS CLI writes, 0600.
	path := c.Cache.TokenPath(c.Session)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token cache %s: %v, %v", path, fi, err)
	}
	back, err := c.Cache.LoadToken(c.Session)
	if err != nil || back.AccessToken != tok.AccessToken || back.RefreshToken == "" || back.ClientSecret != "secret" || back.StartURL != c.Session.StartURL || back.Region != "us-east-1" {
		t.Errorf("cached %+v, %v", back, err)
	}
	// A second sign-in reuses the cached registration.
	f.polls = nil
	if _, err := c.Login(context.Background(), LoginOptions{DeviceCode: true}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, op := range f.ops() {
		if op == "RegisterClient" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("RegisterClient called %d times in %v, want once", n, f.ops())
	}
}

func TestDeviceCodeRefused(t *testing.T) {
	f := newFakeOIDC(t)
	ssoTestEnv(t, f, sessionConfig)
	for code, want := range map[string]string{"expired": "expired_token", "denied": "access_denied"} {
		c := testClient(t, f, "sso")
		c.Sleep = func(context.Context, time.Duration) error { return nil }
		f.polls = []string{"pending", code}
		_, err := c.Login(context.Background(), LoginOptions{DeviceCode: true})
		var ae *AuthorizationError
		if !errors.As(err, &ae) || ae.Code != want {
			t.Errorf("%s: Login = %v, want an AuthorizationError %s", code, err, want)
		}
		if _, err := os.Stat(c.Cache.TokenPath(c.Session)); err == nil {
			t.Errorf("%s: a token cache was written", code)
		}
	}
}

// TestAuthCodeLogin follows the authorization URL as a browser would: the
// fake /authorize redirects to jitssh's loopback listener.
func TestAuthCodeLogin(t *testing.T) {
	f := newFakeOIDC(t)
	ssoTestEnv(t, f, sessionConfig)
	c := testClient(t, f, "sso")
	browse := func(p Prompt) {
		go func() {
			resp, err := http.Get(p.URL)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	tok, err := c.Login(context.Background(), LoginOptions{Show: browse})
	if err != nil {
		t.Fatal(err)
	}
	q := f.lastAuth
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
		!strings.HasPrefix(q.Get("redirect_uri"), "http://127.0.0.1:") || q.Get("scopes") != "sso:account:access" {
		t.Errorf("authorize query %v", q)
	}
	if f.register["issuerUrl"] != "https://sandbox.example/start" || !reflect.DeepEqual(f.register["redirectUris"], []any{"http://127.0.0.1/oauth/callback"}) {
		t.Errorf("registration %v", f.register)
	}
	if f.tokenIn["codeVerifier"] == "" || f.tokenIn["redirectUri"] != q.Get("redirect_uri") {
		t.Errorf("CreateToken %v", f.tokenIn)
	}
	if back, err := c.Cache.LoadToken(c.Session); err != nil || back.AccessToken != tok.AccessToken {
		t.Errorf("cached %+v, %v", back, err)
	}
	f.approved = false
	_, err = c.Login(context.Background(), LoginOptions{Show: browse})
	var ae *AuthorizationError
	if !errors.As(err, &ae) || ae.Code != "access_denied" {
		t.Errorf("denied: Login = %v", err)
	}
}

func TestEnsureRefreshes(t *testing.T) {
	f := newFakeOIDC(t)
	ssoTestEnv(t, f, sessionConfig)
	c := testClient(t, f, "sso")
	var lr *LoginRequiredError
	if _, err := c.Ensure(context.Background()); !errors.As(err, &lr) {
		t.Fatalf("Ensure without a token = %v, want LoginRequiredError", err)
	}
	old := &Token{StartURL: c.Session.StartURL, Region: "us-east-1", AccessToken: "old", ExpiresAt: time.Now().Add(-time.Minute).UTC().Truncate(time.Second),
		RefreshToken: "r", ClientID: "c", ClientSecret: "s", RegistrationExpiresAt: time.Now().Add(time.Hour)}
	if err := c.Cache.SaveToken(c.Session, old); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Ensure(context.Background())
	if err != nil || tok.AccessToken == "old" || !tok.Valid(time.Now(), time.Minute) {
		t.Fatalf("Ensure = %+v, %v; want a refreshed token", tok, err)
	}
	if back, _ := c.Cache.LoadToken(c.Session); back.AccessToken != tok.AccessToken || back.ClientID != "c" {
		t.Errorf("cache after refresh: %+v", back)
	}
	// A valid token is used as it is.
	before := len(f.ops())
	if _, err := c.Ensure(context.Background()); err != nil || len(f.ops()) != before {
		t.Errorf("Ensure with a valid token called %v (%v)", f.ops()[before:], err)
	}
	// A refused refresh means a new sign-in.
	f.refreshOK = false
	if err := c.Cache.SaveToken(c.Session, old); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ensure(context.Background()); !errors.As(err, &lr) || lr.Session != c.Session {
		t.Errorf("Ensure with a refused refresh = %v, want LoginRequiredError", err)
	}
	// No refresh token: a new sign-in.
	old.RefreshToken = ""
	c.Cache.SaveToken(c.Session, old)
	if _, err := c.Ensure(context.Background()); !errors.As(err, &lr) {
		t.Errorf("Ensure with nothing to refresh with = %v", err)
	}
}

func TestLogout(t *testing.T) {
	f := newFakeOIDC(t)
	home := ssoTestEnv(t, f, sessionConfig)
	c := testClient(t, f, "sso")
	c.Cache.SaveToken(c.Session, &Token{AccessToken: "live", ExpiresAt: time.Now().Add(time.Hour)})
	roles := filepath.Join(home, ".aws", "cli", "cache")
	os.MkdirAll(roles, 0o700)
	role := filepath.Join(roles, RoleCacheKey(c.Session)+".json")
	other := filepath.Join(roles, "other.json")
	os.WriteFile(role, []byte(`{"ProviderType":"sso"}`), 0o600)
	os.WriteFile(other, []byte(`{}`), 0o600)
	res, err := c.Logout(context.Background())
	if err != nil || !res.SignedOut || len(res.Removed) != 2 {
		t.Fatalf("Logout = %+v, %v", res, err)
	}
	if len(f.logouts) != 1 || f.logouts[0] != "live" {
		t.Errorf("portal logouts %v", f.logouts)
	}
	for _, p := range []string{role, c.Cache.TokenPath(c.Session)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another cache entry was removed: %v", err)
	}
	// Nothing left: nothing to do, no error.
	if res, err := c.Logout(context.Background()); err != nil || res.SignedOut || len(res.Removed) != 0 {
		t.Errorf("second Logout = %+v, %v", res, err)
	}
}

// TestLegacyLogin: the legacy form signs in with the device code even
// when the browser flow is asked for (as the AWS CLI), caches the token
// under the start URL's SHA-1, and is not refreshed.
func TestLegacyLogin(t *testing.T) {
	f := newFakeOIDC(t)
	ssoTestEnv(t, f, sessionConfig)
	c := testClient(t, f, "legacy")
	if _, err := c.Login(context.Background(), LoginOptions{}); err != nil {
		t.Fatal(err)
	}
	if ops := f.ops(); len(ops) < 2 || ops[1] != "StartDeviceAuthorization" {
		t.Errorf("calls %v, want the device code", ops)
	}
	if want := filepath.Join(c.Cache.Dir, sha1Hex("https://legacy.example/start")+".json"); c.Cache.TokenPath(c.Session) != want {
		t.Errorf("token path %s, want %s", c.Cache.TokenPath(c.Session), want)
	}
	tok, _ := c.Cache.LoadToken(c.Session)
	tok.ExpiresAt = time.Now().Add(-time.Minute)
	c.Cache.SaveToken(c.Session, tok)
	var lr *LoginRequiredError
	if _, err := c.Ensure(context.Background()); !errors.As(err, &lr) {
		t.Errorf("Ensure of an expired legacy token = %v, want LoginRequiredError", err)
	}
}

// TestEnsureRefreshesOnce: several processes finding the token expired at
// once (scp -r's proxies) refresh it once, under the lock; the others
// find it refreshed. The refresh token works once (rotation), so a
// second refresh would fail and ask for a sign-in.
func TestEnsureRefreshesOnce(t *testing.T) {
	f := newFakeOIDC(t)
	ssoTestEnv(t, f, sessionConfig)
	c := testClient(t, f, "sso")
	old := &Token{AccessToken: "old", ExpiresAt: time.Now().Add(-time.Minute), RefreshToken: "r0", ClientID: "c", ClientSecret: "s", RegistrationExpiresAt: time.Now().Add(time.Hour)}
	if err := c.Cache.SaveToken(c.Session, old); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := testClient(t, f, "sso").Ensure(context.Background())
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	n := 0
	for _, op := range f.ops() {
		if op == "CreateToken:refresh_token" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}
