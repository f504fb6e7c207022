package ssologin

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // the AWS CLI's cache file names are SHA-1 digests; they name files, they protect nothing
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/jitssh/jitssh/internal/openssh/privfile"
	"github.com/jitssh/jitssh/internal/pyjson"
)

// Token is one entry of the SSO token cache, in the format the AWS CLI
// v2 writes and the SDKs read (~/.aws/sso/cache/<sha1>.json):
//
//	{"startUrl": …, "region": …, "accessToken": …,
//	 "expiresAt": "2026-12-02T13:00:00Z", "refreshToken": …,
//	 "clientId": …, "clientSecret": …, "registrationExpiresAt": …}
type Token struct {
	StartURL              string
	Region                string
	AccessToken           string
	ExpiresAt             time.Time
	RefreshToken          string
	ClientID              string
	ClientSecret          string
	RegistrationExpiresAt time.Time
}

// Refreshable reports whether t holds what the refresh_token grant needs
// and its client registration has not expired at now.
func (t *Token) Refreshable(now time.Time) bool {
	if t.RefreshToken == "" || t.ClientID == "" || t.ClientSecret == "" {
		return false
	}
	return t.RegistrationExpiresAt.IsZero() || now.Before(t.RegistrationExpiresAt)
}

// Valid reports whether the access token can still be used at now for at
// least margin.
func (t *Token) Valid(now time.Time, margin time.Duration) bool {
	return t.AccessToken != "" && t.ExpiresAt.Sub(now) > margin
}

// timeFormat is how the AWS CLI writes times in its SSO cache: UTC, whole
// seconds, "Z".
const timeFormat = "2006-01-02T15:04:05Z"

// maxCacheFile bounds a cache file jitssh reads (the CLI's are < 4 KB;
// access tokens are opaque but not large).
const maxCacheFile = 256 << 10

type tokenFile struct {
	StartURL              string `json:"startUrl,omitempty"`
	Region                string `json:"region,omitempty"`
	AccessToken           string `json:"accessToken"`
	ExpiresAt             string `json:"expiresAt"`
	RefreshToken          string `json:"refreshToken,omitempty"`
	ClientID              string `json:"clientId,omitempty"`
	ClientSecret          string `json:"clientSecret,omitempty"`
	RegistrationExpiresAt string `json:"registrationExpiresAt,omitempty"`
}

// ParseToken decodes a token cache file. accessToken and expiresAt are
// required (as the SDKs require them); times are RFC 3339 (the CLI writes
// "Z", other tools an offset); unknown fields are ignored, as the SDKs
// ignore them.
func ParseToken(data []byte) (*Token, error) {
	if len(data) > maxCacheFile {
		return nil, fmt.Errorf("token cache file is %d bytes, more than %d", len(data), maxCacheFile)
	}
	var f tokenFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("token cache file is not the JSON object expected: %w", err)
	}
	if f.AccessToken == "" || f.ExpiresAt == "" {
		return nil, errors.New("token cache file lacks accessToken or expiresAt")
	}
	t := &Token{StartURL: f.StartURL, Region: f.Region, AccessToken: f.AccessToken, RefreshToken: f.RefreshToken, ClientID: f.ClientID, ClientSecret: f.ClientSecret}
	var err error
	if t.ExpiresAt, err = parseTime("expiresAt", f.ExpiresAt); err != nil {
		return nil, err
	}
	if f.RegistrationExpiresAt != "" {
		if t.RegistrationExpiresAt, err = parseTime("registrationExpiresAt", f.RegistrationExpiresAt); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("token cache file: %s %q is not an RFC 3339 time", field, s)
	}
	return t.UTC(), nil
}

// Marshal encodes t as the AWS CLI writes it.
func (t *Token) Marshal() []byte {
	f := tokenFile{
		StartURL: t.StartURL, Region: t.Region, AccessToken: t.AccessToken,
		ExpiresAt: t.ExpiresAt.UTC().Format(timeFormat), RefreshToken: t.RefreshToken,
		ClientID: t.ClientID, ClientSecret: t.ClientSecret,
	}
	if !t.RegistrationExpiresAt.IsZero() {
		f.RegistrationExpiresAt = t.RegistrationExpiresAt.UTC().Format(timeFormat)
	}
	return marshalJSON(f)
}

// marshalJSON encodes v without HTML escaping (as Python's json.dumps).
func marshalJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only strings and string slices
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// Registration is a cached OIDC client registration, as the AWS CLI
// caches it (~/.aws/sso/cache/<sha1 of its arguments>.json).
type Registration struct {
	ClientID     string
	ClientSecret string
	ExpiresAt    time.Time
	Scopes       []string
	// GrantTypes is set for an authorization-code registration
	// (authorization_code, refresh_token); absent for the device code.
	GrantTypes []string
}

type registrationFile struct {
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	ExpiresAt    string   `json:"expiresAt"`
	Scopes       []string `json:"scopes,omitempty"`
	GrantTypes   []string `json:"grantTypes,omitempty"`
}

// ParseRegistration decodes a registration cache file: clientId,
// clientSecret and expiresAt are required.
func ParseRegistration(data []byte) (*Registration, error) {
	if len(data) > maxCacheFile {
		return nil, fmt.Errorf("registration cache file is %d bytes, more than %d", len(data), maxCacheFile)
	}
	var f registrationFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("registration cache file is not the JSON object expected: %w", err)
	}
	if f.ClientID == "" || f.ClientSecret == "" || f.ExpiresAt == "" {
		return nil, errors.New("registration cache file lacks clientId, clientSecret or expiresAt")
	}
	exp, err := parseTime("expiresAt", f.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return &Registration{ClientID: f.ClientID, ClientSecret: f.ClientSecret, ExpiresAt: exp, Scopes: f.Scopes, GrantTypes: f.GrantTypes}, nil
}

// Marshal encodes r as the AWS CLI writes it.
func (r *Registration) Marshal() []byte {
	return marshalJSON(registrationFile{ClientID: r.ClientID, ClientSecret: r.ClientSecret,
		ExpiresAt: r.ExpiresAt.UTC().Format(timeFormat), Scopes: r.Scopes, GrantTypes: r.GrantTypes})
}

// forAuthCode reports whether r was registered for the authorization-code
// grant (botocore's _is_registration_for_auth_code).
func (r *Registration) forAuthCode() bool {
	for _, g := range r.GrantTypes {
		if g == "authorization_code" {
			return true
		}
	}
	return false
}

// Cache is the SSO cache directory (~/.aws/sso/cache).
type Cache struct{ Dir string }

// DefaultCache is ~/.aws/sso/cache under the user's home (HOME, as the
// SDK reads it).
func DefaultCache() (Cache, error) {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return Cache{}, fmt.Errorf("find the home directory for the SSO token cache: %w", err)
	}
	return Cache{Dir: filepath.Join(home, ".aws", "sso", "cache")}, nil
}

// sha1Hex is the lower-case hex SHA-1 of s.
func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s)) //nolint:gosec // see import
	return hex.EncodeToString(sum[:])
}

// TokenPath is the token cache file of s: the SHA-1 of its cache key.
func (c Cache) TokenPath(s *Session) string {
	return filepath.Join(c.Dir, sha1Hex(s.CacheKey())+".json")
}

// RegistrationPath is the registration cache file of s: the SHA-1 of
// Python's json.dumps(..., sort_keys=True) of {"region", "scopes",
// "session_name", "startUrl", "tool": "botocore"} (botocore's
// _registration_cache_key), so that the AWS CLI and jitssh share one
// registration.
func (c Cache) RegistrationPath(s *Session) string {
	return filepath.Join(c.Dir, RegistrationKey(s)+".json")
}

// RegistrationKey is the registration cache file's name without ".json".
func RegistrationKey(s *Session) string {
	fields := map[string]string{
		"region":       pyjson.String(s.Region),
		"scopes":       pyjson.Strings(s.Scopes),
		"session_name": pyjson.OptString(s.Name),
		"startUrl":     pyjson.String(s.StartURL),
		"tool":         pyjson.String("botocore"),
	}
	return sha1Hex(pyjson.Object(fields))
}

// read returns the file's contents, at most maxCacheFile bytes; a missing
// file is fs.ErrNotExist.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxCacheFile+1))
}

// LoadToken reads s's cached token. A missing file is an error wrapping
// fs.ErrNotExist.
func (c Cache) LoadToken(s *Session) (*Token, error) {
	p := c.TokenPath(s)
	data, err := readSmall(p)
	if err != nil {
		return nil, err
	}
	t, err := ParseToken(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return t, nil
}

// SaveToken writes s's token cache file atomically, mode 0600, in a
// directory only the user can write to.
func (c Cache) SaveToken(s *Session, t *Token) error {
	return c.write(c.TokenPath(s), t.Marshal())
}

// loadRegistration reads s's cached registration; nil when there is none
// or it cannot be used (the CLI then registers anew too).
func (c Cache) loadRegistration(s *Session) *Registration {
	data, err := readSmall(c.RegistrationPath(s))
	if err != nil {
		return nil
	}
	r, err := ParseRegistration(data)
	if err != nil {
		return nil
	}
	return r
}

func (c Cache) saveRegistration(s *Session, r *Registration) error {
	return c.write(c.RegistrationPath(s), r.Marshal())
}

func (c Cache) write(path string, data []byte) error {
	if err := privfile.MkdirPrivate(c.Dir); err != nil {
		return err
	}
	return privfile.WriteFile(path, data, privfile.Options{Perm: 0o600})
}

// RemoveToken deletes s's token cache file; it reports whether there was
// one.
func (c Cache) RemoveToken(s *Session) (bool, error) {
	err := os.Remove(c.TokenPath(s))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
