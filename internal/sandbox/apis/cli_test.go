package apis

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// awsCLI runs the real aws CLI against the sandbox as id, with an
// environment built from scratch (only what the CLI and pyenv need), and
// returns stdout, stderr and the exit code.
func awsCLI(t *testing.T, e *env, id world.Identity, secret string, args ...string) (string, string, int) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed")
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--output", "json")...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"AWS_ENDPOINT_URL=" + e.srv.URL,
		"AWS_ACCESS_KEY_ID=" + id.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_DEFAULT_REGION=" + testRegion,
		"AWS_REGION=" + testRegion,
		"AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=1",
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYENV_") || strings.HasPrefix(kv, "LANG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run aws %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aws CLI")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	t.Parallel()
	e := newEnv(t, testInstances())
	key := testkeys.New(t).Line("cli@test")
	sess, err := e.ssm(alice).StartSession(context.Background(), &ssm.StartSessionInput{Target: aws.String(idWeb1)})
	if err != nil {
		t.Fatal(err)
	}

	decode := func(t *testing.T, stdout string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(stdout), v); err != nil {
			t.Fatalf("output %q: %v", stdout, err)
		}
	}
	t.Run("sts get-caller-identity", func(t *testing.T) {
		t.Parallel()
		out, stderr, code := awsCLI(t, e, bob, bob.SecretAccessKey, "sts", "get-caller-identity")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got struct{ UserId, Account, Arn string }
		decode(t, out, &got)
		if got.Arn != bob.ARN || got.UserId != bob.UserID || got.Account != testAccount {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("ec2 describe-instances --filters", func(t *testing.T) {
		t.Parallel()
		out, stderr, code := awsCLI(t, e, alice, alice.SecretAccessKey, "ec2", "describe-instances",
			"--filters", "Name=tag:Name,Values=web-*", "Name=instance-state-name,Values=running")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got struct {
			Reservations []struct {
				Instances []struct {
					InstanceId, PrivateIpAddress string
					State                        struct {
						Code int
						Name string
					}
					Placement struct{ AvailabilityZone string }
				}
			}
		}
		decode(t, out, &got)
		var ids []string
		for _, r := range got.Reservations {
			for _, in := range r.Instances {
				ids = append(ids, in.InstanceId)
				if in.State.Code != 16 || in.State.Name != "running" || in.PrivateIpAddress == "" || in.Placement.AvailabilityZone == "" {
					t.Errorf("instance %+v", in)
				}
			}
		}
		if want := []string{idWeb1, idWeb2}; !reflect.DeepEqual(ids, want) {
			t.Errorf("ids %v, want %v", ids, want)
		}
	})
	t.Run("ec2 describe-instances unknown id", func(t *testing.T) {
		t.Parallel()
		_, stderr, code := awsCLI(t, e, alice, alice.SecretAccessKey, "ec2", "describe-instances", "--instance-ids", idAbsent)
		want := "An error occurred (InvalidInstanceID.NotFound) when calling the DescribeInstances operation: The instance ID '" + idAbsent + "' does not exist"
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
		}
	})
	t.Run("ec2-instance-connect send-ssh-public-key", func(t *testing.T) {
		t.Parallel()
		out, stderr, code := awsCLI(t, e, alice, alice.SecretAccessKey, "ec2-instance-connect", "send-ssh-public-key",
			"--instance-id", idWeb2, "--instance-os-user", "cliuser", "--ssh-public-key", key)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got struct {
			RequestId string
			Success   bool
		}
		decode(t, out, &got)
		keys := e.world.ActiveKeys(idWeb2, "cliuser")
		if !got.Success || len(keys) != 1 || keys[0].RequestID != got.RequestId || keys[0].Caller != alice.ARN || keys[0].PublicKey != key {
			t.Errorf("output %+v, keys %+v", got, keys)
		}
	})
	t.Run("ssm describe-instance-information", func(t *testing.T) {
		t.Parallel()
		out, stderr, code := awsCLI(t, e, alice, alice.SecretAccessKey, "ssm", "describe-instance-information",
			"--filters", "Key=PingStatus,Values=Online")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got struct {
			InstanceInformationList []struct{ InstanceId, PingStatus, PlatformType, ComputerName string }
		}
		decode(t, out, &got)
		if len(got.InstanceInformationList) != 2 || got.InstanceInformationList[0].InstanceId != idWeb1 ||
			got.InstanceInformationList[0].PingStatus != "Online" || got.InstanceInformationList[0].ComputerName != "ip-10-0-1-10.ec2.internal" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("ssm terminate-session", func(t *testing.T) {
		t.Parallel()
		out, stderr, code := awsCLI(t, e, alice, alice.SecretAccessKey, "ssm", "terminate-session", "--session-id", aws.ToString(sess.SessionId))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got struct{ SessionId string }
		decode(t, out, &got)
		s, _ := e.world.Session(aws.ToString(sess.SessionId))
		select {
		case <-s.Done():
		default:
			t.Error("session still live")
		}
		if got.SessionId != aws.ToString(sess.SessionId) {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		t.Parallel()
		_, stderr, code := awsCLI(t, e, alice, "wrong", "sts", "get-caller-identity")
		if code == 0 || !strings.Contains(stderr, "An error occurred (SignatureDoesNotMatch) when calling the GetCallerIdentity operation: The request signature we calculated does not match") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		t.Parallel()
		_, stderr, code := awsCLI(t, e, world.Identity{AccessKeyID: "AKIAUNKNOWNUNKNOWN00"}, "x", "ssm", "describe-instance-information")
		if code == 0 || !strings.Contains(stderr, "An error occurred (UnrecognizedClientException) when calling the DescribeInstanceInformation operation: The security token included in the request is invalid.") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}
