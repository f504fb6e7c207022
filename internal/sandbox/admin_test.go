package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestAdminEndpoints changes latency, throttling, an instance's state and
// its agent over HTTP, reads them back, and refuses nonsense without
// changing anything.
func TestAdminEndpoints(t *testing.T) {
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir(),
		Latency: map[string]string{"sts:*": "1ms"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, sb.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+sb.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("GET", "/_sandbox/latency", ""); code != 200 || strings.TrimSpace(body) != `{"sts:*":"1ms"}` {
		t.Fatalf("latency from the start configuration: %d %s", code, body)
	}
	if code, body := do("PUT", "/_sandbox/latency", `{"ec2:DescribeInstances":"200ms"}`); code != 200 || !strings.Contains(body, `"ec2:DescribeInstances":"200ms"`) || strings.Contains(body, "sts") {
		t.Fatalf("PUT latency: %d %s", code, body)
	}
	if code, body := do("PUT", "/_sandbox/throttle", `{"ssm:StartSession":"25%"}`); code != 200 || !strings.Contains(body, `"ssm:StartSession":"25%"`) {
		t.Fatalf("PUT throttle: %d %s", code, body)
	}
	if code, body := do("PUT", "/_sandbox/fail", `{"ssm:DescribeInstanceInformation":"next:2"}`); code != 200 || !strings.Contains(body, `"ssm:DescribeInstanceInformation":"next:2"`) {
		t.Fatalf("PUT fail: %d %s", code, body)
	}
	if code, body := do("GET", "/_sandbox/fail", ""); code != 200 || !strings.Contains(body, `"ssm:DescribeInstanceInformation":"next:2"`) {
		t.Fatalf("GET fail: %d %s", code, body)
	}
	for _, bad := range []struct{ path, body, want string }{
		{"/_sandbox/fail", `{"ssm:*":"often"}`, "fail"},
		{"/_sandbox/latency", `{"ec2:DescribeInstances":"soon"}`, "latency"},
		{"/_sandbox/latency", `["x"]`, "bad request body"},
		{"/_sandbox/throttle", `{"s3:*":"10%"}`, "unknown service"},
		{"/_sandbox/instances/i-0a1b2c3d4e5f00002/state", `{"state":"exploded"}`, "want running or stopped"},
		{"/_sandbox/instances/i-0a1b2c3d4e5f00002/state", `{"stat":"stopped"}`, "unknown field"},
		{"/_sandbox/instances/i-0a1b2c3d4e5f00009/state", `{"state":"stopped"}`, "no instance"},
		{"/_sandbox/instances/mi-0a1b2c3d4e5f00001/state", `{"state":"stopped"}`, "managed instance"},
		{"/_sandbox/instances/i-0a1b2c3d4e5f00002/agent", `{}`, "online"},
	} {
		if code, body := do("PUT", bad.path, bad.body); code != 400 || !strings.Contains(body, bad.want) {
			t.Errorf("PUT %s %s: %d %s, want 400 mentioning %q", bad.path, bad.body, code, body, bad.want)
		}
	}
	if code, body := do("GET", "/_sandbox/latency", ""); code != 200 || !strings.Contains(body, "200ms") {
		t.Errorf("a refused PUT changed the latency: %s", body)
	}
	if code, body := do("PUT", "/_sandbox/instances/i-0a1b2c3d4e5f00002/state", `{"state":"stopped"}`); code != 200 || !strings.Contains(body, `"state":"stopped"`) {
		t.Fatalf("stop: %d %s", code, body)
	}
	if code, body := do("PUT", "/_sandbox/instances/mi-0a1b2c3d4e5f00001/agent", `{"online":false}`); code != 200 || !strings.Contains(body, `"agent":"offline"`) {
		t.Fatalf("agent offline: %d %s", code, body)
	}
	code, body := do("GET", "/_sandbox/instances", "")
	var states []InstanceState
	if err := json.Unmarshal([]byte(body), &states); code != 200 || err != nil {
		t.Fatalf("GET instances: %d %s %v", code, body, err)
	}
	got := map[string]InstanceState{}
	for _, s := range states {
		got[s.ID] = s
	}
	if s := got["i-0a1b2c3d4e5f00002"]; s.State != "stopped" || s.Agent != "online" {
		t.Errorf("web-2 %+v", s)
	}
	if s := got["mi-0a1b2c3d4e5f00001"]; !s.Managed || s.Agent != "offline" || s.State != "running" || s.Name != "onprem-1" {
		t.Errorf("onprem-1 %+v", s)
	}
	if in, _ := sb.World.Instance("i-0a1b2c3d4e5f00002"); in.State != "stopped" {
		t.Errorf("world says %s", in.State)
	}
}

// TestAdminEndpointsNeedTheSecret: every /_sandbox/ endpoint of a real
// sandbox refuses a request without the env file's secret, or with
// another, and changes nothing.
func TestAdminEndpointsNeedTheSecret(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "env")
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if err := sb.WriteFiles(envFile); err != nil {
		t.Fatal(err)
	}
	env, _ := os.ReadFile(envFile)
	if len(sb.AdminToken) < 20 || !strings.Contains(string(env), "export "+EnvAdminToken+"='"+sb.AdminToken+"'") {
		t.Fatalf("env file does not carry the admin secret (%d chars):\n%s", len(sb.AdminToken), env)
	}
	web := sb.Instances[0].ID
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/_sandbox/faults", `{"drop":1}`},
		{"GET", "/_sandbox/faults", ""},
		{"GET", "/_sandbox/datachannel", ""},
		{"PUT", "/_sandbox/latency", `{"*":"10s"}`},
		{"PUT", "/_sandbox/throttle", `{"*":"100%"}`},
		{"GET", "/_sandbox/instances", ""},
		{"PUT", "/_sandbox/instances/" + web + "/state", `{"state":"stopped"}`},
		{"PUT", "/_sandbox/instances/" + web + "/agent", `{"online":false}`},
		{"PUT", "/_sandbox/instances/" + web + "/mitm", `{"enabled":true}`},
	} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + sb.AdminToken + "x", sb.AdminToken} {
			req, _ := http.NewRequest(c.method, sb.URL+c.path, strings.NewReader(c.body))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), EnvAdminToken) {
				t.Errorf("%s %s with Authorization %q: %d %s", c.method, c.path, auth, resp.StatusCode, b)
			}
		}
	}
	for _, in := range sb.InstanceStates() {
		if in.ID == web && (in.State != "running" || in.Agent != "online") {
			t.Errorf("an unauthenticated request changed %s: %+v", web, in)
		}
	}
	if rules := sb.knobs.Latency(); len(rules) != 0 {
		t.Errorf("latency rules changed: %v", rules)
	}
}

// TestStartRefusesNonLoopback: the sandbox listens only on loopback
// unless told otherwise.
func TestStartRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0"} {
		sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir(), Addr: addr})
		if err == nil {
			sb.Close()
			t.Errorf("Start with Addr %q succeeded", addr)
		} else if nl := (*NonLoopbackError)(nil); !errors.As(err, &nl) || nl.Addr != addr || strings.Contains(err.Error(), "--") {
			// The library names no flag: jitssh-sandbox adds its advice.
			t.Errorf("Start with Addr %q: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		if err := CheckLoopback(addr); err != nil {
			t.Errorf("CheckLoopback(%q): %v", addr, err)
		}
	}
}

// TestStartWithoutHostBinary: OpenSSH mode without a jitssh-host is
// ErrNoHostBinary, which names no flag of jitssh-sandbox.
func TestStartWithoutHostBinary(t *testing.T) {
	old := execLookPath
	execLookPath = func(string) (string, error) { return "", exec.ErrNotFound }
	defer func() { execLookPath = old }()
	sb, err := Start(context.Background(), Config{SSHMode: sshd.OpenSSH, StateDir: t.TempDir()})
	if err == nil {
		sb.Close()
		t.Fatal("Start in OpenSSH mode without jitssh-host succeeded")
	}
	if !errors.Is(err, ErrNoHostBinary) || strings.Contains(err.Error(), "--") {
		t.Errorf("Start in OpenSSH mode without jitssh-host: %v", err)
	}
}
