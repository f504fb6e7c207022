package sso

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// The parsers of what clients and browsers send: PKCE values, user codes
// and redirect URIs (each fuzzed).

// VerifyPKCE reports whether verifier is a valid RFC 7636 code verifier
// (43 to 128 characters of A-Z a-z 0-9 - . _ ~) whose S256 transform,
// BASE64URL(SHA256(verifier)) without padding, is challenge.
func VerifyPKCE(challenge, verifier string) bool {
	if !validVerifier(verifier) || CheckChallenge(challenge) != nil {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isUnreserved(v[i]) {
			return false
		}
	}
	return true
}

func isUnreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// CheckChallenge checks an S256 code challenge: 43 characters of the
// base64url alphabet (32 bytes, unpadded).
func CheckChallenge(ch string) error {
	if len(ch) != 43 {
		return fmt.Errorf("code_challenge has %d characters, want the 43 of an unpadded base64url SHA-256", len(ch))
	}
	if _, err := base64.RawURLEncoding.DecodeString(ch); err != nil {
		return errors.New("code_challenge is not base64url without padding")
	}
	return nil
}

// userCodeAlphabet are the letters of user codes (no vowels, so no words;
// as AWS's codes look: "ABCD-EFGH" shapes of consonants).
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

func newUserCode() string {
	b := make([]byte, 8)
	rand.Read(b)
	out := make([]byte, 0, 9)
	for i, c := range b {
		if i == 4 {
			out = append(out, '-')
		}
		out = append(out, userCodeAlphabet[int(c)%len(userCodeAlphabet)])
	}
	return string(out)
}

// NormalizeUserCode returns the canonical form ("ABCD-EFGH") of a user
// code as a person types it: any case, spaces, with or without the dash.
func NormalizeUserCode(s string) (string, error) {
	if len(s) > 64 {
		return "", errors.New("a user code has 8 letters, like BCDF-GHJK")
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case r >= 'a' && r <= 'z':
			b.WriteByte(byte(r - 'a' + 'A'))
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		default:
			return "", fmt.Errorf("a user code has only letters, not %q", r)
		}
	}
	c := b.String()
	if len(c) != 8 {
		return "", fmt.Errorf("a user code has 8 letters, like BCDF-GHJK; got %d", len(c))
	}
	for i := 0; i < len(c); i++ {
		if !strings.ContainsRune(userCodeAlphabet, rune(c[i])) {
			return "", fmt.Errorf("%q is not a letter of user codes (they have no vowels)", c[i])
		}
	}
	return c[:4] + "-" + c[4:], nil
}

// parseRedirectURI checks a redirect URI a client registers or sends:
// absolute, no fragment, https, or http to a loopback address (RFC 8252,
// what CLIs listen on).
func parseRedirectURI(s string) (*url.URL, error) {
	if len(s) > 2048 {
		return nil, errors.New("longer than 2048 characters")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Fragment != "" || u.User != nil || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("want an absolute URL without user info or fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, errors.New("http is only allowed to a loopback address (127.0.0.1, [::1], localhost)")
		}
	default:
		return nil, errors.New("want https, or http to a loopback address")
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redirectMatches reports whether uri, sent to the authorize endpoint,
// is one of the registered URIs: equal, or on a loopback host equal but
// for the port (RFC 8252 7.3: the AWS CLI registers
// http://127.0.0.1/oauth/callback and listens on a port it picks).
func redirectMatches(registered []string, uri string) bool {
	u, err := parseRedirectURI(uri)
	if err != nil {
		return false
	}
	for _, r := range registered {
		if r == uri {
			return true
		}
		ru, err := parseRedirectURI(r)
		if err != nil {
			continue
		}
		if ru.Scheme == u.Scheme && ru.Hostname() == u.Hostname() && isLoopback(u.Hostname()) &&
			ru.EscapedPath() == u.EscapedPath() && ru.RawQuery == u.RawQuery && (ru.Port() == "" || ru.Port() == u.Port()) {
			return true
		}
	}
	return false
}
