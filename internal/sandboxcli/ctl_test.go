package sandboxcli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
)

// ctl runs `jitssh-sandbox ctl` in process against the env file's sandbox.
func ctl(t *testing.T, envFile string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), append([]string{"ctl", "--env-file", envFile}, args...), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// TestKnobsAtStartAndRunTime starts the sandbox with latency and throttle
// flags, changes throttling, agents and instance states with `ctl`, and
// checks what the real aws CLI sees: AWS's throttling error (and its
// retry), ConnectionLost, TargetNotConnected from start-session, a stopped
// instance, and the managed instance in describe-instance-information.
func TestKnobsAtStartAndRunTime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox and runs the aws CLI")
	}
	t.Parallel()
	vars := up(t, "--latency", "ssm:DescribeInstanceInformation=10ms", "--throttle", "ec2:DescribeInstances=next:1")
	envFile := filepath.Join(filepath.Dir(vars["JITSSH_SANDBOX_INSTANCES"]), "..", "sandbox.env")
	if _, err := os.Stat(envFile); err != nil {
		t.Fatalf("env file: %v", err)
	}

	if out, errOut, code := ctl(t, envFile, "latency"); code != 0 || out != "ssm:DescribeInstanceInformation=10ms\n" {
		t.Fatalf("ctl latency: %d %q %s", code, out, errOut)
	}
	if out, errOut, code := ctl(t, envFile, "throttle", "--output", "json"); code != 0 || !strings.Contains(out, `"ec2:DescribeInstances": "next:1"`) {
		t.Fatalf("ctl throttle: %d %q %s", code, out, errOut)
	}

	// The throttled call, as the aws CLI reports it with retries off.
	_, stderr, code := awsProfile(t, vars, "default", "ec2", "describe-instances")
	if code == 0 || !strings.Contains(stderr, "An error occurred (RequestLimitExceeded) when calling the DescribeInstances operation") ||
		!strings.Contains(stderr, "Request limit exceeded.") {
		t.Fatalf("throttled describe-instances: exit %d, %s", code, stderr)
	}
	// With retries, the CLI gets through two throttled attempts.
	if _, errOut, code := ctl(t, envFile, "throttle", "ec2:DescribeInstances=next:2"); code != 0 {
		t.Fatalf("ctl throttle: %s", errOut)
	}
	out, stderr, code := awsProfile(t, append2(vars, "AWS_MAX_ATTEMPTS", "3"), "default", "ec2", "describe-instances", "--instance-ids", "i-0a1b2c3d4e5f00002")
	if code != 0 || !strings.Contains(out, "i-0a1b2c3d4e5f00002") {
		t.Fatalf("describe-instances with retries: exit %d, %s", code, stderr)
	}
	if out, _, _ := ctl(t, envFile, "throttle"); out != "ec2:DescribeInstances=next:0\n" {
		t.Errorf("after the retried call: %q", out)
	}

	// The managed instance, as SSM lists it.
	out, stderr, code = awsProfile(t, vars, "default", "ssm", "describe-instance-information", "--filters", "Key=ResourceType,Values=ManagedInstance")
	var info struct {
		InstanceInformationList []struct {
			InstanceId, PingStatus, ResourceType, Name, ComputerName, IPAddress, ActivationId, IamRole string
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || len(info.InstanceInformationList) != 1 {
		t.Fatalf("describe-instance-information: exit %d, %s %s", code, out, stderr)
	}
	if mi := info.InstanceInformationList[0]; mi.InstanceId != "mi-0a1b2c3d4e5f00001" || mi.PingStatus != "Online" || mi.ResourceType != "ManagedInstance" ||
		mi.Name != "onprem-1" || mi.ComputerName != "onprem-1" || mi.IPAddress != "192.168.10.21" || mi.ActivationId == "" || mi.IamRole != "SSMServiceRole" {
		t.Errorf("managed instance %+v", mi)
	}

	// Agent offline: ConnectionLost, and start-session fails before any plugin runs.
	if out, errOut, code := ctl(t, envFile, "instance", "web-1", "agent-offline"); code != 0 || !strings.Contains(out, "agent offline") {
		t.Fatalf("ctl instance web-1 agent-offline: %d %q %s", code, out, errOut)
	}
	out, _, _ = awsProfile(t, vars, "default", "ssm", "describe-instance-information", "--filters", "Key=InstanceIds,Values=i-0a1b2c3d4e5f00001")
	if !strings.Contains(out, `"PingStatus": "ConnectionLost"`) {
		t.Errorf("agent offline: %s", out)
	}
	_, stderr, code = awsProfile(t, vars, "default", "ssm", "start-session", "--target", "i-0a1b2c3d4e5f00001")
	if want := "An error occurred (TargetNotConnected) when calling the StartSession operation: i-0a1b2c3d4e5f00001 is not connected."; code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("start-session to an offline agent: exit %d, %s", code, stderr)
	}

	// A stopped instance.
	if out, errOut, code := ctl(t, envFile, "instance", "i-0a1b2c3d4e5f00002", "stop"); code != 0 || !strings.Contains(out, "stopped") {
		t.Fatalf("ctl instance stop: %d %q %s", code, out, errOut)
	}
	out, _, _ = awsProfile(t, vars, "default", "ec2", "describe-instances", "--instance-ids", "i-0a1b2c3d4e5f00002", "--query", "Reservations[0].Instances[0].State")
	if !strings.Contains(out, `"Name": "stopped"`) || !strings.Contains(out, `"Code": 80`) {
		t.Errorf("stopped instance state: %s", out)
	}
	out, _, code = ctl(t, envFile, "instances", "--output", "json")
	var states []instanceState
	if code != 0 || json.Unmarshal([]byte(out), &states) != nil {
		t.Fatalf("ctl instances: %s", out)
	}
	got := map[string]string{}
	for _, s := range states {
		got[s.Name] = s.State + "/" + s.Agent
	}
	if got["web-1"] != "running/offline" || got["web-2"] != "stopped/online" || got["onprem-1"] != "running/online" {
		t.Errorf("ctl instances: %v", got)
	}

	// Nonsense is refused with a reason, and changes nothing.
	for _, bad := range [][]string{
		{"latency", "ec2:DescribeInstances=soon"},
		{"throttle", "s3:GetObject=10%"},
		{"instance", "web-9", "stop"},
		{"instance", "web-1", "explode"},
		{"--url", "http://198.51.100.7:80", "instances"},
	} {
		if _, errOut, code := ctl(t, envFile, bad...); code == 0 || errOut == "" {
			t.Errorf("ctl %v: exit %d, stderr %q", bad, code, errOut)
		}
	}
	if out, _, _ := ctl(t, envFile, "latency"); out != "ssm:DescribeInstanceInformation=10ms\n" {
		t.Errorf("latency after refused changes: %q", out)
	}

	// Knowing the port is not enough: the env file's secret is.
	orig, _ := os.ReadFile(envFile)
	forged := filepath.Join(t.TempDir(), "forged.env")
	os.WriteFile(forged, []byte(strings.Replace(string(orig), "JITSSH_SANDBOX_ADMIN_TOKEN='", "JITSSH_SANDBOX_ADMIN_TOKEN='x", 1)), 0o600)
	if _, errOut, code := ctl(t, forged, "latency", "*=5s"); code == 0 || !strings.Contains(errOut, "JITSSH_SANDBOX_ADMIN_TOKEN") {
		t.Errorf("ctl with a wrong secret: exit %d, stderr %q", code, errOut)
	}
	if out, _, _ := ctl(t, envFile, "latency"); out != "ssm:DescribeInstanceInformation=10ms\n" {
		t.Errorf("latency after a request with a wrong secret: %q", out)
	}
}

// TestUpRefusesNonLoopbackAddr: `up --addr` takes loopback addresses only,
// unless forced.
func TestUpRefusesNonLoopbackAddr(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"up", "--addr", "0.0.0.0:0", "--state-dir", t.TempDir(), "--sshd", "embedded"}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "not a loopback address") || !strings.Contains(stderr.String(), "--allow-non-loopback") {
		t.Errorf("up --addr 0.0.0.0:0: exit %d, stderr %q", code, stderr.String())
	}
}

// TestUpAdviceForLibraryErrors: the sandbox's typed errors name no
// command or flag; up adds them.
func TestUpAdviceForLibraryErrors(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "sandbox.toml")
	if err := os.WriteFile(conf, []byte("colour = \"blue\"\n"+config.BuiltinText), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"up", "--config", conf, "--state-dir", t.TempDir(), "--sshd", "embedded"}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), `unknown key "colour" (see jitssh-sandbox up --help for the format)`) {
		t.Errorf("up --config with an unknown key: exit %d, stderr %q", code, stderr.String())
	}
	if err := withAdvice(fmt.Errorf("start: %w", sandbox.ErrNoHostBinary)); !strings.Contains(err.Error(), "--host-binary") {
		t.Errorf("advice for ErrNoHostBinary: %v", err)
	}
}

func append2(vars map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range vars {
		if kk != k {
			out[kk] = vv
		}
	}
	return out
}

// TestHelpShowsFlagValueNames: pflag takes a `quoted` word in a flag's
// usage as the name of its value; ctl --help printed "--env-file
// jitssh-sandbox up --env-file" for it.
func TestHelpShowsFlagValueNames(t *testing.T) {
	for _, args := range [][]string{{"up", "--help"}, {"config", "--help"}, {"ctl", "--help"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr.String())
		}
		for _, line := range strings.Split(stdout.String(), "\n") {
			if f, ok := strings.CutPrefix(strings.TrimSpace(line), "--env-file "); ok && !strings.HasPrefix(f, "string ") {
				t.Errorf("%v: %q", args, line)
			}
		}
	}
}
