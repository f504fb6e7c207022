package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
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
	for _, bad := range []struct{ path, body, want string }{
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
