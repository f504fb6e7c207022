package apis

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"

	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// newKnobEnv is newEnv with a knob table in the handler.
func newKnobEnv(t *testing.T) (*env, *knobs.Table) {
	t.Helper()
	w, err := world.New(world.Config{Region: testRegion, Account: testAccount,
		Identities: []world.Identity{alice, bob}, Instances: testInstances()})
	if err != nil {
		t.Fatal(err)
	}
	kt := &knobs.Table{}
	e := &env{t: t, world: w, logs: &syncBuffer{}}
	e.srv = httptest.NewServer(NewHandler(w, Options{Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Knobs: kt}))
	t.Cleanup(e.srv.Close)
	return e, kt
}

// retryingConfig is an SDK configuration with the SDK's standard retryer
// (what every real client uses), fast backoff so the test is quick.
func (e *env) retryingConfig(id world.Identity, attempts int) aws.Config {
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(testRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id.AccessKeyID, id.SecretAccessKey, "")),
		config.WithBaseEndpoint(e.srv.URL),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = 20 * time.Millisecond
			})
		}),
	)
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

// TestThrottledCallsAreRetriedBySDK throttles the next two calls of an
// EC2 (query) and an SSM (JSON) API: the SDK's standard retryer recognises
// the sandbox's answers as throttling and succeeds on the third attempt.
func TestThrottledCallsAreRetriedBySDK(t *testing.T) {
	e, kt := newKnobEnv(t)
	if err := kt.SetThrottle(map[string]string{"ec2:DescribeInstances": "next:2", "ssm:DescribeInstanceInformation": "next:2"}); err != nil {
		t.Fatal(err)
	}
	cfg := e.retryingConfig(alice, 3)
	ctx := context.Background()
	out, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{idWeb1}})
	if err != nil {
		t.Fatalf("DescribeInstances after two throttled attempts: %v", err)
	}
	checkAttempts(t, out.ResultMetadata, "RequestLimitExceeded")
	info, err := ssm.NewFromConfig(cfg).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	if err != nil {
		t.Fatalf("DescribeInstanceInformation after two throttled attempts: %v", err)
	}
	checkAttempts(t, info.ResultMetadata, "ThrottlingException")
	if got := kt.Throttle(); got["ec2:DescribeInstances"] != "next:0" || got["ssm:DescribeInstanceInformation"] != "next:0" {
		t.Errorf("rules after the calls: %v", got)
	}

	// Always throttled: the SDK gives up after its attempts with AWS's code.
	if err := kt.SetThrottle(map[string]string{"ssm:*": "100%", "ec2-instance-connect:*": "100%", "sts:*": "100%"}); err != nil {
		t.Fatal(err)
	}
	_, err = ssm.NewFromConfig(e.retryingConfig(alice, 2)).StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(idWeb1)})
	wantAPIError(t, err, "ThrottlingException", "Rate exceeded")
	if !strings.Contains(err.Error(), "exceeded maximum number of attempts, 2") {
		t.Errorf("error %q: want the SDK to have retried", err)
	}
	_, err = e.sts(alice).GetCallerIdentity(ctx, nil)
	wantAPIError(t, err, "Throttling", "Rate exceeded")
}

func checkAttempts(t *testing.T, md middleware.Metadata, code string) {
	t.Helper()
	res, ok := retry.GetAttemptResults(md)
	if !ok || len(res.Results) != 3 {
		t.Fatalf("attempt results %+v, want 3 attempts", res)
	}
	for i, r := range res.Results[:2] {
		if r.Err == nil || !strings.Contains(r.Err.Error(), code) || !r.Retried {
			t.Errorf("attempt %d: %v (retried %v), want %s, retried", i+1, r.Err, r.Retried, code)
		}
	}
}

// TestThrottleWireShape checks the bytes a throttled call returns.
func TestThrottleWireShape(t *testing.T) {
	e, kt := newKnobEnv(t)
	if err := kt.SetThrottle(map[string]string{"*": "100%"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		service, body string
		hdr           map[string]string
		status        int
		want          []string
	}{
		{"ec2", "Action=DescribeInstances&Version=2016-11-15", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			503, []string{"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>"}},
		{"ssm", "{}", map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.DescribeInstanceInformation"},
			400, []string{`"__type":"ThrottlingException"`, `"message":"Rate exceeded"`}},
		{"sts", "Action=GetCallerIdentity&Version=2011-06-15", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			400, []string{"<Code>Throttling</Code>", "<Message>Rate exceeded</Message>"}},
	} {
		resp := e.raw(&alice, c.service, c.hdr, c.body)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status || resp.Header.Get("X-Amzn-Requestid") == "" && c.service != "ec2" {
			t.Errorf("%s: HTTP %d (request id %q), want %d", c.service, resp.StatusCode, resp.Header.Get("X-Amzn-Requestid"), c.status)
		}
		for _, w := range c.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: body %s lacks %s", c.service, b, w)
			}
		}
	}
}

// TestLatencyRule delays only the API it names.
func TestLatencyRule(t *testing.T) {
	e, kt := newKnobEnv(t)
	const d = 150 * time.Millisecond
	if err := kt.SetLatency(map[string]string{"ssm:DescribeInstanceInformation": d.String()}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	if _, err := e.ssm(alice).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < d {
		t.Errorf("DescribeInstanceInformation took %v, want at least the configured %v", took, d)
	}
	// A client that gives up during the delay gets its context error.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := e.ssm(alice).DescribeInstanceInformation(short, &ssm.DescribeInstanceInformationInput{}); err == nil {
		t.Error("a 20 ms deadline did not expire during 150 ms of latency")
	}
}

// TestFailRuleAnswers500 makes calls fail as a service failing inside
// does: HTTP 500 with the service's code, retried by the SDK as transient.
func TestFailRuleAnswers500(t *testing.T) {
	e, kt := newKnobEnv(t)
	if err := kt.SetFail(map[string]string{"ssm:DescribeInstanceInformation": "next:2", "ec2:*": "100%"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := ssm.NewFromConfig(e.retryingConfig(alice, 3)).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	if err != nil {
		t.Fatalf("DescribeInstanceInformation after two failed attempts: %v", err)
	}
	checkAttempts(t, info.ResultMetadata, "InternalServerError")
	_, err = ec2.NewFromConfig(e.retryingConfig(alice, 2)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	wantAPIError(t, err, "InternalError", "An internal error has occurred.")
	if !strings.Contains(err.Error(), "StatusCode: 500") || !strings.Contains(err.Error(), "exceeded maximum number of attempts, 2") {
		t.Errorf("error %q: want HTTP 500, retried", err)
	}
}
