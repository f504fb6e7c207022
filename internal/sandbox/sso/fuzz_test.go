package sso

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdfghjk", " bcdf ghjk ", "ABCD-EFGH", "BCDF-GHJ", "ÄBCD-EFGH", strings.Repeat("B", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := NormalizeUserCode(s)
		if err != nil {
			return
		}
		if len(c) != 9 || c[4] != '-' {
			t.Fatalf("%q → %q", s, c)
		}
		for i, r := range c {
			if i != 4 && !strings.ContainsRune(userCodeAlphabet, r) {
				t.Fatalf("%q → %q", s, c)
			}
		}
		if again, err := NormalizeUserCode(c); err != nil || again != c {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, c, again, err)
		}
	})
}

func FuzzVerifyPKCE(f *testing.F) {
	v := strings.Repeat("Ab0-._~x", 8)
	sum := sha256.Sum256([]byte(v))
	f.Add(base64.RawURLEncoding.EncodeToString(sum[:]), v)
	f.Add(base64.RawURLEncoding.EncodeToString(sum[:])+"=", v)
	f.Add("", "")
	f.Fuzz(func(t *testing.T, challenge, verifier string) {
		ok := VerifyPKCE(challenge, verifier)
		sum := sha256.Sum256([]byte(verifier))
		want := validVerifier(verifier) && challenge == base64.RawURLEncoding.EncodeToString(sum[:])
		if ok != want {
			t.Fatalf("VerifyPKCE(%q, %q) = %v, want %v", challenge, verifier, ok, want)
		}
	})
}

func FuzzParseAuthorizeQuery(f *testing.F) {
	f.Add("response_type=code&client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Foauth%2Fcallback&state=s&code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess&code_challenge=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU")
	f.Add("response_type=token")
	f.Add("response_type=code&response_type=code")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := ParseAuthorizeQuery(q)
		if err != nil {
			return
		}
		if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || CheckChallenge(p.challenge) != nil || p.clientID == "" {
			t.Fatalf("accepted %q", raw)
		}
		if _, err := parseRedirectURI(p.redirectURI); err != nil {
			t.Fatalf("accepted redirect %q: %v", p.redirectURI, err)
		}
	})
}

func FuzzRedirectMatches(f *testing.F) {
	f.Add("http://127.0.0.1/oauth/callback", "http://127.0.0.1:4567/oauth/callback")
	f.Add("https://example.com/cb", "https://example.com/cb")
	f.Add("http://127.0.0.1/oauth/callback", "http://127.0.0.1.evil.com:1/oauth/callback")
	f.Fuzz(func(t *testing.T, registered, uri string) {
		if !redirectMatches([]string{registered}, uri) || registered == uri {
			return
		}
		// Only a loopback port may differ.
		r, err1 := parseRedirectURI(registered)
		u, err2 := parseRedirectURI(uri)
		if err1 != nil || err2 != nil || !isLoopback(u.Hostname()) || r.Hostname() != u.Hostname() || r.EscapedPath() != u.EscapedPath() || r.Scheme != u.Scheme {
			t.Fatalf("%q matched registered %q", uri, registered)
		}
	})
}

func FuzzParsePageToken(f *testing.F) {
	f.Add(pageToken(3, "roles/123456789012"), "roles/123456789012")
	f.Add("forged", "accounts")
	f.Fuzz(func(t *testing.T, token, scope string) {
		off, err := ParsePageToken(token, scope)
		if err != nil {
			return
		}
		if off < 0 || pageToken(off, scope) != token {
			t.Fatalf("%q (%q) → %d", token, scope, off)
		}
	})
}

// FuzzOIDCBodies posts arbitrary bodies to the OIDC API: every answer is
// AWS's JSON (a result or an error with error/error_description), never an
// internal error.
func FuzzOIDCBodies(f *testing.F) {
	s := New(Options{Region: "us-east-1", Account: "123456789012", BaseURL: "http://127.0.0.1:1"})
	mux := http.NewServeMux()
	s.Register(mux)
	for _, b := range []string{`{"clientName":"a","clientType":"public"}`, `{"clientId":"x","clientSecret":"y","grantType":"refresh_token","refreshToken":"z"}`,
		`{"clientId":"x","clientSecret":"y","startUrl":"http://127.0.0.1:1/start"}`, `[]`, `{"scopes":"x"}`, `{} {}`, ``} {
		for _, p := range []string{"/client/register", "/token", "/device_authorization"} {
			f.Add(p, b)
		}
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if path != "/client/register" && path != "/token" && path != "/device_authorization" {
			return
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
		var v map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %q: %d %q is not a JSON object", path, body, w.Code, w.Body)
		}
		switch w.Code {
		case 200:
		case 400, 401:
			if v["error"] == "" || w.Header().Get("X-Amzn-Errortype") == "" {
				t.Fatalf("%s %q: error without its type: %v", path, body, v)
			}
		default:
			t.Fatalf("%s %q: status %d %v", path, body, w.Code, v)
		}
	})
}

// FuzzPageForms posts arbitrary form bodies to the sign-in pages: a page
// (200), a redirect (302) or a refusal (400), never anything else, and no
// sign-in without a request the authorize page made.
func FuzzPageForms(f *testing.F) {
	s := New(Options{Region: "us-east-1", Account: "123456789012", BaseURL: "http://127.0.0.1:1", Users: []User{{UserName: "dave"}}})
	mux := http.NewServeMux()
	s.Register(mux)
	for _, b := range []string{"request=x&user=dave&action=allow", "user_code=BCDF-GHJK&user=dave&action=allow", "user_code=%ZZ", "action=deny", "", "a=" + strings.Repeat("b", 20000)} {
		f.Add("/authorize", b)
		f.Add("/device", b)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if path != "/authorize" && path != "/device" {
			return
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		switch w.Code {
		case 200, 400:
		default:
			t.Fatalf("%s %q: status %d", path, body, w.Code)
		}
		if len(s.codes) != 0 {
			t.Fatalf("%s %q made an authorization code", path, body)
		}
	})
}
