//go:build unix

package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awscreds"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/totp"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

const (
	compatAccount = "123456789012"
	compatRole    = "arn:aws:iam::123456789012:role/Admin"
	compatSerial  = "arn:aws:iam::123456789012:mfa/carol"
)

// compatSandbox is a sandbox account with the IAM user carol (static
// keys), her MFA device and the role Admin, which trusts her with MFA;
// HOME is a temporary directory and AWS_CONFIG_FILE names the profiles
// carol and mfa (Admin through carol with mfa_serial), as the AWS docs
// show them.
type compatSandbox struct {
	w     *world.World
	calls *actionCounter
	url   string
	home  string
	cfg   string
	role  world.Role
}

// actionCounter counts the STS (AWS query protocol) actions a handler
// serves.
type actionCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *actionCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if q, err := url.ParseQuery(string(body)); err == nil && q.Get("Action") != "" {
			c.mu.Lock()
			c.n[q.Get("Action")]++
			c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (c *actionCounter) count(action string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[action]
}

// code is the MFA device's current code.
func (s *compatSandbox) code(t *testing.T) string {
	t.Helper()
	d, ok := s.w.MFADevice(compatSerial)
	if !ok {
		t.Fatal("no MFA device")
	}
	return totp.Code(d.Secret, time.Now())
}

func newCompatSandbox(t *testing.T, extraProfile string) *compatSandbox {
	t.Helper()
	assume, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	carol := world.Identity{Name: "carol", AccessKeyID: "AKIAJITSSHCOMPAT0001", SecretAccessKey: "secret-of-carol-for-the-compat-test-0123",
		ARN: "arn:aws:iam::" + compatAccount + ":user/carol", UserID: "AIDAJITSSHCOMPAT0001",
		Policies: []policy.Document{policy.User(policy.Options{Region: "us-east-1", Account: compatAccount}), assume}}
	trust, err := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + compatAccount + `:user/carol"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	role := world.Role{Name: "Admin", Trust: trust, Policies: []policy.Document{policy.User(policy.Options{Region: "us-east-1", Account: compatAccount})}}
	w, err := world.New(world.Config{Region: "us-east-1", Account: compatAccount, Identities: []world.Identity{carol},
		Roles: []world.Role{role}, MFADevices: []world.MFADevice{{Serial: compatSerial, UserARN: carol.ARN, Secret: []byte("jitssh-compat-test-totp-seed")}}})
	if err != nil {
		t.Fatal(err)
	}
	role, _ = w.Role("Admin")
	counter := &actionCounter{n: map[string]int{}}
	srv := httptest.NewServer(counter.wrap(apis.NewHandler(w, apis.Options{})))
	t.Cleanup(srv.Close)
	testEnv(t, srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	conf := "[profile carol]\naws_access_key_id = " + carol.AccessKeyID + "\naws_secret_access_key = " + carol.SecretAccessKey + "\n" +
		"[profile mfa]\nrole_arn = " + compatRole + "\nsource_profile = carol\nmfa_serial = " + compatSerial + "\n" + extraProfile
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	return &compatSandbox{w: w, calls: counter, url: srv.URL, home: home, cfg: cfg, role: role}
}

// awsCLI runs the pip aws CLI against the sandbox with HOME and the
// config file of s, stdin closed (a prompt fails), and returns stdout,
// stderr and the exit status.
func (s *compatSandbox) awsCLI(t *testing.T, args ...string) (string, string, int) {
	return s.awsCLIInput(t, "", args...)
}

// awsCLIInput is awsCLI with input on stdin, in a session of its own (no
// controlling terminal: the CLI's getpass prompt reads stdin).
func (s *compatSandbox) awsCLIInput(t *testing.T, input string, args ...string) (string, string, int) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("the aws CLI is not installed (pip install awscli)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--output", "json")...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.home, "AWS_ENDPOINT_URL=" + s.url,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=" + s.cfg, "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYENV_") || strings.HasPrefix(kv, "LANG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// pyenv's shims find their root under HOME unless told
	if i := strings.Index(bin, "/.pyenv/shims/"); i >= 0 && os.Getenv("PYENV_ROOT") == "" {
		cmd.Env = append(cmd.Env, "PYENV_ROOT="+bin[:i]+"/.pyenv")
	}
	cmd.Stdin = strings.NewReader(input) // "": a prompt for an MFA code gets nothing
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
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

func (s *compatSandbox) cache() *awscreds.Cache {
	return &awscreds.Cache{Dir: filepath.Join(s.home, ".aws", "cli", "cache")}
}

// TestCLIUsesSessionJitsshCached: an entry jitssh's cache writes for the
// profile mfa is what `aws sts get-caller-identity --profile mfa` uses,
// without asking for a code (stdin is closed), and what jitssh itself
// reads back without a prompt.
func TestCLIUsesSessionJitsshCached(t *testing.T) {
	s := newCompatSandbox(t, "")
	creds := s.w.IssueSession(s.w.RoleSession(s.role, "carol-cached", nil), time.Hour)
	e := &awscreds.Entry{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken,
		Expiration: creds.Expiration, AssumedRoleARN: "arn:aws:sts::" + compatAccount + ":assumed-role/Admin/carol-cached", AssumedRoleID: s.role.ID + ":carol-cached"}
	key := awscreds.RoleArgs{RoleARN: compatRole, SerialNumber: compatSerial}.CacheKey()
	if err := s.cache().Store(key, e); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := s.awsCLI(t, "sts", "get-caller-identity", "--profile", "mfa")
	if code != 0 {
		t.Fatalf("aws sts get-caller-identity --profile mfa: exit %d\n%s%s", code, out, stderr)
	}
	var got struct{ Arn string }
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Arn != e.AssumedRoleARN {
		t.Fatalf("aws CLI: caller %q (%v), want the cached session %s\n%s", got.Arn, err, e.AssumedRoleARN, stderr)
	}
	// jitssh: the same entry, no prompt (a prompt would fail: the code
	// given is not one)
	c, err := New(context.Background(), Options{Region: "us-east-1", Profile: "mfa", MFACode: "not-a-code"})
	if err != nil {
		t.Fatal(err)
	}
	caller, err := c.CallerIdentity(context.Background())
	if err != nil || caller.ARN != e.AssumedRoleARN {
		t.Fatalf("jitssh: caller %+v, %v; want the cached session", caller, err)
	}
}
