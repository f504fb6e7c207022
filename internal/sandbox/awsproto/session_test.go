package awsproto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signedWith signs a POST with the SDK's signer and the given
// credentials (the SDK adds X-Amz-Security-Token for a session token).
func signedWith(t *testing.T, akid, token string, at time.Time) *http.Request {
	t.Helper()
	body := []byte("Action=GetCallerIdentity&Version=2011-06-15")
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: akid, SecretAccessKey: testSecret, SessionToken: token},
		req, hex.EncodeToString(sum[:]), "sts", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return serverSide(req, body)
}

func authKind(err error) AuthErrorKind {
	var ae *AuthError
	if errors.As(err, &ae) {
		return ae.Kind
	}
	return 0
}

// TestVerifySessionToken: temporary keys need their own session token and
// stop at expiry; long-term keys refuse one.
func TestVerifySessionToken(t *testing.T) {
	v := testVerifier()
	for _, tc := range []struct {
		name, akid, token string
		want              AuthErrorKind
	}{
		{"temporary key with its token", testTempKey, testToken, 0},
		{"temporary key without token", testTempKey, "", AuthUnknownKey},
		{"temporary key with another token", testTempKey, testToken + "x", AuthUnknownKey},
		{"expired temporary key", testExpiredKey, testToken, AuthTokenExpired},
		{"long-term key with a token", testKey, testToken, AuthUnknownKey},
		{"long-term key", testKey, "", 0},
	} {
		_, err := v.Verify(signedWith(t, tc.akid, tc.token, testNow), []byte("Action=GetCallerIdentity&Version=2011-06-15"))
		if got := authKind(err); got != tc.want || (tc.want != 0) != (err != nil) {
			t.Errorf("%s: %v (kind %d), want kind %d", tc.name, err, got, tc.want)
		}
	}
	// The token must be signed: one added after signing is refused, and
	// one changed after signing fails the signature.
	r := signedWith(t, testTempKey, "", testNow)
	r.Header.Set("X-Amz-Security-Token", testToken)
	if _, err := v.Verify(r, []byte("Action=GetCallerIdentity&Version=2011-06-15")); authKind(err) != AuthIncomplete {
		t.Errorf("token added after signing: %v, want an incomplete signature", err)
	}
	r = signedWith(t, testExpiredKey, testToken, testNow)
	r.Header.Set("X-Amz-Security-Token", testToken+"x")
	if _, err := v.Verify(r, []byte("Action=GetCallerIdentity&Version=2011-06-15")); authKind(err) != AuthUnknownKey {
		t.Errorf("token changed after signing: %v, want unknown key", err)
	}
	for proto, code := range map[Protocol]string{AWSQuery: "ExpiredToken", JSON11: "ExpiredTokenException", EC2Query: "RequestExpired"} {
		if e := proto.AuthError(&AuthError{Kind: AuthTokenExpired}); e.Code != code {
			t.Errorf("%s: expired token is %s, want %s", proto, e.Code, code)
		}
	}
	if e := AWSQuery.AuthError(&AuthError{Kind: AuthTokenExpired}); e.Message != "The security token included in the request is expired" || e.HTTPStatus() != 403 {
		t.Errorf("STS expired token: %d %q", e.HTTPStatus(), e.Message)
	}
}

// TestVerifyPresignedSessionToken: presigned URLs of temporary keys carry
// X-Amz-Security-Token in the query (the SDK's presigner puts it there).
func TestVerifyPresignedSessionToken(t *testing.T) {
	v := testVerifier()
	presign := func(akid, token string) *http.Request {
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/openTunnel?remotePort=22&X-Amz-Expires=60", nil)
		if err != nil {
			t.Fatal(err)
		}
		u, _, err := v4.NewSigner().PresignHTTP(context.Background(),
			aws.Credentials{AccessKeyID: akid, SecretAccessKey: testSecret, SessionToken: token},
			req, EmptyPayloadHash, "ec2-instance-connect", "us-east-1", testNow)
		if err != nil {
			t.Fatal(err)
		}
		r, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return serverSide(r, nil)
	}
	if _, err := v.VerifyPresigned(presign(testTempKey, testToken), EmptyPayloadHash, time.Hour); err != nil {
		t.Errorf("presigned with a session token: %v", err)
	}
	if _, err := v.VerifyPresigned(presign(testTempKey, ""), EmptyPayloadHash, time.Hour); authKind(err) != AuthUnknownKey {
		t.Errorf("presigned temporary key without token: %v, want unknown key", err)
	}
	if _, err := v.VerifyPresigned(presign(testExpiredKey, testToken), EmptyPayloadHash, time.Hour); authKind(err) != AuthTokenExpired {
		t.Errorf("presigned with an expired token: %v, want expired token", err)
	}
	r := presign(testTempKey, testToken)
	q := r.URL.Query()
	q.Set(QuerySecurityToken, "forged")
	r.URL.RawQuery = q.Encode()
	if _, err := v.VerifyPresigned(r, EmptyPayloadHash, time.Hour); authKind(err) != AuthUnknownKey {
		t.Errorf("presigned with a forged token: %v", err)
	}
}
