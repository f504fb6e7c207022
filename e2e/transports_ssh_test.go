package e2e

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

func infoByName(t *testing.T, sb *sandbox.Sandbox, name string) sandbox.InstanceInfo {
	t.Helper()
	for _, in := range sb.Instances {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("no instance %s in the sandbox", name)
	return sandbox.InstanceInfo{}
}

// portArgs are the ssh arguments that reach the sandbox's public SSH port
// (22 as root, as in CI; a shared free port otherwise).
func portArgs(sb *sandbox.Sandbox) []string {
	if sb.SSHPort == 22 {
		return nil
	}
	return []string{"-p", strconv.Itoa(sb.SSHPort)}
}

// TestSSHOverEachTransport runs the real ssh, with jitssh as its
// ProxyCommand, over each transport.
func TestSSHOverEachTransport(t *testing.T) {
	e := newEnv(t, bestMode(t))
	web1, web2, db1, app1 := infoByName(t, e.sb, "web-1"), infoByName(t, e.sb, "web-2"), infoByName(t, e.sb, "db-1"), infoByName(t, e.sb, "app-1")
	pins := filepath.Join(e.home, ".config", "jitssh", "known_hosts")
	hostname := func(t *testing.T, want string, args ...string) {
		t.Helper()
		out, err := e.run("jitssh", append([]string{"ssh"}, args...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Fatalf("hostname = %q, want %q", got, want)
		}
	}
	t.Run("ssm", func(t *testing.T) { hostname(t, web1.Hostname, "--transport", "ssm", "web-1", "--", "hostname") })
	t.Run("direct", func(t *testing.T) {
		// Pinned over SSM above; direct is checked against the pin.
		hostname(t, web1.Hostname, append([]string{"--transport", "direct", "web-1", "--"}, append(portArgs(e.sb), "hostname")...)...)
		if e.sb.SSHPort == 22 {
			// No pin yet for web-2: learned over SSM first, never over direct.
			hostname(t, web2.Hostname, "--transport", "direct", "web-2", "--", "hostname")
			if p, _ := os.ReadFile(pins); !bytes.Contains(p, []byte(web2.ID+" ")) {
				t.Fatalf("no pin for %s after a direct connection", web2.ID)
			}
		}
	})
	t.Run("eice", func(t *testing.T) { hostname(t, web1.Hostname, "--transport", "eice", "web-1", "--", "hostname") })
	t.Run("bastion", func(t *testing.T) { hostname(t, db1.Hostname, "--via", "bastion-1", "db-1", "--", "hostname") })
	// app-1's SSM agent is offline: auto goes through the VPC's EICE.
	t.Run("auto", func(t *testing.T) { hostname(t, app1.Hostname, "app-1", "--", "hostname") })
	// Through the bastion, app-1's pin is learned over EICE (never over the bastion).
	t.Run("bastion-no-ssm", func(t *testing.T) {
		if _, err := e.run("jitssh", "known-hosts", "forget", app1.ID); err != nil {
			t.Fatal(err)
		}
		hostname(t, app1.Hostname, "--via", "bastion-1", "app-1", "--", "hostname")
	})
}

// TestDirectRefusesManInTheMiddle: with a pin learned over SSM, a direct
// connection answered by an impostor (the sandbox's MITM knob) is refused
// by ssh with jitssh's explanation, and the pin stays as it was.
func TestDirectRefusesManInTheMiddle(t *testing.T) {
	e := newEnv(t, bestMode(t))
	web1 := infoByName(t, e.sb, "web-1")
	if out, err := e.run("jitssh", "ssh", "--transport", "ssm", "web-1", "--", "true"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pins := filepath.Join(e.home, ".config", "jitssh", "known_hosts")
	before, err := os.ReadFile(pins)
	if err != nil || !bytes.Contains(before, []byte(web1.ID+" ")) {
		t.Fatalf("no pin for %s: %v", web1.ID, err)
	}
	req, _ := http.NewRequest(http.MethodPut, e.sb.URL+"/_sandbox/instances/"+web1.ID+"/mitm", strings.NewReader(`{"enabled":true}`))
	req.Header.Set("Authorization", "Bearer "+e.sb.AdminToken)
	resp, err := sandboxenv.HTTPClient(t, e.sb).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT mitm: %s", resp.Status)
	}
	out, err := e.run("jitssh", append([]string{"ssh", "--transport", "direct", "web-1", "--"}, append(portArgs(e.sb), "echo", "pwned")...)...)
	if err == nil || bytes.Contains(out, []byte("pwned")) {
		t.Fatalf("ssh through the impostor succeeded:\n%s", out)
	}
	for _, want := range []string{"host key for " + web1.ID + " has changed", "intercepting", "jitssh known-hosts forget " + web1.ID} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if after, _ := os.ReadFile(pins); !bytes.Equal(after, before) {
		t.Fatalf("the pin file changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The SSM path still reaches the real instance.
	if out, err := e.run("jitssh", "ssh", "--transport", "ssm", "web-1", "--", "true"); err != nil {
		t.Fatalf("ssm during the MITM: %v\n%s", err, out)
	}
}

// TestDirectWithoutTrustedChannelRefuses: an instance with a public IP,
// its SSM agent offline and no EICE endpoint in its VPC has no
// AWS-authenticated path to learn its host key from; direct refuses
// (never trusting a key first seen over the network) and says how to pin it.
func TestDirectWithoutTrustedChannelRefuses(t *testing.T) {
	f := config.Builtin()
	f.Endpoints = nil
	for i := range f.Instances {
		if f.Instances[i].Name == "web-1" {
			f.Instances[i].SSM = "offline"
		}
	}
	acct, err := f.Resolve(currentUser(t))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, sshd.Embedded, func(c *sandbox.Config) { c.Account = acct })
	web1 := infoByName(t, e.sb, "web-1")
	_, stderr, err := e.run3(nil, "jitssh", append([]string{"ssh", "--transport", "direct", "web-1", "--"}, append(portArgs(e.sb), "true")...)...)
	if err == nil {
		t.Fatal("direct connected without a pin")
	}
	for _, want := range []string{"no pinned host key for " + web1.ID, "never trusts a host key first seen over a direct", "known_hosts"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// auto says the same: direct is its only choice.
	if _, stderr, err := e.run3(nil, "jitssh", "ssh", "web-1", "--", "true"); err == nil || !strings.Contains(stderr, "no pinned host key") {
		t.Errorf("auto: %v\n%s", err, stderr)
	}
	if p, _ := os.ReadFile(filepath.Join(e.home, ".config", "jitssh", "known_hosts")); bytes.Contains(p, []byte(web1.ID)) {
		t.Fatalf("a pin was written:\n%s", p)
	}
}
