package sandboxcli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// up runs `jitssh-sandbox up` with args until the test ends and returns
// the variables of its env file.
func up(t *testing.T, args ...string) map[string]string {
	t.Helper()
	vars, _ := upFile(t, args...)
	return vars
}

// upFile is up, also returning the env file's path.
func upFile(t *testing.T, args ...string) (map[string]string, string) {
	t.Helper()
	vars, envFile, _ := upFull(t, args...)
	return vars, envFile
}

// upFull is up, also returning the env file's path and what up printed.
func upFull(t *testing.T, args ...string) (map[string]string, string, *syncBuf) {
	t.Helper()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "sandbox.env")
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuf{}
	done := make(chan int)
	go func() {
		done <- Main(ctx, append([]string{"up", "--sshd", "embedded", "--state-dir", filepath.Join(dir, "state"), "--env-file", envFile}, args...), stderr, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("jitssh-sandbox output:\n%s", stderr.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(envFile)
		if err == nil {
			vars := map[string]string{}
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				line, ok := strings.CutPrefix(sc.Text(), "export ")
				if !ok {
					continue
				}
				k, v, _ := strings.Cut(line, "=")
				vars[k] = strings.Trim(v, "'")
			}
			return vars, envFile, stderr
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("jitssh-sandbox up exited with %d:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no env file after 30s:\n%s", stderr.String())
		}
	}
}

// awsProfile runs the real aws CLI with the sandbox's config and
// credentials files and --profile.
func awsProfile(t *testing.T, vars map[string]string, profile string, args ...string) (string, string, int) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--profile", profile, "--output", "json"}, args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"AWS_CONFIG_FILE=" + vars["JITSSH_SANDBOX_AWS_CONFIG"],
		"AWS_SHARED_CREDENTIALS_FILE=" + vars["JITSSH_SANDBOX_AWS_CREDENTIALS"],
		// The endpoint comes from the profile's endpoint_url where the CLI
		// supports it; the variable covers older CLIs.
		"AWS_ENDPOINT_URL=" + vars["AWS_ENDPOINT_URL"],
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=" + or(vars["AWS_MAX_ATTEMPTS"], "1"),
	}
	if ca := vars["AWS_CA_BUNDLE"]; ca != "" {
		cmd.Env = append(cmd.Env, "AWS_CA_BUNDLE="+ca) // up --tls
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
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestUpBuiltinAccountProfilesAndCloudTrail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox and runs the aws CLI")
	}
	t.Parallel()
	vars := up(t)
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"JITSSH_STATE_DIR", "JITSSH_SANDBOX_INSTANCES", "JITSSH_SANDBOX_AWS_CONFIG", "JITSSH_SANDBOX_AWS_CREDENTIALS", "JITSSH_SANDBOX_CLOUDTRAIL"} {
		if vars[k] == "" {
			t.Errorf("env file lacks %s", k)
		}
	}
	if st, err := os.Stat(vars["JITSSH_SANDBOX_AWS_CREDENTIALS"]); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file: %v %v", st, err)
	}
	out, stderr, code := awsProfile(t, vars, "alice", "sts", "get-caller-identity")
	if code != 0 || !strings.Contains(out, `"arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/alice"`) {
		t.Fatalf("alice: exit %d\n%s%s", code, out, stderr)
	}
	out, _, code = awsProfile(t, vars, "default", "sts", "get-caller-identity")
	var gci struct{ Arn string }
	json.Unmarshal([]byte(out), &gci)
	if code != 0 || !strings.HasPrefix(gci.Arn, "arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/") {
		t.Errorf("default profile: %s", out)
	}
	pub := testkeys.New(t).AuthorizedKey()
	_, stderr, code = awsProfile(t, vars, "alice", "ec2-instance-connect", "send-ssh-public-key",
		"--instance-id", "i-0a1b2c3d4e5f00001", "--instance-os-user", "bob", "--ssh-public-key", pub)
	want := "An error occurred (AccessDeniedException) when calling the SendSSHPublicKey operation: User: arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/alice is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f00001 with an explicit deny in a service control policy"
	if code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("alice pushing for bob: exit %d\n%s", code, stderr)
	}
	_, stderr, code = awsProfile(t, vars, "admin", "ec2-instance-connect", "send-ssh-public-key",
		"--instance-id", "i-0a1b2c3d4e5f00001", "--instance-os-user", "root", "--ssh-public-key", pub)
	if code == 0 || !strings.Contains(stderr, "with an explicit deny in a service control policy") {
		t.Errorf("admin pushing for root: exit %d\n%s", code, stderr)
	}
	_, stderr, code = awsProfile(t, vars, "nopolicy", "ssm", "start-session", "--target", "i-0a1b2c3d4e5f00001",
		"--document-name", "AWS-StartSSHSession")
	if code == 0 || !strings.Contains(stderr, "(AccessDeniedException) when calling the StartSession operation: User: arn:aws:iam::123456789012:user/nopolicy is not authorized to perform: ssm:StartSession on resource: arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f00001 because no identity-based policy allows the ssm:StartSession action") {
		t.Errorf("nopolicy StartSession: exit %d\n%s", code, stderr)
	}

	trail, err := os.ReadFile(vars["JITSSH_SANDBOX_CLOUDTRAIL"])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(trail)), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d CloudTrail records, want 5:\n%s", len(lines), trail)
	}
	var ev struct {
		EventName    string `json:"eventName"`
		ErrorCode    string `json:"errorCode"`
		UserIdentity struct {
			ARN string `json:"arn"`
		} `json:"userIdentity"`
		UserAgent string `json:"userAgent"`
	}
	if err := json.Unmarshal([]byte(lines[2]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventName != "SendSSHPublicKey" || ev.ErrorCode != "AccessDeniedException" ||
		ev.UserIdentity.ARN != "arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/alice" || !strings.Contains(ev.UserAgent, "aws-cli") {
		t.Errorf("record %s", lines[2])
	}
	creds, err := os.ReadFile(vars["AWS_SHARED_CREDENTIALS_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(creds), "\n") {
		if k, v, ok := strings.Cut(l, " = "); ok && k == "aws_secret_access_key" && strings.Contains(string(trail), v) {
			t.Error("the CloudTrail log contains a secret key")
		}
	}
}

// TestEnvFileProfilesAsPrinted sources the env file in a shell that has
// other AWS settings of its own (a profile, keys, a ~/.aws/config), as a
// developer's shell does, and runs the real aws CLI exactly as the README
// and `up --help` print it: --profile and AWS_PROFILE select the sandbox's
// identities, and nothing of the user's own configuration is used. The env
// file once set AWS_CONFIG_FILE=/dev/null, so --profile alice failed.
func TestEnvFileProfilesAsPrinted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox and runs the aws CLI")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	t.Parallel()
	_, envFile := upFile(t)
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".aws"), 0o700)
	os.WriteFile(filepath.Join(home, ".aws", "config"), []byte("[profile alice]\nregion = eu-north-1\nendpoint_url = http://192.0.2.1:9\n"), 0o600)
	os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte("[alice]\naws_access_key_id = AKIAREALUSERALICE000\naws_secret_access_key = x\n"), 0o600)
	arn := func(shell string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", ". \"$1\" && "+shell+" --output text --query Arn", "bash", envFile)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
			"AWS_PROFILE=real-prod", "AWS_ACCESS_KEY_ID=AKIAREALUSER00000000", "AWS_SECRET_ACCESS_KEY=real", "AWS_SESSION_TOKEN=real"}
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "PYENV_") || strings.HasPrefix(kv, "LANG=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s: %v\n%s", shell, err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	const alice = "arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/alice"
	if got := arn("aws --profile alice sts get-caller-identity"); got != alice {
		t.Errorf("aws --profile alice: %q, want %q", got, alice)
	}
	if got := arn("AWS_PROFILE=alice aws sts get-caller-identity"); got != alice {
		t.Errorf("AWS_PROFILE=alice aws: %q, want %q", got, alice)
	}
	if got := arn("aws sts get-caller-identity"); !strings.HasPrefix(got, "arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/") || got == alice {
		t.Errorf("default identity: %q", got)
	}
}

// TestUpLogsToAFileAndPrintsASummary: the terminal the README tells you
// to keep using once showed a log line per API call; up now logs to a
// file and prints one screen saying what runs, the env file, how to use
// it and where the log is.
func TestUpLogsToAFileAndPrintsASummary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox")
	}
	t.Parallel()
	vars, envFile, stderr := upFull(t)
	for i := 0; i < 5; i++ {
		resp, err := http.Post(vars["AWS_ENDPOINT_URL"]+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=DescribeInstances&Version=2016-11-15"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var out string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if out = stderr.String(); strings.Contains(out, "Ctrl-C stops it") || time.Now().After(deadline) {
			break
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > 24 {
		t.Errorf("%d lines printed, want one screen (24):\n%s", len(lines), out)
	}
	for _, want := range []string{"ready at " + vars["AWS_ENDPOINT_URL"], "web-1", "profiles: default, alice", ". " + envFile, "jitssh ssh web-1", "Log: ", "Ctrl-C stops it"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// The instance rows are a table: "ssh:" starts in the same column in
	// each (bastion-1 and onprem-1 once pushed theirs a column right).
	col := -1
	for _, l := range lines {
		if i := strings.Index(l, " ssh: "); i >= 0 && strings.HasPrefix(strings.TrimSpace(l), "i-") || i >= 0 && strings.HasPrefix(strings.TrimSpace(l), "mi-") {
			if col >= 0 && i != col {
				t.Errorf("instance rows not aligned (ssh: at column %d, then %d):\n%s", col, i, out)
				break
			}
			col = i
		}
	}
	if col < 0 {
		t.Errorf("no instance rows with ssh: in the summary:\n%s", out)
	}
	if strings.Contains(out, "aws api request") || strings.Contains(out, "level=INFO") {
		t.Errorf("log lines in the terminal:\n%s", out)
	}
	_, logPath, ok := strings.Cut(out, "Log: ")
	logPath, _, _ = strings.Cut(logPath, " ")
	b, err := os.ReadFile(logPath)
	if !ok || err != nil || strings.Count(string(b), "aws api request") < 5 {
		t.Errorf("log file %q: %v\n%s", logPath, err, b)
	}
}

func TestUpConfigFileAndTenThousandInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the sandbox and runs the aws CLI")
	}
	path := filepath.Join(t.TempDir(), "sandbox.toml")
	conf := `region = "eu-west-1"
account = "111122223333"

[[identities]]
name = "ops"
type = "user"
user = "ops"
policies = ["jitssh-user"]

[[instances]]
id = "i-0123456789abcdef0"
name = "api"
private_ip = "10.9.0.5"
`
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Parallel()
	vars := up(t, "--config", path, "--generate", "10000")
	if vars["AWS_REGION"] != "eu-west-1" {
		t.Errorf("AWS_REGION = %q", vars["AWS_REGION"])
	}
	// The CLI paginates with MaxResults 1000 and must see every instance.
	out, stderr, code := awsProfile(t, vars, "ops", "ec2", "describe-instances", "--page-size", "1000",
		"--query", "Reservations[].Instances[].InstanceId")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ids []string
	if err := json.Unmarshal([]byte(out), &ids); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	if len(ids) != 10001 || len(seen) != 10001 || !seen["i-0123456789abcdef0"] || !seen["i-0f00000000000270f"] {
		t.Errorf("%d ids (%d distinct), want 10001", len(ids), len(seen))
	}
	out, stderr, code = awsProfile(t, vars, "ops", "ec2", "describe-instances",
		"--filters", "Name=tag:Name,Values=node-0424*", "Name=instance-state-name,Values=running",
		"--query", "Reservations[].Instances[].Tags[?Key=='Name'].Value[]")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var names []string
	json.Unmarshal([]byte(out), &names)
	// node-04240 … node-04249: 10, minus node-04240 (every 20th is stopped).
	if len(names) != 9 {
		t.Errorf("filtered names %v, want the 9 running node-0424x", names)
	}
}
