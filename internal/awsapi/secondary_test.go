package awsapi

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// TestSecondaryCallsGiveUpSoonerOnFailures: against the sandbox's SSM
// answering HTTP 500 (its fail knob), a call through a Secondary context
// is tried 1+SecondaryRetries times, a plain one up to MaxAttempts;
// throttling gets MaxAttempts either way.
func TestSecondaryCallsGiveUpSoonerOnFailures(t *testing.T) {
	id := world.Identity{AccessKeyID: "AKIAJITSSHSECONDARY1", SecretAccessKey: "secret-for-the-secondary-test-01234567",
		ARN: "arn:aws:sts::123456789012:assumed-role/R/alice", UserID: "AROA:alice",
		Policies: []policy.Document{policy.User(policy.Options{Region: "us-east-1", Account: "123456789012"})}}
	w, err := world.New(world.Config{Region: "us-east-1", Account: "123456789012", Identities: []world.Identity{id},
		Instances: []world.Instance{{ID: "i-0a1b2c3d4e5f00001", State: "running", Virtual: true, LaunchTime: time.Now()}}})
	if err != nil {
		t.Fatal(err)
	}
	kt := &knobs.Table{}
	srv := httptest.NewServer(apis.NewHandler(w, apis.Options{Knobs: kt}))
	defer srv.Close()
	testEnv(t, srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", id.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", id.SecretAccessKey)
	c, err := New(context.Background(), Options{Region: "us-east-1", MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(ctx context.Context) error {
		_, err := c.InstanceInformation(ctx, map[string][]string{"InstanceIds": {"i-0a1b2c3d4e5f00001"}})
		return err
	}
	secondary := Secondary(context.Background())
	for _, tc := range []struct {
		name       string
		ctx        context.Context
		fail, thr  string
		wantErr    bool
		wantUnused string // what is left of the rule afterwards
	}{
		{"secondary, 2 failures", secondary, "next:2", "", false, "next:0"},
		{"secondary, 3 failures", secondary, "next:4", "", true, "next:1"},
		{"plain, 4 failures", context.Background(), "next:4", "", false, "next:0"},
		{"secondary, 4 throttled", secondary, "", "next:4", false, "next:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kt.SetFail(nil)
			kt.SetThrottle(nil)
			if tc.fail != "" {
				kt.SetFail(map[string]string{"ssm:DescribeInstanceInformation": tc.fail})
			}
			if tc.thr != "" {
				kt.SetThrottle(map[string]string{"ssm:DescribeInstanceInformation": tc.thr})
			}
			err := ask(tc.ctx)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "InternalServerError") {
				t.Errorf("error %q does not name the service's error", err)
			}
			left := kt.Fail()["ssm:DescribeInstanceInformation"]
			if tc.thr != "" {
				left = kt.Throttle()["ssm:DescribeInstanceInformation"]
			}
			if left != tc.wantUnused {
				t.Errorf("rule left at %s, want %s (attempts made: wrong)", left, tc.wantUnused)
			}
		})
	}
}
