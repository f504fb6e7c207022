package kms

import (
	"bytes"
	"errors"
	"testing"
)

const (
	testID    = "0b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40"
	otherID   = "7c1d9e2f-0a3b-4c5d-8e6f-9a0b1c2d3e4f"
	testARN   = "arn:aws:kms:us-east-1:123456789012:key/" + testID
	testAlias = "alias/ssm-sessions"
)

func newTest(t testing.TB) *Service {
	s, err := New("us-east-1", "123456789012", []Key{{ID: testID, Alias: testAlias}, {ID: otherID}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestResolve(t *testing.T) {
	s := newTest(t)
	for _, ref := range []string{testID, testARN, testAlias, "arn:aws:kms:us-east-1:123456789012:alias/ssm-sessions"} {
		if k, err := s.Resolve(ref); err != nil || k.ID != testID {
			t.Errorf("%s: %v %v", ref, k.ID, err)
		}
	}
	for ref, msg := range map[string]string{
		"alias/nope":                                       "Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found.",
		"11111111-2222-3333-4444-555555555555":             "Key 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555' does not exist",
		"arn:aws:kms:eu-west-1:123456789012:key/" + testID: "Key 'arn:aws:kms:eu-west-1:123456789012:key/" + testID + "' does not exist",
		"nonsense": "Invalid keyId 'nonsense'",
	} {
		var nf *NotFoundError
		if _, err := s.Resolve(ref); !errors.As(err, &nf) || nf.Message != msg {
			t.Errorf("%s: %v, want %q", ref, err, msg)
		}
	}
}

// TestDataKeyBoundToContextAndKey: a blob decrypts only under the
// encryption context it was made with, in this service only.
func TestDataKeyBoundToContextAndKey(t *testing.T) {
	s := newTest(t)
	ctx := map[string]string{"aws:ssm:SessionId": "s-1", "aws:ssm:TargetId": "i-1"}
	plain, blob, err := s.GenerateDataKey(testID, 64, ctx)
	if err != nil || len(plain) != 64 {
		t.Fatal(err)
	}
	if id, _ := KeyOf(blob); id != testID {
		t.Fatalf("KeyOf = %s", id)
	}
	if got, err := s.Decrypt(blob, map[string]string{"aws:ssm:TargetId": "i-1", "aws:ssm:SessionId": "s-1"}); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Decrypt: %v", err)
	}
	for _, c := range []map[string]string{nil, {"aws:ssm:SessionId": "s-2", "aws:ssm:TargetId": "i-1"}, {"aws:ssm:SessionId": "s-1i-1"}} {
		if _, err := s.Decrypt(blob, c); !errors.Is(err, ErrInvalidCiphertext) {
			t.Errorf("context %v: %v", c, err)
		}
	}
	if _, err := newTest(t).Decrypt(blob, ctx); !errors.Is(err, ErrInvalidCiphertext) {
		t.Errorf("another sandbox's key material opened the blob: %v", err)
	}
}

func FuzzDecrypt(f *testing.F) {
	s := newTest(f)
	_, blob, _ := s.GenerateDataKey(testID, 32, nil)
	f.Add(blob)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := s.Decrypt(b, nil)
		if err == nil && !bytes.Equal(b, blob) {
			t.Fatalf("a blob not made here opened to %d bytes", len(p))
		}
	})
}
