package oidc

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testIssuer(t *testing.T, url string, now func() time.Time) *Issuer {
	t.Helper()
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "oidc.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return New(url, key, now)
}

func TestSignVerifyAndDiscovery(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var srv *httptest.Server
	mux := http.NewServeMux()
	srv = httptest.NewServer(mux)
	defer srv.Close()
	is := testIssuer(t, srv.URL+"/oidc", func() time.Time { return now })
	mux.Handle("/oidc/", is.Handler())
	if got := is.ProviderARN("123456789012"); got != "arn:aws:iam::123456789012:oidc-provider/"+strings.TrimPrefix(srv.URL, "http://")+"/oidc" {
		t.Errorf("ProviderARN = %s", got)
	}
	tok, err := is.Sign("ci", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := is.Verify(tok)
	if err != nil || c.Subject != "ci" || c.Audience != DefaultAudience || c.Issuer != is.URL || c.Expires != now.Add(time.Hour).Unix() {
		t.Fatalf("Verify = %+v, %v", c, err)
	}

	// A relying party's path: discovery, JWKS, signature check with the
	// published key.
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, srv.URL+"/oidc/.well-known/openid-configuration", &disc)
	if disc.Issuer != is.URL || disc.JWKSURI != is.URL+"/keys" {
		t.Fatalf("discovery %+v", disc)
	}
	var jwks struct {
		Keys []struct{ Kty, Kid, N, E string } `json:"keys"`
	}
	getJSON(t, disc.JWKSURI, &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0].Kty != "RSA" {
		t.Fatalf("jwks %+v", jwks)
	}
	n, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].N)
	e, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	i := strings.LastIndexByte(tok, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	sum := sha256.Sum256([]byte(tok[:i]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Errorf("the token does not verify with the published JWKS: %v", err)
	}
	_, kid, _, _ := Parse(tok)
	if kid != jwks.Keys[0].Kid {
		t.Errorf("token kid %s, JWKS kid %s", kid, jwks.Keys[0].Kid)
	}

	// Failures.
	other := testIssuer(t, is.URL, func() time.Time { return now })
	forged, _ := other.Sign("ci", "", 0)
	if _, err := is.Verify(forged); !errors.Is(err, ErrSignature) {
		t.Errorf("another key's token: %v", err)
	}
	elsewhere := New("http://127.0.0.1:1/other", is.key, is.now)
	wrongIss, _ := elsewhere.Sign("ci", "", 0)
	if _, err := is.Verify(wrongIss); !errors.Is(err, ErrIssuer) {
		t.Errorf("another issuer's token: %v", err)
	}
	now = now.Add(2 * time.Hour)
	var ee *ExpiredError
	if _, err := is.Verify(tok); !errors.As(err, &ee) {
		t.Errorf("expired token: %v", err)
	}
	if _, err := is.Verify(tok[:i] + ".AAAA"); !errors.Is(err, ErrSignature) {
		t.Errorf("bad signature: %v", err)
	}
	for _, bad := range []string{"", "a.b", "a.b.c", "e30.e30.!!", strings.Repeat("a", MaxTokenBytes+1)} {
		if _, err := is.Verify(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%.20q) = %v, want ErrMalformed", bad, err)
		}
	}
	// A key file that is not a key is refused with advice.
	if _, err := LoadOrCreateKey("/dev/null"); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("LoadOrCreateKey(/dev/null) = %v", err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA")
	f.Add("a.b.c")
	f.Add("...")
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		alg, _, c, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) error %v is not ErrMalformed", s, err)
			}
			return
		}
		if strings.Count(s, ".") != 2 || len(s) > MaxTokenBytes {
			t.Fatalf("Parse(%q) accepted a token of the wrong shape: %s %+v", s, alg, c)
		}
	})
}
