package sshconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIncludeBlockWithRealSSH installs the Include block in a config that
// has settings of its own, and checks with the real ssh -G that i-* hosts
// get jitssh's settings and other hosts keep the user's.
func TestIncludeBlockWithRealSSH(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("ssh not installed")
	}
	dir := t.TempDir()
	o := Options{JitsshPath: "/opt/jit ssh/jitssh", KeyDir: filepath.Join(dir, "keys"), KnownHostsFile: filepath.Join(dir, "known_hosts")}
	hosts, err := RenderHosts(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(hosts, BeginMarker) || strings.Contains(hosts, "Host *") {
		t.Fatalf("host section carries block lines:\n%s", hosts)
	}
	hostsFile := filepath.Join(dir, "jitssh ssh_config")
	if err := os.WriteFile(hostsFile, []byte(hosts), 0o600); err != nil {
		t.Fatal(err)
	}
	block, err := RenderInclude(hostsFile)
	if err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "config")
	if err := os.WriteFile(main, []byte("User alice\nConnectTimeout 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // idempotent
		if err := Install(main, block); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(main)
	if strings.Count(string(got), "\nInclude ") != 1 || !strings.HasSuffix(string(got), "User alice\nConnectTimeout 7\n") {
		t.Fatalf("config after install:\n%s", got)
	}
	g := func(host string) string {
		out, err := exec.Command("ssh", "-G", "-F", main, host).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh -G %s: %v\n%s", host, err, out)
		}
		return string(out)
	}
	inst := g("i-0123456789abcdef0")
	for _, want := range []string{"proxycommand '/opt/jit ssh/jitssh' proxy", "stricthostkeychecking true", "user alice", "connecttimeout 7"} {
		if !strings.Contains(inst, want) {
			t.Errorf("ssh -G i-0123456789abcdef0 lacks %q", want)
		}
	}
	other := g("example.com")
	if strings.Contains(other, "jitssh") || !strings.Contains(other, "user alice") || !strings.Contains(other, "connecttimeout 7") {
		t.Errorf("other hosts affected:\n%s", other)
	}
	if _, err := RenderInclude("relative/path"); err == nil {
		t.Error("relative include path accepted")
	}
}
