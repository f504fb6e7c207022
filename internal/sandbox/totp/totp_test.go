package totp

import (
	"errors"
	"testing"
	"time"
)

// RFC 6238 appendix B's SHA-1 vectors (8 digits there; the last six are
// the 6-digit codes).
func TestRFC6238Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		if got := Code(secret, time.Unix(v.unix, 0)); got != v.code[2:] {
			t.Errorf("Code at %d = %s, want %s", v.unix, got, v.code[2:])
		}
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	cur := Code(secret, now)
	step, err := Verify(secret, cur, now, 0)
	if err != nil || step != Counter(now) {
		t.Fatalf("Verify(current) = %d, %v", step, err)
	}
	if _, err := Verify(secret, cur, now, step); !errors.Is(err, ErrReused) {
		t.Errorf("reused code: %v, want ErrReused", err)
	}
	next := Code(secret, now.Add(Step))
	if s, err := Verify(secret, next, now, step); err != nil || s != step+1 {
		t.Errorf("next window's code after the current one: %d %v", s, err)
	}
	prev := Code(secret, now.Add(-Step))
	if _, err := Verify(secret, prev, now, 0); err != nil {
		t.Errorf("previous window (skew): %v", err)
	}
	old := Code(secret, now.Add(-2*Step))
	if _, err := Verify(secret, old, now, 0); !errors.Is(err, ErrInvalidCode) && old != cur && old != prev && old != next {
		t.Errorf("two windows old: %v, want ErrInvalidCode", err)
	}
	for _, bad := range []string{"", "12345", "1234567", "12345a", " 123456", "１２３４５６"} {
		if _, err := Verify(secret, bad, now, 0); !errors.Is(err, ErrCodeFormat) {
			t.Errorf("Verify(%q) = %v, want ErrCodeFormat", bad, err)
		}
	}
}

func TestSecretRoundTrip(t *testing.T) {
	s := NewSecret()
	got, err := ParseSecret(EncodeSecret(s))
	if err != nil || string(got) != string(s) {
		t.Fatalf("ParseSecret(EncodeSecret) = %x, %v; want %x", got, err, s)
	}
	if _, err := ParseSecret("not base32!"); err == nil {
		t.Error("ParseSecret accepted garbage")
	}
	if _, err := ParseSecret("AAAA"); err == nil {
		t.Error("ParseSecret accepted a too-short secret")
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"123456", "000000", "12345", "abcdef", " 123456", "1234567", "\x00\x00\x00\x00\x00\x00"} {
		f.Add(s)
	}
	secret := []byte("12345678901234567890")
	f.Fuzz(func(t *testing.T, s string) {
		code, err := ParseCode(s)
		if err != nil {
			if code != "" {
				t.Fatalf("ParseCode(%q) returned %q with error", s, code)
			}
			if _, verr := Verify(secret, s, time.Unix(59, 0), 0); !errors.Is(verr, ErrCodeFormat) {
				t.Fatalf("Verify(%q) = %v for a malformed code", s, verr)
			}
			return
		}
		if len(code) != Digits || code != s {
			t.Fatalf("ParseCode(%q) = %q", s, code)
		}
		for _, c := range code {
			if c < '0' || c > '9' {
				t.Fatalf("ParseCode(%q) accepted %q", s, c)
			}
		}
	})
}

func FuzzParseSecret(f *testing.F) {
	f.Add("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
	f.Add("gezd gnbv gy3t qojq")
	f.Add("====")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseSecret(s)
		if err != nil {
			return
		}
		if len(b) < 10 {
			t.Fatalf("ParseSecret(%q) accepted %d bytes", s, len(b))
		}
		again, err := ParseSecret(EncodeSecret(b))
		if err != nil || string(again) != string(b) {
			t.Fatalf("round trip of %x: %x %v", b, again, err)
		}
	})
}
