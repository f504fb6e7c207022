package ssologin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOIDC is an SSO OIDC + portal endpoint speaking the SDK's REST-JSON
// protocol, with scripted answers to the device-code polls.
type fakeOIDC struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	calls     []string // operation names, in order
	polls     []string // error codes to answer the next device-code polls with ("" = success)
	approved  bool     // the authorization-code flow's /authorize approves
	refreshOK bool
	logouts   []string // access tokens logged out
	lastAuth  url.Values
	register  map[string]any
	tokenIn   map[string]any
	expiresIn int
	n         int
	used      map[string]bool // refresh tokens used (each works once: rotation)
}

func newFakeOIDC(t *testing.T) *fakeOIDC {
	f := &fakeOIDC{t: t, approved: true, refreshOK: true, expiresIn: 3600}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOIDC) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeOIDC) fail(w http.ResponseWriter, status int, typ, oauth string) {
	w.Header().Set("X-Amzn-Errortype", typ)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"error":%q,"error_description":"fake"}`, typ, oauth)
}

func (f *fakeOIDC) ok(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (f *fakeOIDC) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body map[string]any
	if r.Method == http.MethodPost {
		json.NewDecoder(r.Body).Decode(&body)
	}
	f.n++
	switch r.URL.Path {
	case "/client/register":
		f.calls = append(f.calls, "RegisterClient")
		f.register = body
		f.ok(w, map[string]any{"clientId": fmt.Sprintf("client-%d", f.n), "clientSecret": "secret", "clientIdIssuedAt": time.Now().Unix(),
			"clientSecretExpiresAt": time.Now().Add(90 * 24 * time.Hour).Unix()})
	case "/device_authorization":
		f.calls = append(f.calls, "StartDeviceAuthorization")
		f.ok(w, map[string]any{"deviceCode": "dev-1", "userCode": "ABCD-EFGH", "verificationUri": f.srv.URL + "/device",
			"verificationUriComplete": f.srv.URL + "/device?user_code=ABCD-EFGH", "expiresIn": 600, "interval": 1})
	case "/token":
		f.calls = append(f.calls, "CreateToken:"+fmt.Sprint(body["grantType"]))
		f.tokenIn = body
		f.token(w, body)
	case "/authorize":
		f.calls = append(f.calls, "authorize")
		f.lastAuth = r.URL.Query()
		q := url.Values{"state": {r.URL.Query().Get("state")}}
		if f.approved {
			q.Set("code", "the-code")
		} else {
			q.Set("error", "access_denied")
		}
		http.Redirect(w, r, r.URL.Query().Get("redirect_uri")+"?"+q.Encode(), http.StatusFound)
	case "/logout":
		f.calls = append(f.calls, "Logout")
		f.logouts = append(f.logouts, r.Header.Get("X-Amz-Sso_bearer_token"))
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeOIDC) token(w http.ResponseWriter, body map[string]any) {
	switch body["grantType"] {
	case "urn:ietf:params:oauth:grant-type:device_code":
		if len(f.polls) > 0 {
			code := f.polls[0]
			f.polls = f.polls[1:]
			switch code {
			case "pending":
				f.fail(w, 400, "AuthorizationPendingException", "authorization_pending")
				return
			case "slow":
				f.fail(w, 400, "SlowDownException", "slow_down")
				return
			case "expired":
				f.fail(w, 400, "ExpiredTokenException", "expired_token")
				return
			case "denied":
				f.fail(w, 400, "AccessDeniedException", "access_denied")
				return
			}
		}
	case "authorization_code":
		if body["code"] != "the-code" {
			f.fail(w, 400, "InvalidGrantException", "invalid_grant")
			return
		}
	case "refresh_token":
		rt, _ := body["refreshToken"].(string)
		if f.used == nil {
			f.used = map[string]bool{}
		}
		if f.used[rt] {
			f.fail(w, 400, "InvalidGrantException", "invalid_grant")
			return
		}
		f.used[rt] = true
		if !f.refreshOK {
			f.fail(w, 400, "InvalidGrantException", "invalid_grant")
			return
		}
	}
	f.ok(w, map[string]any{"accessToken": fmt.Sprintf("access-%d", f.n), "expiresIn": f.expiresIn, "refreshToken": fmt.Sprintf("refresh-%d", f.n), "tokenType": "Bearer"})
}

// ssoTestEnv points HOME, the shared config and the endpoints at a
// temporary directory and f, with no AWS_* variable of the developer.
func ssoTestEnv(t *testing.T, f *fakeOIDC, config string) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg := filepath.Join(home, "config")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "credentials"))
	if f != nil {
		t.Setenv("AWS_ENDPOINT_URL", f.srv.URL)
	}
	return home
}

const sessionConfig = `[profile sso]
sso_session = sandbox
sso_account_id = 123456789012
sso_role_name = Dev
region = eu-west-1

[profile legacy]
sso_start_url = https://legacy.example/start
sso_region = eu-west-1
sso_account_id = 123456789012
sso_role_name = Dev

[profile plain]
region = eu-west-1

[sso-session sandbox]
sso_start_url = https://sandbox.example/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
`

// testClient resolves profile and builds its Client against f, with a
// clock that does not sleep.
func testClient(t *testing.T, f *fakeOIDC, profile string) *Client {
	t.Helper()
	s, err := Resolve(context.Background(), profile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	c.Sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	return c
}
