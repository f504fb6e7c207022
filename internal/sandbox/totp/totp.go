// Package totp computes and checks the time-based one-time passwords of
// the sandbox's virtual MFA devices (RFC 6238 over RFC 4226 HOTP, as IAM
// virtual MFA devices and authenticator apps use them): HMAC-SHA1, a
// 30-second step, 6 digits, and a tolerance of one step either side for
// clock drift. It also parses what a user types as a code and the base32
// secret of an otpauth seed.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" // #nosec G505 -- RFC 6238's default, what IAM virtual MFA devices use
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Step is the length of a time window; Digits the length of a code; Skew
// how many windows either side of now a code is accepted for.
const (
	Step   = 30 * time.Second
	Digits = 6
	Skew   = 1
)

// SecretBytes is the size of a generated secret (160 bits, RFC 4226's
// recommendation and IAM's).
const SecretBytes = 20

// ErrCodeFormat: a code is not exactly six ASCII digits.
var ErrCodeFormat = errors.New("an MFA code is 6 digits")

// ErrInvalidCode: a well-formed code is not the device's for the time.
var ErrInvalidCode = errors.New("the MFA code is not valid for the device at this time")

// ErrReused: the code was valid but its window was already used.
var ErrReused = errors.New("the MFA code was already used; wait for the next one")

// NewSecret returns a fresh random secret.
func NewSecret() []byte {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return b
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret returns secret as unpadded upper-case base32, the form of
// an otpauth:// URI's secret parameter and of IAM's Base32StringSeed.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// ParseSecret decodes a base32 secret, ignoring case, spaces and padding.
func ParseSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	b, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("MFA secret is not base32: %w", err)
	}
	if len(b) < 10 {
		return nil, fmt.Errorf("MFA secret is %d bytes; want at least 10 (80 bits)", len(b))
	}
	return b, nil
}

// Counter returns the time step t falls in.
func Counter(t time.Time) int64 { return t.Unix() / int64(Step/time.Second) }

// At returns the code of secret for time step counter (RFC 4226 HOTP with
// dynamic truncation).
func At(secret []byte, counter int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", bin%1000000)
}

// Code returns the code of secret at time t.
func Code(secret []byte, t time.Time) string { return At(secret, Counter(t)) }

// ParseCode checks that s is a code as IAM accepts it: exactly six ASCII
// digits, nothing around them.
func ParseCode(s string) (string, error) {
	if len(s) != Digits {
		return "", ErrCodeFormat
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", ErrCodeFormat
		}
	}
	return s, nil
}

// Verify checks code against secret at time t, within Skew steps, and
// returns the step it matched. lastUsed is the step of the last code the
// device accepted (0 for none): a code of that step or an earlier one is
// ErrReused, as AWS rejects a code used twice.
func Verify(secret []byte, code string, t time.Time, lastUsed int64) (int64, error) {
	code, err := ParseCode(code)
	if err != nil {
		return 0, err
	}
	now := Counter(t)
	for d := int64(-Skew); d <= Skew; d++ {
		c := now + d
		if hmac.Equal([]byte(At(secret, c)), []byte(code)) {
			if c <= lastUsed {
				return 0, ErrReused
			}
			return c, nil
		}
	}
	return 0, ErrInvalidCode
}
