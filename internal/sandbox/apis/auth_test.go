package apis

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// callEach calls one operation of every service with cfg and returns the
// errors by service.
func callEach(cfg aws.Config) map[string]error {
	ctx := context.Background()
	_, stsErr := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	_, ec2Err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	_, eicErr := ec2instanceconnect.NewFromConfig(cfg).SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
		InstanceId: aws.String(idWeb1), InstanceOSUser: aws.String("ec2-user"),
		SSHPublicKey: aws.String("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGRmZXZmZXZmZXZmZXZmZXZmZXZmZXZmZXZmZXZmZXZmZXZm x")})
	_, ssmErr := ssm.NewFromConfig(cfg).TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String("alice-0123456789abcdef0")})
	return map[string]error{"sts": stsErr, "ec2": ec2Err, "ec2-instance-connect": eicErr, "ssm": ssmErr}
}

func TestAuthFailuresThroughSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	type want struct{ code, msg string }
	tests := []struct {
		name        string
		key, secret string
		want        map[string]want
	}{
		{"wrong secret", alice.AccessKeyID, "not-alices-secret", map[string]want{
			"sts":                  {"SignatureDoesNotMatch", awsproto.SignatureMismatchMessage},
			"ec2":                  {"AuthFailure", "AWS was not able to validate the provided access credentials"},
			"ec2-instance-connect": {"InvalidSignatureException", awsproto.SignatureMismatchMessage},
			"ssm":                  {"InvalidSignatureException", awsproto.SignatureMismatchMessage},
		}},
		{"another identity's secret", alice.AccessKeyID, bob.SecretAccessKey, map[string]want{
			"sts": {"SignatureDoesNotMatch", awsproto.SignatureMismatchMessage},
			"ssm": {"InvalidSignatureException", awsproto.SignatureMismatchMessage},
		}},
		{"unknown key", "AKIAUNKNOWNUNKNOWN00", "whatever", map[string]want{
			"sts":                  {"InvalidClientTokenId", "The security token included in the request is invalid."},
			"ec2":                  {"AuthFailure", "AWS was not able to validate the provided access credentials"},
			"ec2-instance-connect": {"UnrecognizedClientException", "The security token included in the request is invalid."},
			"ssm":                  {"UnrecognizedClientException", "The security token included in the request is invalid."},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := callEach(e.cfg(tt.key, tt.secret))
			for svc, w := range tt.want {
				t.Run(svc, func(t *testing.T) { wantAPIError(t, errs[svc], w.code, w.msg) })
			}
		})
	}
	if keys := e.world.ActiveKeys(idWeb1, "ec2-user"); len(keys) != 0 {
		t.Errorf("unauthenticated SendSSHPublicKey published %d keys", len(keys))
	}
}

func TestAuthAnonymousThroughSDK(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	cfg := e.as(alice)
	cfg.Credentials = aws.AnonymousCredentials{}
	errs := callEach(cfg)
	wantAPIError(t, errs["sts"], "MissingAuthenticationToken", "Request is missing Authentication Token")
	wantAPIError(t, errs["ec2"], "MissingParameter", "The request must contain the parameter AWSAccessKeyId")
	wantAPIError(t, errs["ec2-instance-connect"], "MissingAuthenticationTokenException", "Missing Authentication Token")
	wantAPIError(t, errs["ssm"], "MissingAuthenticationTokenException", "Missing Authentication Token")
}

func TestAuthWrongRegion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	cfg := e.as(alice)
	cfg.Region = "eu-west-1"
	errs := callEach(cfg)
	wantAPIError(t, errs["ssm"], "InvalidSignatureException", "Credential should be scoped to a valid region")
	wantAPIError(t, errs["sts"], "SignatureDoesNotMatch", "Credential should be scoped to a valid region")
	wantAPIError(t, errs["ec2"], "AuthFailure", "")
}

func TestAuthRawFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	jsonHdr := map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.TerminateSession"}
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	stsBody := "Action=GetCallerIdentity&Version=2011-06-15"
	ec2Body := "Action=DescribeInstances&Version=2016-11-15"
	signedAt := func(id world.Identity, service string, hdr map[string]string, body string, at time.Time) *http.Response {
		req, _ := http.NewRequest("POST", e.srv.URL+"/", strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		awsproto.Sign(req, []byte(body), id.AccessKeyID, id.SecretAccessKey, testRegion, service, at)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	old := time.Now().Add(-20 * time.Minute)
	tests := []struct {
		name   string
		resp   func() *http.Response
		status int
		want   string
	}{
		{"json unsigned", func() *http.Response { return e.raw(nil, "", jsonHdr, `{}`) }, 400,
			`{"__type":"com.amazon.coral.service#MissingAuthenticationTokenException","message":"Missing Authentication Token"}`},
		{"sts unsigned", func() *http.Response { return e.raw(nil, "", formHdr, stsBody) }, 403,
			"<Type>Sender</Type><Code>MissingAuthenticationToken</Code><Message>Request is missing Authentication Token</Message>"},
		{"ec2 unsigned", func() *http.Response { return e.raw(nil, "", formHdr, ec2Body) }, 400,
			"<Code>MissingParameter</Code><Message>The request must contain the parameter AWSAccessKeyId</Message>"},
		{"json expired", func() *http.Response { return signedAt(alice, "ssm", jsonHdr, `{}`, old) }, 400,
			`"__type":"com.amazon.coral.service#InvalidSignatureException","message":"Signature expired: `},
		{"sts expired", func() *http.Response { return signedAt(alice, "sts", formHdr, stsBody, old) }, 403,
			"<Code>SignatureDoesNotMatch</Code><Message>Signature expired: "},
		{"ec2 expired", func() *http.Response { return signedAt(alice, "ec2", formHdr, ec2Body, old) }, 400,
			"<Code>RequestExpired</Code><Message>Request has expired.</Message>"},
		{"json bad header", func() *http.Response {
			return e.raw(nil, "", map[string]string{"X-Amz-Target": "AmazonSSM.TerminateSession", "Authorization": "AWS4-HMAC-SHA256 Credential=x"}, `{}`)
		}, 400, `IncompleteSignatureException`},
		{"session token", func() *http.Response {
			return signedAt(alice, "ssm", map[string]string{"X-Amz-Target": "AmazonSSM.TerminateSession", "X-Amz-Security-Token": "IQoJb3JpZ2lu"}, `{}`, time.Now())
		}, 400, `UnrecognizedClientException`},
		{"body too large", func() *http.Response {
			return e.raw(&alice, "ssm", jsonHdr, `{"SessionId":"`+strings.Repeat("x", MaxBodyBytes)+`"}`)
		}, 413, `RequestEntityTooLargeException`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := tt.resp()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("got %d %s\nwant %d with %s", resp.StatusCode, body, tt.status, tt.want)
			}
		})
	}
}

func TestOneLogLinePerRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	ctx := context.Background()
	if _, err := e.sts(alice).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.ssm(bob).StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(idDB)})
	wantAPIError(t, err, "TargetNotConnected", "")

	lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines:\n%s", len(lines), e.logs.String())
	}
	want := []map[string]any{
		{"component": "awsapi", "service": "sts", "operation": "GetCallerIdentity", "caller": alice.ARN, "status": 200.0},
		{"component": "awsapi", "service": "ssm", "operation": "StartSession", "caller": bob.ARN, "status": 400.0, "error_code": "TargetNotConnected"},
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
		if _, ok := got["error_code"]; ok != (want[i]["error_code"] != nil) {
			t.Errorf("line %d: error_code presence wrong: %s", i, line)
		}
	}
}
