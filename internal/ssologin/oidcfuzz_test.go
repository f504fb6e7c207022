package ssologin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
)

// oidcAnswers is an SSO OIDC endpoint that answers each operation with
// the body a fuzz case sets (CreateToken's device-code answer with status
// 400 when tokenFails: an error such as authorization_pending).
type oidcAnswers struct {
	mu                               sync.Mutex
	register, device, token, refresh string
	tokenFails                       bool
}

func (a *oidcAnswers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var in struct {
		GrantType string `json:"grantType"`
	}
	json.NewDecoder(r.Body).Decode(&in) //nolint:errcheck // a body that is not JSON names no grant
	status, body := http.StatusOK, ""
	switch r.URL.Path {
	case "/client/register":
		body = a.register
	case "/device_authorization":
		body = a.device
	case "/token":
		body = a.token
		if a.tokenFails {
			status = http.StatusBadRequest
		}
		if in.GrantType == "refresh_token" {
			status, body = http.StatusOK, a.refresh
		}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// FuzzOIDCAnswers: whatever the OIDC service answers (RegisterClient,
// StartDeviceAuthorization, CreateToken for the device code, then for the
// refresh token), a sign-in either fails or writes a token cache (and a
// client registration) that jitssh reads back as it was; a refresh
// either fails or rewrites a token cache that reads back. Never a panic,
// never an unreadable cache that would leave the user signed in to
// nothing.
func FuzzOIDCAnswers(f *testing.F) {
	reg := `{"clientId":"c","clientSecret":"s","clientIdIssuedAt":1764676800,"clientSecretExpiresAt":1772452800}`
	dev := `{"deviceCode":"d","userCode":"ABCD-EFGH","verificationUri":"https://x.invalid/device","verificationUriComplete":"https://x.invalid/device?user_code=ABCD-EFGH","expiresIn":600,"interval":1}`
	tok := `{"accessToken":"a","expiresIn":3600,"refreshToken":"r","tokenType":"Bearer"}`
	ref := `{"accessToken":"a2","expiresIn":3600,"refreshToken":"r2","tokenType":"Bearer"}`
	f.Add(reg, dev, tok, ref, false)
	f.Add(reg, dev, `{"__type":"AuthorizationPendingException","error":"authorization_pending"}`, ref, true)
	f.Add(reg, dev, `{"__type":"SlowDownException","error":"slow_down"}`, ref, true)
	f.Add(reg, dev, `{"__type":"ExpiredTokenException","error":"expired_token"}`, ref, true)
	f.Add(reg, dev, tok, `{"__type":"InvalidGrantException","error":"invalid_grant"}`, false)
	f.Add(reg, dev, `{"accessToken":"a","expiresIn":0}`, ref, false)
	f.Add(reg, dev, tok, `{"accessToken":"a2","expiresIn":1}`, false)
	f.Add(`{"clientId":"c","clientSecret":"s","clientSecretExpiresAt":9223372036854775807}`, dev, tok, ref, false)
	f.Add(`{"clientId":"c","clientSecret":"s","clientSecretExpiresAt":-62135596801}`, dev, tok, ref, false)
	f.Add(reg, `{"deviceCode":"d","verificationUri":"u","interval":2147483647}`, `{}`, ref, true)
	answers := &oidcAnswers{}
	srv := httptest.NewServer(answers)
	f.Cleanup(srv.Close)
	oidc := ssooidc.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: aws.AnonymousCredentials{}, HTTPClient: srv.Client()})
	f.Fuzz(func(t *testing.T, register, device, token, refresh string, tokenFails bool) {
		answers.mu.Lock()
		answers.register, answers.device, answers.token, answers.refresh, answers.tokenFails = register, device, token, refresh, tokenFails
		answers.mu.Unlock()
		now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
		s := &Session{Profile: "p", Name: "s", StartURL: "https://x.invalid/start", Region: "us-east-1", Scopes: []string{"sso:account:access"}}
		c := &Client{Session: s, Cache: Cache{Dir: t.TempDir()}, OIDC: oidc, AuthorizeURL: srv.URL,
			Now:   func() time.Time { return now },
			Sleep: func(ctx context.Context, d time.Duration) error { now = now.Add(d); return ctx.Err() }}
		ctx := context.Background()
		got, err := c.Login(ctx, LoginOptions{DeviceCode: true, Wait: 30 * time.Second})
		if err != nil {
			return
		}
		checkCached(t, c, got, now)
		if r := c.Cache.loadRegistration(s); r == nil {
			t.Fatalf("the client registration cached for %q cannot be read back", register)
		}
		// Expired: refreshed (or refused), never left unreadable.
		got.ExpiresAt = now.Add(-time.Minute)
		if err := c.Cache.SaveToken(s, got); err != nil {
			t.Fatal(err)
		}
		nt, err := c.Ensure(ctx)
		if err != nil {
			return
		}
		checkCached(t, c, nt, now)
	})
}

// checkCached: tok is valid at now and is what the cache holds.
func checkCached(t *testing.T, c *Client, tok *Token, now time.Time) {
	t.Helper()
	if tok.AccessToken == "" || !tok.ExpiresAt.After(now) {
		t.Fatalf("token %+v is not valid at %v", tok, now)
	}
	cached, err := c.Cache.LoadToken(c.Session)
	if err != nil {
		t.Fatalf("the token cache written cannot be read back: %v", err)
	}
	if cached.AccessToken != tok.AccessToken || cached.RefreshToken != tok.RefreshToken || !cached.ExpiresAt.Equal(tok.ExpiresAt) ||
		!cached.RegistrationExpiresAt.Equal(tok.RegistrationExpiresAt) {
		t.Fatalf("the token cache holds %+v, not %+v", cached, tok)
	}
}

// FuzzCallbackHandler: whatever the browser's redirect to the loopback
// listener carries, the listener hands on at most one answer, only one
// with an error or with both a code and a state, exactly as the query
// gave them, and its page never repeats what the query said.
func FuzzCallbackHandler(f *testing.F) {
	for _, q := range []string{"code=c&state=s", "error=access_denied&state=s", "code=c", "state=s", "",
		"code=%3Cscript%3E&state=s", "code=a&code=b&state=s", "code=%zz&state=s", "code=c;state=s"} {
		f.Add(q)
	}
	pages := map[string]bool{
		fmt.Sprintf(donePage, "Signed in: you can close this window and return to jitssh."): true,
		fmt.Sprintf(donePage, "The sign-in failed; see jitssh's message in your terminal."): true,
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		got := make(chan callback, 1)
		h := callbackHandler(got)
		q, _ := url.ParseQuery(rawQuery)
		want := callback{code: q.Get("code"), state: q.Get("state"), err: q.Get("error")}
		usable := want.err != "" || (want.code != "" && want.state != "")
		for i := 0; i < 2; i++ {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: redirectPath, RawQuery: rawQuery}, Header: http.Header{}})
			switch {
			case !usable && w.Code != http.StatusBadRequest:
				t.Fatalf("%q: status %d, want 400", rawQuery, w.Code)
			case usable && (w.Code != http.StatusOK || !pages[w.Body.String()]):
				t.Fatalf("%q: status %d, page %q", rawQuery, w.Code, w.Body.String())
			}
		}
		select {
		case cb := <-got:
			if !usable || cb != want {
				t.Fatalf("%q: handed on %+v, want %+v (usable %v)", rawQuery, cb, want, usable)
			}
		default:
			if usable {
				t.Fatalf("%q: nothing handed on", rawQuery)
			}
		}
		if len(got) != 0 {
			t.Fatalf("%q: two answers handed on", rawQuery)
		}
	})
}
