package awsproto

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// eiceVector is the AWS CLI's functional-test vector for the EICE
// websocket URL, recomputed in eic-spec.md §3.4.
const eiceVector = "/openTunnel?instanceConnectEndpointId=eice-123&remotePort=22&privateIpAddress=10.0.0.0&maxTunnelDuration=1" +
	"&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=access_key%2F20200101%2Fus-west-2%2Fec2-instance-connect%2Faws4_request" +
	"&X-Amz-Date=20200101T010101Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host" +
	"&X-Amz-Signature=3a56740422a5b9aebd22d860b7a30c729e459a6f71a83bc0de3a2b44b7353f28"

const eiceHost = "eice-123.ec2-instance-connect-endpoint.us-west-2.amazonaws.com"

func vectorVerifier(now time.Time) *Verifier {
	return &Verifier{
		Lookup: func(k string) (Credential, bool) { return Credential{Secret: "secret_key"}, k == "access_key" },
		Now:    func() time.Time { return now },
		Region: "us-west-2",
	}
}

func vectorRequest(t *testing.T, uri string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, "http://"+eiceHost+uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerifyPresignedEICEVector(t *testing.T) {
	signed := time.Date(2020, 1, 1, 1, 1, 1, 0, time.UTC)
	a, err := vectorVerifier(signed.Add(30*time.Second)).VerifyPresigned(vectorRequest(t, eiceVector), EmptyPayloadHash, 60*time.Second)
	if err != nil {
		t.Fatalf("the spec's test vector does not verify: %v", err)
	}
	if a.AccessKeyID != "access_key" || a.Service != "ec2-instance-connect" || a.Region != "us-west-2" {
		t.Errorf("authorization %+v", a)
	}

	kind := func(err error) AuthErrorKind {
		var ae *AuthError
		if !errors.As(err, &ae) {
			return 0
		}
		return ae.Kind
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		uri  string
		hash string
		max  time.Duration
		want AuthErrorKind
	}{
		{"UNSIGNED-PAYLOAD is not what the CLI signs", signed, eiceVector, "UNSIGNED-PAYLOAD", time.Minute, AuthBadSignature},
		{"expired after 60 s", signed.Add(61 * time.Second), eiceVector, EmptyPayloadHash, time.Minute, AuthExpired},
		{"far future", signed.Add(-16 * time.Minute), eiceVector, EmptyPayloadHash, time.Minute, AuthExpired},
		{"expires above the maximum", signed, eiceVector, EmptyPayloadHash, 30 * time.Second, AuthIncomplete},
		{"changed port", signed, strings.Replace(eiceVector, "remotePort=22", "remotePort=23", 1), EmptyPayloadHash, time.Minute, AuthBadSignature},
		{"added parameter", signed, eiceVector + "&extra=1", EmptyPayloadHash, time.Minute, AuthBadSignature},
		{"unknown key", signed, strings.Replace(eiceVector, "access_key%2F", "other_key%2F", 1), EmptyPayloadHash, time.Minute, AuthUnknownKey},
		{"no signature", signed, eiceVector[:strings.Index(eiceVector, "&X-Amz-Signature")], EmptyPayloadHash, time.Minute, AuthMissing},
		{"session token", signed, eiceVector + "&X-Amz-Security-Token=abc", EmptyPayloadHash, time.Minute, AuthUnknownKey},
		{"other algorithm", signed, strings.Replace(eiceVector, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1), EmptyPayloadHash, time.Minute, AuthIncomplete},
		{"negative expiry", signed, strings.Replace(eiceVector, "X-Amz-Expires=60", "X-Amz-Expires=-5", 1), EmptyPayloadHash, time.Minute, AuthIncomplete},
		{"host not signed", signed, strings.Replace(eiceVector, "X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date", 1), EmptyPayloadHash, time.Minute, AuthIncomplete},
		{"repeated date", signed, eiceVector + "&X-Amz-Date=20200101T010101Z", EmptyPayloadHash, time.Minute, AuthIncomplete},
	} {
		_, err := vectorVerifier(tc.now).VerifyPresigned(vectorRequest(t, tc.uri), tc.hash, tc.max)
		if got := kind(err); got != tc.want {
			t.Errorf("%s: error %v (kind %d), want kind %d", tc.name, err, got, tc.want)
		}
	}
	// Another host (the signed header) breaks the signature.
	r := vectorRequest(t, eiceVector)
	r.Host = "127.0.0.1:8080"
	if _, err := vectorVerifier(signed).VerifyPresigned(r, EmptyPayloadHash, time.Minute); kind(err) != AuthBadSignature {
		t.Errorf("other host: %v", err)
	}
}

func FuzzVerifyPresigned(f *testing.F) {
	f.Add(eiceVector)
	f.Add("/openTunnel?X-Amz-Expires=99999999999999999999")
	f.Add("/openTunnel?%zz")
	signed := time.Date(2020, 1, 1, 1, 1, 1, 0, time.UTC)
	f.Fuzz(func(t *testing.T, uri string) {
		r, err := http.NewRequest(http.MethodGet, "http://"+eiceHost+"/", nil)
		if err != nil {
			t.Skip()
		}
		path, q, _ := strings.Cut(uri, "?")
		r.URL.Path, r.URL.RawQuery = path, q
		_, err = vectorVerifier(signed).VerifyPresigned(r, EmptyPayloadHash, time.Minute)
		if err == nil && r.URL.Query().Get(QuerySignature) != "3a56740422a5b9aebd22d860b7a30c729e459a6f71a83bc0de3a2b44b7353f28" {
			// Only the vector's signature can pass: anything else
			// would be a forged HMAC.
			t.Fatalf("accepted %q", uri)
		}
		var ae *AuthError
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("error %v is not an *AuthError", err)
		}
	})
}
