package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// hostKeyAt returns the host key the SSH server at addr presents.
func hostKeyAt(t *testing.T, addr string) (ssh.PublicKey, error) {
	t.Helper()
	var got ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User:            "nobody",
		Auth:            []ssh.AuthMethod{ssh.Password("x")},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error { got = k; return fmt.Errorf("seen") },
		Timeout:         5 * time.Second,
	}
	_, err := ssh.Dial("tcp", addr, cfg)
	if got == nil {
		return nil, err
	}
	return got, nil
}

// TestNetworkShape checks the built-in fleet's network as a client sees
// it: public instances answer SSH on loopback public IPs from one block,
// private ones have none, the stopped one has none; the env file names the
// port; the MITM knob swaps the host key on the public path only.
func TestNetworkShape(t *testing.T) {
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	byName := map[string]InstanceInfo{}
	for _, in := range sb.Instances {
		byName[in.Name] = in
	}
	if len(sb.Instances) != 8 || !byName["onprem-1"].Managed {
		t.Fatalf("%d instances, want the 7 of the built-in fleet and the managed onprem-1", len(sb.Instances))
	}
	var block netip.Prefix
	for _, name := range []string{"web-1", "web-2", "bastion-1"} {
		in := byName[name]
		ip, err := netip.ParseAddr(in.PublicIP)
		if err != nil || !ip.IsLoopback() || ip.As4()[1] < 100 {
			t.Fatalf("%s: public IP %q, want 127.X.Y.n with X >= 100", name, in.PublicIP)
		}
		p, _ := ip.Prefix(24)
		if block.IsValid() && p != block {
			t.Errorf("%s: public IP %s outside the sandbox's block %s", name, ip, block)
		}
		block = p
		if in.PublicAddr != netip.AddrPortFrom(ip, uint16(sb.SSHPort)).String() {
			t.Errorf("%s: public_addr %q, want %s:%d", name, in.PublicAddr, ip, sb.SSHPort)
		}
		w, _ := sb.World.Instance(in.ID)
		if w.PublicIP != in.PublicIP || w.PublicDNS != "ec2-"+strings.ReplaceAll(in.PublicIP, ".", "-")+".compute-1.amazonaws.com" {
			t.Errorf("%s: world has %s %s", name, w.PublicIP, w.PublicDNS)
		}
		k, err := hostKeyAt(t, in.PublicAddr)
		if err != nil || !bytes.Equal(k.Marshal(), sb.hosts[in.ID].HostKey().Marshal()) {
			t.Errorf("%s: SSH at %s: key %v, err %v; want the instance's host key", name, in.PublicAddr, k, err)
		}
	}
	if os.Geteuid() == 0 && sb.SSHPort != 22 {
		t.Errorf("as root the SSH port is %d, want 22", sb.SSHPort)
	}
	for _, name := range []string{"db-1", "app-1", "old-1"} {
		if in := byName[name]; in.PublicIP != "" || in.PublicAddr != "" {
			t.Errorf("%s: public %q %q, want none", name, in.PublicIP, in.PublicAddr)
		}
	}
	if w, _ := sb.World.Instance(byName["app-1"].ID); w.SSMOnline || w.SubnetID != "subnet-0a1b2c3d4e5f60002" {
		t.Errorf("app-1: %+v, want SSM offline in the private subnet", w)
	}
	if w, _ := sb.World.Instance(byName["old-1"].ID); w.State != "stopped" {
		t.Errorf("old-1: %+v", w)
	}
	if w, _ := sb.World.Instance(byName["bastion-1"].ID); !w.Bastion || byName["bastion-1"].SSHServer != "embedded" {
		t.Errorf("bastion-1: %+v", w)
	}

	env := filepath.Join(t.TempDir(), "env")
	if err := sb.WriteFiles(env); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(env)
	if want := fmt.Sprintf("export JITSSH_SANDBOX_SSH_PORT='%d'\n", sb.SSHPort); !strings.Contains(string(b), want) {
		t.Errorf("env file lacks %q:\n%s", want, b)
	}
	inst, _ := os.ReadFile(filepath.Join(sb.StateDir, "instances.json"))
	if !strings.Contains(string(inst), `"public_addr": "`+byName["web-1"].PublicAddr+`"`) {
		t.Errorf("instances.json lacks web-1's public_addr:\n%s", inst)
	}

	// MITM: over HTTP, then the Go method.
	web := byName["web-1"]
	put := func(path, body string) int {
		req, _ := http.NewRequest(http.MethodPut, sb.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+sb.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for path, body := range map[string]string{
		"/_sandbox/instances/" + web.ID + "/mitm":                 `{"enabled":"yes"}`,
		"/_sandbox/instances/" + byName["db-1"].ID + "/mitm":      `{"enabled":true}`,
		"/_sandbox/instances/i-0000000000000dead/mitm":            `{"enabled":true}`,
		"/_sandbox/instances/" + web.ID + "/mitm?":                `{}`,
		"/_sandbox/instances/" + web.ID + "/mitm?x=1":             `{"enabled":true,"x":1}`,
		"/_sandbox/instances/" + byName["web-2"].ID + "/teleport": `{"enabled":true}`,
	} {
		if code := put(strings.TrimSpace(path), body); code/100 != 4 {
			t.Errorf("PUT %s %s: %d, want a 4xx refusal", path, body, code)
		}
	}
	if k, _ := hostKeyAt(t, web.PublicAddr); !bytes.Equal(k.Marshal(), sb.hosts[web.ID].HostKey().Marshal()) {
		t.Fatal("a refused MITM request changed the host key")
	}
	if code := put("/_sandbox/instances/"+web.ID+"/mitm", `{"enabled":true}`); code != http.StatusNoContent {
		t.Fatalf("PUT mitm: %d", code)
	}
	k, err := hostKeyAt(t, web.PublicAddr)
	if err != nil || bytes.Equal(k.Marshal(), sb.hosts[web.ID].HostKey().Marshal()) {
		t.Errorf("under MITM the public address still shows the real host key (err %v)", err)
	}
	if k2, _ := hostKeyAt(t, byName["web-2"].PublicAddr); !bytes.Equal(k2.Marshal(), sb.hosts[byName["web-2"].ID].HostKey().Marshal()) {
		t.Error("MITM on web-1 changed web-2's key")
	}
	if k3, _ := hostKeyAt(t, web.SSHAddr); !bytes.Equal(k3.Marshal(), sb.hosts[web.ID].HostKey().Marshal()) {
		t.Error("MITM changed the key behind the back door (SSHAddr)")
	}
	if err := sb.SetMITM(web.ID, false); err != nil {
		t.Fatal(err)
	}
	if k, _ := hostKeyAt(t, web.PublicAddr); !bytes.Equal(k.Marshal(), sb.hosts[web.ID].HostKey().Marshal()) {
		t.Error("MITM off: public address still intercepted")
	}

	// Stopping an instance (the admin knob) closes its public address;
	// restarting opens it again at the same address.
	web2 := byName["web-2"]
	if code := put("/_sandbox/instances/"+web2.ID+"/state", `{"state":"stopped"}`); code/100 != 2 {
		t.Fatalf("stop web-2: %d", code)
	}
	if _, err := hostKeyAt(t, web2.PublicAddr); err == nil {
		t.Error("a stopped instance still answers SSH on its public address")
	}
	if _, err := sb.SetInstanceState(web2.ID, "running"); err != nil {
		t.Fatal(err)
	}
	if k, err := hostKeyAt(t, web2.PublicAddr); err != nil || !bytes.Equal(k.Marshal(), sb.hosts[web2.ID].HostKey().Marshal()) {
		t.Errorf("restarted web-2 does not answer on %s: %v", web2.PublicAddr, err)
	}
}
