package awsproto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey        = "AKIDSANDBOXEXAMPLE01"
	testTempKey    = "ASIASANDBOXEXAMPLE01"
	testExpiredKey = "ASIASANDBOXEXPIRED01"
	testToken      = "IQoJb3JpZ2luX2VjTESTTOKEN"
	testSecret     = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSANDBOXKEY"
)

var testNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func testVerifier() *Verifier {
	return &Verifier{
		Lookup: func(k string) (Credential, bool) {
			switch k {
			case testKey:
				return Credential{Secret: testSecret}, true
			case testTempKey:
				return Credential{Secret: testSecret, SessionToken: testToken, Expiration: testNow.Add(time.Hour)}, true
			case testExpiredKey:
				return Credential{Secret: testSecret, SessionToken: testToken, Expiration: testNow.Add(-time.Second)}, true
			}
			return Credential{}, false
		},
		Now:    func() time.Time { return testNow },
		Region: "us-east-1",
	}
}

// sdkSigned builds a request the way a client would send it and signs it
// with the AWS SDK for Go v2 signer, then turns it into what a Go server
// sees (Host moved to r.Host).
func sdkSigned(t *testing.T, method, target string, body []byte, hdr map[string][]string, region, service, secret string, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: testKey, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), service, region, at)
	if err != nil {
		t.Fatal(err)
	}
	return serverSide(req, body)
}

// serverSide converts a client request into the shape net/http gives a
// handler.
func serverSide(req *http.Request, body []byte) *http.Request {
	srv := httptest.NewRequest(req.Method, req.URL.String(), bytes.NewReader(body))
	srv.Header = req.Header.Clone()
	srv.Host = req.URL.Host
	if req.Host != "" {
		srv.Host = req.Host
	}
	srv.Header.Del("Host")
	return srv
}

func TestVerifyAcceptsSDKSignatures(t *testing.T) {
	t.Parallel()
	body := []byte(`{"Target":"i-0123456789abcdef0"}`)
	tests := []struct {
		name   string
		method string
		url    string
		hdr    map[string][]string
		body   []byte
	}{
		{"json post", "POST", "http://127.0.0.1:4566/", map[string][]string{
			"Content-Type": {"application/x-amz-json-1.1"}, "X-Amz-Target": {"AmazonSSM.StartSession"}}, body},
		{"query form", "POST", "http://127.0.0.1:4566/", map[string][]string{
			"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}, []byte("Action=GetCallerIdentity&Version=2011-06-15")},
		{"query string with specials", "GET", "http://127.0.0.1:4566/?b=2&a=x%20y&a=%2Fz&c=~_-.&d", nil, nil},
		{"multi-valued header with spaces", "POST", "http://localhost/", map[string][]string{
			"X-Custom": {"  a   b  ", "c"}}, body},
		{"escaped path", "POST", "http://127.0.0.1:4566/a%20b/c", nil, body},
		{"empty path", "POST", "http://127.0.0.1:4566", nil, body},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sdkSigned(t, tt.method, tt.url, tt.body, tt.hdr, "us-east-1", "ssm", testSecret, testNow.Add(-time.Minute))
			a, err := testVerifier().Verify(r, tt.body)
			if err != nil {
				t.Fatalf("Verify: %v (Authorization %q)", err, r.Header.Get("Authorization"))
			}
			if a.Service != "ssm" || a.AccessKeyID != testKey || a.Region != "us-east-1" {
				t.Errorf("got %+v", a)
			}
		})
	}
}

func TestVerifyAcceptsOwnSign(t *testing.T) {
	t.Parallel()
	body := []byte("Action=DescribeInstances&Version=2016-11-15")
	req, _ := http.NewRequest("POST", "http://127.0.0.1:1/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	Sign(req, body, testKey, testSecret, "us-east-1", "ec2", testNow)
	if _, err := testVerifier().Verify(serverSide(req, body), body); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	body := []byte(`{}`)
	hdr := map[string][]string{"X-Amz-Target": {"AmazonSSM.StartSession"}}
	sign := func(region, secret string, at time.Time) *http.Request {
		return sdkSigned(t, "POST", "http://127.0.0.1:1/", body, hdr, region, "ssm", secret, at)
	}
	tests := []struct {
		name    string
		req     func() *http.Request
		body    []byte
		kind    AuthErrorKind
		message string // substring of Detail
	}{
		{"no authorization", func() *http.Request {
			return httptest.NewRequest("POST", "http://127.0.0.1:1/", nil)
		}, body, AuthMissing, ""},
		{"wrong secret", func() *http.Request { return sign("us-east-1", "not-the-secret", testNow) }, body, AuthBadSignature, ""},
		{"tampered body", func() *http.Request { return sign("us-east-1", testSecret, testNow) }, []byte(`{"x":1}`), AuthBadSignature, ""},
		{"tampered signed header", func() *http.Request {
			r := sign("us-east-1", testSecret, testNow)
			r.Header.Set("X-Amz-Target", "AmazonSSM.TerminateSession")
			return r
		}, body, AuthBadSignature, ""},
		{"unsigned X-Amz-Target", func() *http.Request {
			// Signed before the operation was named: the target could be
			// swapped for any other operation.
			r := sdkSigned(t, "POST", "http://127.0.0.1:1/", body, nil, "us-east-1", "ssm", testSecret, testNow)
			r.Header.Set("X-Amz-Target", "AmazonSSM.StartSession")
			return r
		}, body, AuthIncomplete, "'X-Amz-Target' must be a 'SignedHeader'"},
		{"tampered host", func() *http.Request {
			r := sign("us-east-1", testSecret, testNow)
			r.Host = "127.0.0.1:2"
			return r
		}, body, AuthBadSignature, ""},
		{"unknown key", func() *http.Request {
			r := sign("us-east-1", testSecret, testNow)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testKey, "AKIDUNKNOWN", 1))
			return r
		}, body, AuthUnknownKey, ""},
		{"unsigned session token", func() *http.Request {
			r := sign("us-east-1", testSecret, testNow)
			r.Header.Set("X-Amz-Security-Token", "FQoGZXIvYXdzE")
			return r
		}, body, AuthIncomplete, "must be a 'SignedHeader'"},
		{"too old", func() *http.Request { return sign("us-east-1", testSecret, testNow.Add(-16*time.Minute)) }, body, AuthExpired, "Signature expired: 20240506T065209Z is now earlier than 20240506T065309Z (20240506T070809Z - 15 min.)"},
		{"too new", func() *http.Request { return sign("us-east-1", testSecret, testNow.Add(16*time.Minute)) }, body, AuthExpired, "Signature not yet current"},
		{"wrong region", func() *http.Request { return sign("eu-west-1", testSecret, testNow) }, body, AuthBadSignature, "Credential should be scoped to a valid region"},
		{"garbage header", func() *http.Request {
			r := sign("us-east-1", testSecret, testNow)
			r.Header.Set("Authorization", "Bearer abc")
			return r
		}, body, AuthIncomplete, ""},
		{"no date", func() *http.Request {
			r := sign("us-east-1", testSecret, testNow)
			r.Header.Del("X-Amz-Date")
			return r
		}, body, AuthIncomplete, "X-Amz-Date"},
		{"scope date differs", func() *http.Request {
			r := sign("us-east-1", testSecret, testNow)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20240506/", "/20240505/", 1))
			return r
		}, body, AuthBadSignature, "Date in Credential scope"},
		{"content hash mismatch", func() *http.Request {
			r := sign("us-east-1", testSecret, testNow)
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			return r
		}, body, AuthBadSignature, "x-amz-content-sha256"},
		{"presigned", func() *http.Request {
			return httptest.NewRequest("GET", "http://127.0.0.1:1/?X-Amz-Signature=00", nil)
		}, nil, AuthMissing, "presigned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := testVerifier().Verify(tt.req(), tt.body)
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("Verify = %v, want *AuthError", err)
			}
			if ae.Kind != tt.kind {
				t.Errorf("kind = %v (%v), want %v", ae.Kind, ae, tt.kind)
			}
			if !strings.Contains(ae.Detail, tt.message) {
				t.Errorf("detail = %q, want it to contain %q", ae.Detail, tt.message)
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	sig := strings.Repeat("ab", 32)
	good := "AWS4-HMAC-SHA256 Credential=AKID/20240506/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig
	a, err := ParseAuthorization(good)
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessKeyID != "AKID" || a.Date != "20240506" || a.Region != "us-east-1" || a.Service != "ssm" ||
		strings.Join(a.SignedHeaders, ";") != "host;x-amz-date" || len(a.Signature) != 32 {
		t.Errorf("parsed %+v", a)
	}
	// botocore separates components with ", " too; no spaces must also work.
	if _, err := ParseAuthorization(strings.ReplaceAll(good, ", ", ",")); err != nil {
		t.Errorf("without spaces: %v", err)
	}
	bad := []string{
		"",
		"AWS4-HMAC-SHA256",
		"AWS4-ECDSA-P256-SHA256 Credential=AKID/20240506/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=" + sig,
		strings.Replace(good, "aws4_request", "aws4_requesx", 1),
		strings.Replace(good, "20240506", "2024056", 1),
		strings.Replace(good, "AKID/", "/", 1),
		strings.Replace(good, "host;", "Host;", 1),
		strings.Replace(good, "host;x-amz-date", "x-amz-date", 1),
		strings.Replace(good, "host;x-amz-date", "host;host", 1),
		strings.Replace(good, sig, sig[:62], 1),
		strings.Replace(good, sig, strings.ToUpper(sig), 1),
		strings.Replace(good, sig, strings.Repeat("zz", 32), 1),
		good + ", Signature=" + sig,
		good + ", Extra=1",
		strings.Replace(good, ", Signature="+sig, "", 1),
	}
	for _, h := range bad {
		if _, err := ParseAuthorization(h); err == nil {
			t.Errorf("ParseAuthorization(%q) succeeded", h)
		}
	}
}

func TestSigningKeyVector(t *testing.T) {
	t.Parallel()
	// From the SigV4 documentation ("Examples of how to derive a signing key").
	k := SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
	want := "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
	if got := hex.EncodeToString(k); got != want {
		t.Errorf("signing key = %s, want %s", got, want)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	sig := strings.Repeat("0f", 32)
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20240506/us-east-1/ssm/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + sig)
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20240506/us-east-1/sts/aws4_request,SignedHeaders=host,Signature=" + sig)
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=, Signature=")
	f.Add("AWS4-HMAC-SHA256 ,,,=,")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Kind != AuthIncomplete {
				t.Fatalf("error %v is not an incomplete-signature AuthError", err)
			}
			return
		}
		if len(a.Signature) != 32 || a.AccessKeyID == "" || a.Region == "" || a.Service == "" || len(a.Date) != 8 {
			t.Fatalf("accepted incomplete authorization %+v from %q", a, h)
		}
		hasHost := false
		for _, s := range a.SignedHeaders {
			if s == "" || strings.ContainsAny(s, " ;,") || s != strings.ToLower(s) {
				t.Fatalf("bad signed header %q from %q", s, h)
			}
			hasHost = hasHost || s == "host"
		}
		if !hasHost {
			t.Fatalf("accepted SignedHeaders without host from %q", h)
		}
	})
}

// FuzzVerify checks that arbitrary Authorization headers and bodies never
// authenticate (the fuzzer cannot forge HMAC-SHA256) and never panic.
func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential="+testKey+"/20240506/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("00", 32), "20240506T070809Z", "/", "a=b", []byte("{}"))
	f.Fuzz(func(t *testing.T, auth, date, path, query string, body []byte) {
		r := httptest.NewRequest("POST", "http://127.0.0.1:1/", bytes.NewReader(body))
		r.URL.Path, r.URL.RawQuery = path, query
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		if _, err := testVerifier().Verify(r, body); err == nil {
			t.Fatalf("random request authenticated: %q", auth)
		}
	})
}
