package awscreds

import (
	"crypto/sha1" //nolint:gosec // the AWS CLI's cache key is SHA-1; it names a file, it protects nothing
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
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
	fields := map[string]string{"RoleArn": pyString(a.RoleARN)}
	if a.RoleSessionName != "" {
		fields["RoleSessionName"] = pyString(a.RoleSessionName)
	}
	if a.SerialNumber != "" {
		fields["SerialNumber"] = pyString(a.SerialNumber)
	}
	if a.ExternalID != "" {
		fields["ExternalId"] = pyString(a.ExternalID)
	}
	if a.DurationSeconds != nil {
		fields["DurationSeconds"] = strconv.Itoa(*a.DurationSeconds)
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names) // Python sorts str keys by code point; these are ASCII
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pyString(k))
		b.WriteString(": ")
		b.WriteString(fields[k])
	}
	b.WriteByte('}')
	sum := sha1.Sum([]byte(b.String())) //nolint:gosec // see import
	return hex.EncodeToString(sum[:])
}

// SessionTokenKey is the cache file name (without ".json") of the
// GetSessionToken credentials of the IAM user with accessKeyID and MFA
// device serial: "sts-session-token-" and the SHA-1 hex digest of the
// JSON of both, in the style of the AWS CLI's keys (which it has none of
// for GetSessionToken: the prefix keeps the two apart).
func SessionTokenKey(accessKeyID, serial string) string {
	s := "{" + pyString("AccessKeyId") + ": " + pyString(accessKeyID) + ", " + pyString("SerialNumber") + ": " + pyString(serial) + "}"
	sum := sha1.Sum([]byte(s)) //nolint:gosec // see import
	return "sts-session-token-" + hex.EncodeToString(sum[:])
}

// pyString is s as Python's json.dumps writes a str with ensure_ascii:
// quotes, \" \\ \n \r \t \b \f, other control characters and everything
// beyond ASCII as lowercase \uXXXX (UTF-16 surrogate pairs above the
// BMP). Invalid UTF-8 becomes U+FFFD, as botocore would have read the
// config file's bytes as UTF-8 with replacement... a config it would in
// fact refuse; the key only has to be stable.
func pyString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (r > 0x7e && r <= 0xffff):
				writeU(&b, r)
			case r > 0xffff:
				hi, lo := utf16.EncodeRune(r)
				writeU(&b, hi)
				writeU(&b, lo)
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func writeU(b *strings.Builder, r rune) {
	const hexdigits = "0123456789abcdef"
	b.WriteString(`\u`)
	for shift := 12; shift >= 0; shift -= 4 {
		b.WriteByte(hexdigits[(r>>uint(shift))&0xf])
	}
}
