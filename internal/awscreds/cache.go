package awscreds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Entry is one cached AssumeRole (or GetSessionToken) answer, in the
// AWS CLI's cache file format:
//
//	{"Credentials": {"AccessKeyId": …, "SecretAccessKey": …,
//	  "SessionToken": …, "Expiration": "2026-12-02T13:04:05Z"},
//	 "AssumedRoleUser": {"AssumedRoleId": …, "Arn": …},
//	 "ResponseMetadata": {"RequestId": …, "HTTPStatusCode": 200, …}}
type Entry struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
	// AssumedRoleARN and AssumedRoleID are AssumeRole's AssumedRoleUser
	// (empty for session tokens).
	AssumedRoleARN, AssumedRoleID string
	RequestID                     string
}

// ReuseWindow is how long before its expiry a cached entry stops being
// used: botocore's mandatory refresh time (it prefers to refresh 15
// minutes before, but a 15-minute session, the shortest AWS allows, would
// then never be reused). Ten minutes covers setting up a connection many
// times over; the credentials are not needed once it is up.
const ReuseWindow = 10 * time.Minute

// MaxFileSize bounds a cache file jitssh reads: the CLI's are ~1.5 KB.
const MaxFileSize = 64 << 10

// Fresh reports whether e may still be used at now.
func (e *Entry) Fresh(now time.Time) bool {
	return e.Expiration.Sub(now) >= ReuseWindow
}

type fileCreds struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
	Expiration      string `json:"Expiration"`
	AccountID       string `json:"AccountId,omitempty"`
}

type fileRoleUser struct {
	AssumedRoleID string `json:"AssumedRoleId"`
	Arn           string `json:"Arn"`
}

type fileMeta struct {
	RequestID      string            `json:"RequestId,omitempty"`
	HTTPStatusCode int               `json:"HTTPStatusCode"`
	HTTPHeaders    map[string]string `json:"HTTPHeaders"`
	RetryAttempts  int               `json:"RetryAttempts"`
}

type fileEntry struct {
	Credentials     *fileCreds    `json:"Credentials"`
	AssumedRoleUser *fileRoleUser `json:"AssumedRoleUser"`
}

var (
	keyIDPattern = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	// printable: no control characters, no spaces (a secret or token
	// never has them; a file that does is not a cache entry).
	tokenPattern = regexp.MustCompile(`^[\x21-\x7e]+$`)
)

// expiration formats: what the AWS CLI v1 writes (strftime with %Z:
// "2026-12-02T13:04:05UTC"), RFC 3339 (jitssh, the CLI v2's isoformat
// "+00:00"), with or without fractions.
var expirationLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05MST", "2006-01-02T15:04:05.999999MST"}

func parseExpiration(s string) (time.Time, error) {
	for _, l := range expirationLayouts {
		t, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		if l != time.RFC3339Nano && !strings.HasSuffix(s, "UTC") {
			continue // %Z of another zone: Go would guess an offset
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("expiration %q is not a time", s)
}

// ParseEntry reads a cache file's content. Anything but a well-formed
// entry is an error: such a file is ignored, never trusted in part.
func ParseEntry(data []byte) (*Entry, error) {
	if len(data) > MaxFileSize {
		return nil, errors.New("larger than a cache entry")
	}
	var f fileEntry
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a cache entry: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("not a cache entry: data after the JSON object")
	}
	c := f.Credentials
	switch {
	case c == nil:
		return nil, errors.New("no Credentials")
	case !keyIDPattern.MatchString(c.AccessKeyID):
		return nil, errors.New("AccessKeyId is not an access key id")
	case !tokenPattern.MatchString(c.SecretAccessKey):
		return nil, errors.New("SecretAccessKey is not a secret key")
	case !tokenPattern.MatchString(c.SessionToken):
		return nil, errors.New("SessionToken is not a session token")
	}
	exp, err := parseExpiration(c.Expiration)
	if err != nil {
		return nil, err
	}
	e := &Entry{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expiration: exp}
	if u := f.AssumedRoleUser; u != nil {
		e.AssumedRoleARN, e.AssumedRoleID = u.Arn, u.AssumedRoleID
	}
	return e, nil
}

// Marshal is e in the AWS CLI's cache file format.
func (e *Entry) Marshal() ([]byte, error) {
	f := struct {
		Credentials      fileCreds     `json:"Credentials"`
		AssumedRoleUser  *fileRoleUser `json:"AssumedRoleUser,omitempty"`
		ResponseMetadata fileMeta      `json:"ResponseMetadata"`
	}{
		Credentials: fileCreds{
			AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey, SessionToken: e.SessionToken,
			Expiration: e.Expiration.UTC().Format(time.RFC3339),
			AccountID:  accountOf(e.AssumedRoleARN),
		},
		ResponseMetadata: fileMeta{RequestID: e.RequestID, HTTPStatusCode: 200, HTTPHeaders: map[string]string{}},
	}
	if e.AssumedRoleARN != "" {
		f.AssumedRoleUser = &fileRoleUser{AssumedRoleID: e.AssumedRoleID, Arn: e.AssumedRoleARN}
	}
	return json.Marshal(f)
}

// accountOf is the account of an ARN ("" if s is not one).
func accountOf(arn string) string {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 || p[0] != "arn" {
		return ""
	}
	return p[4]
}

// roleOf is the account and role name an ARN names: a role
// (arn:aws:iam::A:role/path/NAME) or a session of it
// (arn:aws:sts::A:assumed-role/NAME/SESSION).
func roleOf(arn string) (account, name string, ok bool) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 || p[0] != "arn" {
		return "", "", false
	}
	res := p[5]
	switch {
	case p[2] == "iam" && strings.HasPrefix(res, "role/"):
		parts := strings.Split(res, "/")
		return p[4], parts[len(parts)-1], true
	case p[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		parts := strings.Split(res, "/")
		if len(parts) < 3 {
			return "", "", false
		}
		return p[4], parts[1], true
	}
	return "", "", false
}

// Cache is a directory of cache entries: the AWS CLI's ~/.aws/cli/cache.
type Cache struct {
	Dir string
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// DefaultDir is the AWS CLI's cache directory, ~/.aws/cli/cache.
func DefaultDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home directory for the AWS CLI's credential cache: %w", err)
	}
	return filepath.Join(home, ".aws", "cli", "cache"), nil
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Path is the file of key.
func (c *Cache) Path(key string) string { return filepath.Join(c.Dir, key+".json") }

// Load returns the entry of key when it is a well-formed file of this
// user's, not writable by others, for the role roleARN (when the entry
// names one), and fresh. A missing, stale, corrupt or foreign file is
// (nil, reason) — never an error that stops the caller.
func (c *Cache) Load(key, roleARN string) (*Entry, string) {
	e, why := c.read(key, roleARN)
	if e == nil {
		return nil, why
	}
	if !e.Fresh(c.now()) {
		return nil, fmt.Sprintf("expires at %s, within %v", e.Expiration.Format(time.RFC3339), ReuseWindow)
	}
	return e, ""
}

// Peek is Load without the freshness check (for doctor).
func (c *Cache) Peek(key, roleARN string) (*Entry, string) { return c.read(key, roleARN) }

func (c *Cache) read(key, roleARN string) (*Entry, string) {
	f, err := os.OpenFile(c.Path(key), os.O_RDONLY|openCacheFlags, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "none"
	}
	if err != nil {
		return nil, err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err.Error()
	}
	if why := foreign(st); why != "" {
		return nil, why
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err.Error()
	}
	e, err := ParseEntry(data)
	if err != nil {
		return nil, "ignored: " + err.Error()
	}
	if roleARN != "" && e.AssumedRoleARN != "" {
		wa, wn, ok1 := roleOf(roleARN)
		ga, gn, ok2 := roleOf(e.AssumedRoleARN)
		if !ok1 || !ok2 || wa != ga || wn != gn {
			return nil, fmt.Sprintf("ignored: for %s, not %s", e.AssumedRoleARN, roleARN)
		}
	}
	return e, ""
}

// foreign says why a cache file is not to be trusted: not a regular
// file, someone else's, or writable by others.
func foreign(st os.FileInfo) string {
	if !st.Mode().IsRegular() {
		return "ignored: not a regular file"
	}
	if othersMayWrite(st) {
		return fmt.Sprintf("ignored: writable by others (%v)", st.Mode().Perm())
	}
	if uid, ok := ownerUID(st); ok && uid != os.Geteuid() {
		return fmt.Sprintf("ignored: owned by uid %d", uid)
	}
	return ""
}

// Store writes e for key: a 0600 file in a 0700 directory, replaced
// atomically (a reader sees the old entry or the new one).
func (c *Cache) Store(key string, e *Entry) error {
	data, err := e.Marshal()
	if err != nil {
		return fmt.Errorf("encode credential cache entry: %w", err)
	}
	if err := c.makeDir(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.Dir, key+".*.tmp")
	if err != nil {
		return fmt.Errorf("write credential cache entry: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write credential cache entry: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write credential cache entry: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write credential cache entry: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write credential cache entry: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.Path(key)); err != nil {
		return fmt.Errorf("write credential cache entry: %w", err)
	}
	return nil
}

// Remove deletes key's entry (and its lock file); a missing one is no
// error.
func (c *Cache) Remove(key string) error {
	for _, p := range []string{c.Path(key), c.lockPath(key)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove credential cache entry: %w", err)
		}
	}
	return nil
}

// makeDir creates the cache directory 0700, and narrows an existing one
// of this user's to 0700 (the AWS CLI creates it with the umask's mode).
func (c *Cache) makeDir() error {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("create credential cache directory: %w", err)
	}
	st, err := os.Stat(c.Dir)
	if err != nil {
		return fmt.Errorf("credential cache directory: %w", err)
	}
	if uid, ok := ownerUID(st); ok && uid == os.Geteuid() && st.Mode().Perm() != 0o700 {
		if err := os.Chmod(c.Dir, 0o700); err != nil {
			return fmt.Errorf("credential cache directory: %w", err)
		}
	}
	return nil
}
