// Package oidc is the sandbox's OpenID Connect identity provider for STS
// AssumeRoleWithWebIdentity: it signs JSON Web Tokens (RS256) for chosen
// subjects and audiences, serves its discovery document
// (/.well-known/openid-configuration) and its keys (JWKS) at its loopback
// issuer URL as a real provider does, and verifies tokens for the STS
// handler. The signing key is kept in the sandbox's state directory.
package oidc

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultAudience is the audience tokens get unless told otherwise: the
// one AWS's documentation and CI providers use for STS.
const DefaultAudience = "sts.amazonaws.com"

// DefaultSubject is the subject tokens get unless told otherwise.
const DefaultSubject = "jitssh-sandbox-workload"

// DefaultLifetime is how long a token is valid unless told otherwise.
const DefaultLifetime = time.Hour

// MaxTokenBytes bounds a token Verify reads (STS allows 20,000 characters).
const MaxTokenBytes = 20000

// Issuer is an OIDC identity provider.
type Issuer struct {
	// URL is the issuer identifier, e.g. http://127.0.0.1:PORT/oidc: the
	// tokens' iss claim, and the base of the discovery document.
	URL string
	key *rsa.PrivateKey
	kid string
	now func() time.Time
}

// New returns an issuer at url signing with key; now nil means time.Now.
func New(url string, key *rsa.PrivateKey, now func() time.Time) *Issuer {
	if now == nil {
		now = time.Now
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey) // an RSA key always marshals
	sum := sha256.Sum256(der)
	return &Issuer{URL: strings.TrimRight(url, "/"), key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:12]), now: now}
}

// LoadOrCreateKey reads the PEM (PKCS #8) RSA key at path, or creates a
// 2048-bit one there (mode 0600) when the file does not exist.
func LoadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate OIDC signing key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("encode OIDC signing key: %w", err)
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("write OIDC signing key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read OIDC signing key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("OIDC signing key %s is not PEM; delete it to have a new one made", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("OIDC signing key %s: %w; delete it to have a new one made", path, err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("OIDC signing key %s is not an RSA key; delete it to have a new one made", path)
	}
	return key, nil
}

// ProviderID is the issuer URL without its scheme (host[:port]/path): the
// name of the IAM OIDC provider and the prefix of its condition keys
// (PROVIDER:sub, PROVIDER:aud).
func (is *Issuer) ProviderID() string {
	_, rest, ok := strings.Cut(is.URL, "://")
	if !ok {
		return is.URL
	}
	return rest
}

// ProviderARN is the ARN of the IAM OIDC provider for the issuer in
// account: arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH.
func (is *Issuer) ProviderARN(account string) string {
	return "arn:aws:iam::" + account + ":oidc-provider/" + is.ProviderID()
}

// Claims are the claims the sandbox's tokens carry.
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	Expires   int64  `json:"exp"`
	NotBefore int64  `json:"nbf,omitempty"`
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
}

// Sign returns a signed token for subject and audience (defaults when
// empty) valid for ttl (DefaultLifetime when 0).
func (is *Issuer) Sign(subject, audience string, ttl time.Duration) (string, error) {
	if subject == "" {
		subject = DefaultSubject
	}
	if audience == "" {
		audience = DefaultAudience
	}
	if ttl == 0 {
		ttl = DefaultLifetime
	}
	now := is.now()
	c := Claims{Issuer: is.URL, Subject: subject, Audience: audience, IssuedAt: now.Unix(), Expires: now.Add(ttl).Unix(), NotBefore: now.Unix()}
	h, _ := json.Marshal(header{Alg: "RS256", Kid: is.kid, Typ: "JWT"})
	p, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode token claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, is.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Token errors, as Verify returns them.
var (
	// ErrMalformed: not a JWT of three base64url parts with JSON header
	// and claims, or an algorithm other than RS256.
	ErrMalformed = errors.New("the token is not a well-formed RS256 JSON Web Token")
	// ErrSignature: the signature is not the issuer's.
	ErrSignature = errors.New("the token's signature does not verify with the issuer's key")
	// ErrIssuer: the token names another issuer.
	ErrIssuer = errors.New("the token was issued by another provider")
)

// ExpiredError: the token's exp has passed (or its nbf is to come).
type ExpiredError struct {
	Now, Expires int64
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("Token expired: current date/time %d must be before the expiration date/time %d", e.Now, e.Expires)
}

// Parse splits and decodes a token without checking its signature: its
// header's algorithm and key id and its claims. Errors are ErrMalformed.
func Parse(token string) (alg, kid string, c Claims, err error) {
	if len(token) > MaxTokenBytes {
		return "", "", c, ErrMalformed
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", "", c, ErrMalformed
	}
	var h header
	if err := decodePart(parts[0], &h); err != nil {
		return "", "", c, err
	}
	if err := decodePart(parts[1], &c); err != nil {
		return "", "", c, err
	}
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return "", "", c, ErrMalformed
	}
	return h.Alg, h.Kid, c, nil
}

func decodePart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return ErrMalformed
	}
	if err := json.Unmarshal(b, v); err != nil {
		return ErrMalformed
	}
	return nil
}

// Verify checks token's signature, issuer and validity period and
// returns its claims.
func (is *Issuer) Verify(token string) (Claims, error) {
	alg, _, c, err := Parse(token)
	if err != nil {
		return c, err
	}
	if alg != "RS256" {
		return c, ErrMalformed
	}
	i := strings.LastIndexByte(token, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(token[i+1:])
	sum := sha256.Sum256([]byte(token[:i]))
	if rsa.VerifyPKCS1v15(&is.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return c, ErrSignature
	}
	if c.Issuer != is.URL {
		return c, ErrIssuer
	}
	now := is.now().Unix()
	if now >= c.Expires || c.NotBefore > now+300 {
		return c, &ExpiredError{Now: now, Expires: c.Expires}
	}
	return c, nil
}

// Handler serves the discovery document and the JWKS under the issuer
// URL's path: PATH/.well-known/openid-configuration and PATH/keys.
func (is *Issuer) Handler() http.Handler {
	path := "/"
	if _, rest, ok := strings.Cut(is.ProviderID(), "/"); ok {
		path = "/" + rest
	}
	path = strings.TrimRight(path, "/")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                is.URL,
			"jwks_uri":                              is.URL + "/keys",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "nbf"},
		})
	})
	mux.HandleFunc("GET "+path+"/keys", func(w http.ResponseWriter, r *http.Request) {
		pub := is.key.PublicKey
		writeJSON(w, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": is.kid,
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
