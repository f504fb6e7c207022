package awscreds

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func jsonMarshal(v any) (string, error) { b, err := json.Marshal(v); return string(b), err }

// FuzzParseEntry: any bytes either parse into a complete entry that
// round-trips through Marshal, or are refused; never a panic.
func FuzzParseEntry(f *testing.F) {
	good, _ := testEntry(time.Date(2026, 12, 2, 13, 4, 5, 0, time.UTC)).Marshal()
	f.Add(good)
	f.Add([]byte(`{"Credentials": {"AccessKeyId": "ASIAJITSSHTEST00001", "SecretAccessKey": "abc", "SessionToken": "def", "Expiration": "2026-12-02T13:04:05UTC"}}`))
	f.Add([]byte(`{"Credentials": null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntry(data)
		if err != nil {
			return
		}
		if e.AccessKeyID == "" || e.SecretAccessKey == "" || e.SessionToken == "" || e.Expiration.IsZero() {
			t.Fatalf("incomplete entry accepted: %+v", e)
		}
		again, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		e2, err := ParseEntry(again)
		if err != nil {
			t.Fatalf("own output refused: %v\n%s", err, again)
		}
		if e2.AccessKeyID != e.AccessKeyID || e2.SessionToken != e.SessionToken || !e2.Expiration.Equal(e.Expiration.Truncate(time.Second)) {
			t.Fatalf("round trip: %+v → %+v", e, e2)
		}
	})
}

// FuzzReadCode: whatever is typed, the prompt returns six digits or a
// PromptError, after at most PromptAttempts prompts.
func FuzzReadCode(f *testing.F) {
	for _, s := range []string{"123456\n", "12\n123456\n", "a\nb\nc\n", "", "１２３４５６\n", " 000000 \r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		var out strings.Builder
		code, err := readCode(strings.NewReader(typed), &out, "p", "s", time.Second)
		if err != nil {
			if _, ok := err.(*PromptError); !ok {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if c, ok := ValidCode(code); !ok || c != code {
			t.Fatalf("returned %q", code)
		}
		if n := strings.Count(out.String(), "MFA code for"); n > PromptAttempts {
			t.Fatalf("%d prompts", n)
		}
	})
}

// FuzzCacheKey: any arguments give a 40-hex-digit file name.
func FuzzCacheKey(f *testing.F) {
	f.Add("arn:aws:iam::1:role/R", "s", "m", "e", 3600)
	f.Fuzz(func(t *testing.T, role, session, serial, ext string, d int) {
		k := RoleArgs{RoleARN: role, RoleSessionName: session, SerialNumber: serial, ExternalID: ext, DurationSeconds: &d}.CacheKey()
		if len(k) != 40 || strings.Trim(k, "0123456789abcdef") != "" {
			t.Fatalf("key %q", k)
		}
	})
}
