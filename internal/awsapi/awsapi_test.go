package awsapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// stsServer answers GetCallerIdentity like STS: throttled (HTTP 400,
// Throttling, AWS query XML) for the first `throttled` calls, then OK.
func stsServer(t *testing.T, throttled int32, calls *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		if n <= throttled {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`))
			return
		}
		w.Write([]byte(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/R/alice</Arn><UserId>AROA:alice</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></GetCallerIdentityResponse>`))
	}))
}

func testEnv(t *testing.T, url string) {
	t.Setenv("AWS_ENDPOINT_URL", url)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestThrottlingIsRetriedWithBackoff(t *testing.T) {
	var calls atomic.Int32
	srv := stsServer(t, 2, &calls)
	defer srv.Close()
	testEnv(t, srv.URL)
	c, err := New(context.Background(), Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	caller, date, err := c.CallerIdentityAndDate(context.Background())
	if err != nil || caller.ARN != "arn:aws:sts::123456789012:assumed-role/R/alice" {
		t.Fatalf("CallerIdentity = %+v, %v", caller, err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3 (two throttled, retried)", calls.Load())
	}
	if date.IsZero() {
		t.Error("no Date header read from the response")
	}
}

func TestPersistentThrottlingIsExplained(t *testing.T) {
	var calls atomic.Int32
	srv := stsServer(t, 1000, &calls)
	defer srv.Close()
	testEnv(t, srv.URL)
	c, err := New(context.Background(), Options{Region: "us-east-1", MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CallerIdentity(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "Throttling" || !strings.Contains(ae.Advice, "throttling") {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want MaxAttempts = 3", calls.Load())
	}
}

func TestAccessDeniedNamesActionAndPolicyCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: x is not authorized to perform: sts:GetCallerIdentity</Message></Error><RequestId>r</RequestId></ErrorResponse>`))
	}))
	defer srv.Close()
	testEnv(t, srv.URL)
	c, err := New(context.Background(), Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CallerIdentity(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "sts:GetCallerIdentity") || ae.Fix != FixPolicyUser ||
		!strings.Contains(ae.Advice, "not allowed sts:GetCallerIdentity") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v (%+v)", err, ae)
	}
}

// TestSCPDenialExplainsTheImpersonationRule: a key push denied by the
// organisation's SCP does not send the user to `jitssh policy user`
// (their own policy is fine) but explains the OS-user rule.
func TestSCPDenialExplainsTheImpersonationRule(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-Errortype", "AccessDeniedException")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"AccessDeniedException","Message":"User: arn:aws:sts::123456789012:assumed-role/Dev/alice is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0 with an explicit deny in a service control policy"}`))
	}))
	defer srv.Close()
	testEnv(t, srv.URL)
	c, err := New(context.Background(), Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SendSSHPublicKey(context.Background(), "i-0123456789abcdef0", "bob", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOArKl+iuADpD6SXusxxICEUDU/p0uqn1saPED0h5mLv x")
	var ae *APIError
	if !errors.As(err, &ae) || !strings.Contains(ae.Advice, "userName principal tag") || ae.Fix != FixImpersonation {
		t.Fatalf("err = %v (%+v)", err, ae)
	}
}

func TestPolicySource(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/alice": "arn:aws:iam::123456789012:role/JitsshDeveloper",
		"arn:aws-cn:sts::123456789012:assumed-role/Dev/x":              "arn:aws-cn:iam::123456789012:role/Dev",
		"arn:aws:iam::123456789012:user/ops/bob":                       "arn:aws:iam::123456789012:user/ops/bob",
		"arn:aws:iam::123456789012:root":                               "",
		"arn:aws:sts::123456789012:federated-user/x":                   "",
		"arn:aws:sts::123456789012:assumed-role/":                      "",
		"not an arn": "",
	} {
		got, ok := PolicySource(in)
		if got != want || ok != (want != "") {
			t.Errorf("PolicySource(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// An endpoint that never answers: each call ends at the call timeout,
// saying AWS did not answer, instead of hanging.
func TestCallTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	testEnv(t, srv.URL)
	c, err := New(context.Background(), Options{Region: "us-east-1", CallTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.CallerIdentity(context.Background())
	var te *CallTimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "sts:GetCallerIdentity: no answer from AWS within 300ms") {
		t.Fatalf("CallerIdentity against a silent endpoint: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	// The caller's own deadline is the caller's, not a CallTimeoutError.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.CallerIdentity(ctx); errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller's deadline: %v", err)
	}
}
