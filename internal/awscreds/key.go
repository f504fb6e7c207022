package awscreds

import (
	"crypto/sha1" //nolint:gosec // the AWS CLI's cache key is SHA-1; it names a file, it protects nothing
	"encoding/hex"
	"strconv"

	"github.com/jitssh/jitssh/internal/pyjson"
)

// RoleArgs are the AssumeRole arguments a role profile configures: what
// botocore's AssumeRoleCredentialFetcher hashes into its cache key.
// Empty strings and a nil DurationSeconds are "not configured".
type RoleArgs struct {
	RoleARN         string
	RoleSessionName string // role_session_name
	SerialNumber    string // mfa_serial
	ExternalID      string // external_id
	DurationSeconds *int   // duration_seconds, when an integer
}

// CacheKey is the AWS CLI's cache file name (without ".json") for a
// role's credentials: the SHA-1 hex digest of Python's
// json.dumps(args, sort_keys=True) of the configured AssumeRole
// arguments (RoleArn always; RoleSessionName, SerialNumber, ExternalId
// and DurationSeconds when configured), as botocore's
// BaseAssumeRoleCredentialFetcher._create_cache_key computes it (default
// separators ", " and ": ", non-ASCII escaped as \uXXXX).
func (a RoleArgs) CacheKey() string {
	fields := map[string]string{"RoleArn": pyjson.String(a.RoleARN)}
	if a.RoleSessionName != "" {
		fields["RoleSessionName"] = pyjson.String(a.RoleSessionName)
	}
	if a.SerialNumber != "" {
		fields["SerialNumber"] = pyjson.String(a.SerialNumber)
	}
	if a.ExternalID != "" {
		fields["ExternalId"] = pyjson.String(a.ExternalID)
	}
	if a.DurationSeconds != nil {
		fields["DurationSeconds"] = strconv.Itoa(*a.DurationSeconds)
	}
	sum := sha1.Sum([]byte(pyjson.Object(fields))) //nolint:gosec // see import
	return hex.EncodeToString(sum[:])
}

// SessionTokenKey is the cache file name (without ".json") of the
// GetSessionToken credentials of the IAM user with accessKeyID and MFA
// device serial: "sts-session-token-" and the SHA-1 hex digest of the
// JSON of both, in the style of the AWS CLI's keys (which it has none of
// for GetSessionToken: the prefix keeps the two apart).
func SessionTokenKey(accessKeyID, serial string) string {
	s := "{" + pyjson.String("AccessKeyId") + ": " + pyjson.String(accessKeyID) + ", " + pyjson.String("SerialNumber") + ": " + pyjson.String(serial) + "}"
	sum := sha1.Sum([]byte(s)) //nolint:gosec // see import
	return "sts-session-token-" + hex.EncodeToString(sum[:])
}
