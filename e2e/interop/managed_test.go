package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/placekey"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestManagedInstanceWithTheAWSCLI drives the sandbox's managed (mi-)
// instance with the real aws CLI only: describe-instance-information lists
// it; send-command places a short-lived key with the jitssh key-placement
// script and get-command-invocation reports success; ssh then logs in
// through `aws ssm start-session --document-name AWS-StartSSHSession`,
// which runs AWS's session-manager-plugin from PATH; and EC2 Instance
// Connect refuses the mi- id as AWS does.
func TestManagedInstanceWithTheAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	e := newEnv(t, sshd.Embedded)
	var mi sandbox.InstanceInfo
	for _, in := range e.sb.Instances {
		if in.Managed {
			mi = in
		}
	}
	if mi.ID == "" {
		t.Fatal("the built-in account has no managed instance")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	// The profiles file pair, for the admin identity (the jitssh user
	// policy does not grant ssm:SendCommand).
	envFile := filepath.Join(e.home, "sandbox.env")
	if err := e.sb.WriteFiles(envFile); err != nil {
		t.Fatal(err)
	}
	files := readExports(t, envFile)
	admin := []string{"AWS_CONFIG_FILE=" + files["JITSSH_SANDBOX_AWS_CONFIG"], "AWS_SHARED_CREDENTIALS_FILE=" + files["JITSSH_SANDBOX_AWS_CREDENTIALS"], "AWS_PROFILE=admin"}
	awsCLI := func(extra []string, args ...string) (string, string, error) {
		cmd := exec.CommandContext(ctx, "aws", append(args, "--output", "json")...)
		var env []string
		for _, kv := range e.vars {
			k, _, _ := strings.Cut(kv, "=")
			if extra == nil || !strings.HasPrefix(k, "AWS_") || k == "AWS_ENDPOINT_URL" || k == "AWS_REGION" || k == "AWS_EC2_METADATA_DISABLED" || k == "AWS_CA_BUNDLE" {
				env = append(env, kv) // extra brings its own credentials
			}
		}
		cmd.Env = append(append(env, "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1"), extra...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	out, stderr, err := awsCLI(nil, "ssm", "describe-instance-information", "--filters", "Key=ResourceType,Values=ManagedInstance")
	if err != nil {
		t.Fatalf("describe-instance-information: %v\n%s", err, stderr)
	}
	var info struct {
		InstanceInformationList []struct{ InstanceId, PingStatus, ResourceType, Name, SourceType string }
	}
	if json.Unmarshal([]byte(out), &info) != nil || len(info.InstanceInformationList) != 1 {
		t.Fatalf("describe-instance-information: %s", out)
	}
	if got := info.InstanceInformationList[0]; got.InstanceId != mi.ID || got.PingStatus != "Online" || got.ResourceType != "ManagedInstance" ||
		got.Name != mi.Name || got.SourceType != "AWS::SSM::ManagedInstance" {
		t.Errorf("managed instance %+v", got)
	}

	// A short-lived key, placed by SSM Run Command.
	user := sandbox.LocalUser()
	key := filepath.Join(e.home, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "interop", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pubText, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubText)
	if err != nil {
		t.Fatal(err)
	}
	script, err := placekey.Script(user, pub, time.Now().Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	params, _ := json.Marshal(map[string][]string{"commands": script})
	paramsFile := filepath.Join(e.home, "params.json")
	if err := os.WriteFile(paramsFile, params, 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err = awsCLI(admin, "ssm", "send-command", "--instance-ids", mi.ID, "--document-name", "AWS-RunShellScript",
		"--comment", "jitssh key", "--parameters", "file://"+paramsFile)
	if err != nil {
		t.Fatalf("send-command: %v\n%s", err, stderr)
	}
	var sent struct {
		Command struct{ CommandId, Status string }
	}
	if json.Unmarshal([]byte(out), &sent) != nil || sent.Command.CommandId == "" {
		t.Fatalf("send-command: %s", out)
	}
	out, stderr, err = awsCLI(admin, "ssm", "get-command-invocation", "--command-id", sent.Command.CommandId, "--instance-id", mi.ID)
	if err != nil || !strings.Contains(out, `"Status": "Success"`) || !strings.Contains(out, `"ResponseCode": 0`) {
		t.Fatalf("get-command-invocation: %v\n%s%s", err, out, stderr)
	}

	// ssh through the aws CLI and AWS's plugin, with the placed key.
	cmd := exec.CommandContext(ctx, "ssh", "-F", "/dev/null", "-T",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", key,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "ProxyCommand=aws ssm start-session --target %h --document-name "+sshDocument+" --parameters portNumber=%p",
		user+"@"+mi.ID, "hostname")
	cmd.Env = e.vars
	var sshErr bytes.Buffer
	cmd.Stderr = &sshErr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh to %s through aws ssm start-session: %v\n%s", mi.ID, err, sshErr.String())
	}
	if strings.TrimSpace(string(got)) != mi.Hostname {
		t.Errorf("hostname on the managed instance = %q, want %q", got, mi.Hostname)
	}

	// EC2 Instance Connect knows no mi- instance.
	_, stderr, err = awsCLI(nil, "ec2-instance-connect", "send-ssh-public-key", "--instance-id", mi.ID, "--instance-os-user", user, "--ssh-public-key", string(pubText))
	want := "An error occurred (InvalidArgsException) when calling the SendSSHPublicKey operation: 1 validation error detected: Value '" + mi.ID + "' at 'instanceId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^i-[a-f0-9]+$"
	if err == nil || !strings.Contains(stderr, want) {
		t.Errorf("send-ssh-public-key to %s: %v\n%s\nwant %s", mi.ID, err, stderr, want)
	}
}

// readExports reads the export lines of the sandbox's env file.
func readExports(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		vars[k] = strings.ReplaceAll(strings.Trim(v, "'"), `'\''`, `'`)
	}
	return vars
}
