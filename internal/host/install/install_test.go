package install_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/install"
)

func TestInstallUninstall(t *testing.T) {
	t.Parallel()
	l := install.DefaultLayout()
	l.Root = t.TempDir()
	l.PAM = "" // TestPAMHook
	did, err := install.Install(l, install.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(did) != 3 || !strings.HasPrefix(did[0], "wrote ") {
		t.Errorf("first install: %q", did)
	}
	// The configuration written parses, and is a valid default.
	b, err := os.ReadFile(filepath.Join(l.Root, l.Config))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hostconfig.Parse(b); err != nil {
		t.Errorf("installed host.toml does not parse: %v", err)
	}
	// Its [cloudwatch] example, uncommented, is valid too.
	_, example, _ := strings.Cut(string(b), "# [cloudwatch]")
	var on strings.Builder
	on.WriteString("[cloudwatch]\n")
	for _, line := range strings.Split(example, "\n") {
		on.WriteString(strings.TrimPrefix(line, "# ") + "\n")
	}
	if c, err := hostconfig.Parse([]byte(on.String())); err != nil || c.CloudWatch.LogGroup != "/jitssh/instances" {
		t.Errorf("the [cloudwatch] example uncommented: %+v, %v\n%s", c.CloudWatch, err, on.String())
	}
	// Idempotent; the administrator's config is kept.
	os.WriteFile(filepath.Join(l.Root, l.Config), []byte("timeout = \"2s\"\n"), 0o644)
	did, err = install.Install(l, install.Options{})
	if err != nil || strings.Join(did, "|") != "unchanged "+l.DropIn+"|unchanged "+filepath.Join(l.UnitDir, install.UnitName)+"|kept "+l.Config {
		t.Errorf("second install: %q, %v", did, err)
	}
	// A foreign drop-in is never replaced.
	other := install.DefaultLayout()
	other.Root = t.TempDir()
	os.MkdirAll(filepath.Join(other.Root, filepath.Dir(other.DropIn)), 0o755)
	os.WriteFile(filepath.Join(other.Root, other.DropIn), []byte("AuthorizedKeysCommand /bin/other\n"), 0o644)
	if _, err := install.Install(other, install.Options{}); err == nil || !strings.Contains(err.Error(), "not written by jitssh-host") {
		t.Errorf("install over a foreign file: %v", err)
	}
	did, err = install.Uninstall(l, install.Options{})
	if err != nil || len(did) != 2 {
		t.Errorf("uninstall: %q, %v", did, err)
	}
	for _, p := range []string{l.DropIn, filepath.Join(l.UnitDir, install.UnitName)} {
		if _, err := os.Stat(filepath.Join(l.Root, p)); err == nil {
			t.Errorf("%s still there", p)
		}
	}
	if _, err := os.Stat(filepath.Join(l.Root, l.Config)); err != nil {
		t.Errorf("uninstall removed the configuration: %v", err)
	}
}

// TestPAMHook checks the session hook line install adds to sshd's PAM
// service and uninstall removes, leaving the rest of the file as it was.
func TestPAMHook(t *testing.T) {
	t.Parallel()
	l := install.DefaultLayout()
	l.Root = t.TempDir()
	pam := filepath.Join(l.Root, l.PAM)
	os.MkdirAll(filepath.Dir(pam), 0o755)
	orig := "@include common-auth\nsession required pam_limits.so # [1]"
	os.WriteFile(pam, []byte(orig), 0o640)
	did, err := install.Install(l, install.Options{})
	if err != nil || did[len(did)-1] != "added the session hook to /etc/pam.d/sshd" {
		t.Fatalf("install: %q, %v", did, err)
	}
	b, _ := os.ReadFile(pam)
	want := orig + "\n# managed by jitssh-host install: session-opened/closed audit events (docs/instance.md)\nsession optional pam_exec.so quiet /usr/bin/jitssh-host session-event\n"
	if string(b) != want {
		t.Errorf("PAM file:\n%s\nwant:\n%s", b, want)
	}
	if st, _ := os.Stat(pam); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", st.Mode())
	}
	if did, _ := install.Install(l, install.Options{}); did[len(did)-1] != "unchanged /etc/pam.d/sshd" {
		t.Errorf("second install: %q", did)
	}
	if did, err := install.Uninstall(l, install.Options{}); err != nil || did[len(did)-1] != "removed the session hook from /etc/pam.d/sshd" {
		t.Errorf("uninstall: %q, %v", did, err)
	}
	if b, _ := os.ReadFile(pam); string(b) != orig+"\n" {
		t.Errorf("after uninstall:\n%q\nwant %q", b, orig+"\n")
	}
	l.Config = "/etc/other.toml"
	if got := l.PAMSessionLine(); got != "session optional pam_exec.so quiet /usr/bin/jitssh-host session-event --config /etc/other.toml" {
		t.Errorf("PAMSessionLine = %q", got)
	}
}

// TestDropInAcceptedBySSHD has the real sshd check the drop-in.
func TestDropInAcceptedBySSHD(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("JITSSH_REQUIRE_SSHD") == "1" {
			t.Fatal("JITSSH_REQUIRE_SSHD=1 but no sshd or not root")
		}
		t.Skip("needs sshd and root")
	}
	dir := t.TempDir()
	l := install.DefaultLayout()
	l.Root = dir
	if _, err := install.Install(l, install.Options{}); err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(dir, "hostkey")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfg, []byte("Include "+filepath.Join(dir, l.DropIn)+"\nHostKey "+hostKey+"\n"), 0o600)
	// sshd checks that the AuthorizedKeysCommand exists only at login.
	out, err := exec.Command("/usr/sbin/sshd", "-T", "-f", cfg, "-C", "user=alice,host=h,addr=127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("sshd -T: %v\n%s", err, out)
	}
	for _, want := range []string{"authorizedkeyscommand /usr/bin/jitssh-authkeys -- %u %f", "authorizedkeyscommanduser root", "usepam yes"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("sshd -T lacks %q", want)
		}
	}
}

func TestCheckNSS(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "lib/x86_64-linux-gnu"), 0o755)
	os.WriteFile(filepath.Join(root, "lib/x86_64-linux-gnu/libnss_systemd.so.2"), nil, 0o644)
	write := func(s string) { os.WriteFile(filepath.Join(root, "etc/nsswitch.conf"), []byte(s), 0o644) }

	write("passwd: files systemd\ngroup:  files systemd # comment\nshadow: files\n")
	if p := install.CheckNSS(root); len(p) != 0 {
		t.Errorf("good file: %v", p)
	}
	write("passwd: files\ngroup: files # systemd\n")
	p := install.CheckNSS(root)
	if len(p) != 2 || !strings.Contains(p[0].Fix, "sed -i") {
		t.Fatalf("problems = %v", p)
	}
	// The fix is exact: running it makes the check pass, twice is harmless.
	for i := 0; i < 2; i++ {
		for _, pr := range p {
			fix := strings.ReplaceAll(pr.Fix, "/etc/nsswitch.conf", filepath.Join(root, "etc/nsswitch.conf"))
			if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
				t.Fatalf("fix %q: %v\n%s", fix, err, out)
			}
		}
	}
	if p := install.CheckNSS(root); len(p) != 0 {
		b, _ := os.ReadFile(filepath.Join(root, "etc/nsswitch.conf"))
		t.Errorf("after the fix: %v\n%s", p, b)
	}
	os.Remove(filepath.Join(root, "lib/x86_64-linux-gnu/libnss_systemd.so.2"))
	if p := install.CheckNSS(root); len(p) != 1 || !strings.Contains(p[0].Fix, "libnss-systemd") {
		t.Errorf("missing module: %v", p)
	}
}

func TestUserData(t *testing.T) {
	t.Parallel()
	l := install.DefaultLayout()
	ud, err := install.UserData(l, "https://example.com/jitssh-host_1.0_amd64.deb", "[jit]\nexpire_after = \"720h\"\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#cloud-config\n", "  - path: /etc/jitssh/host.toml\n", "      expire_after = \"720h\"\n", "curl -fsSL -o $f https://example.com/jitssh-host_1.0_amd64.deb", "  - [/usr/bin/jitssh-host, install]\n"} {
		if !strings.Contains(ud, want) {
			t.Errorf("user data lacks %q:\n%s", want, ud)
		}
	}
	if _, err := install.UserData(l, "http://x/'; rm -rf /", ""); err == nil {
		t.Error("quoted URL accepted")
	}
}

// jitssh-authkeys-c is sshd's command only when it and jitssh-authkeys (its
// fallback) are both installed, executable, in the same directory.
func TestWithCClient(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	l := install.DefaultLayout()
	l.Root = root
	bin := filepath.Join(root, "usr/bin")
	os.MkdirAll(bin, 0o755)
	if got := l.WithCClient().AuthorizedKeysCommand(); got != "/usr/bin/jitssh-authkeys -- %u %f" {
		t.Errorf("nothing installed: %q", got)
	}
	os.WriteFile(filepath.Join(bin, install.CClient), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(bin, "jitssh-authkeys"), []byte("x"), 0o755)
	if got := l.WithCClient().AuthKeysBin; got != "/usr/bin/jitssh-authkeys" {
		t.Errorf("C client not executable: %q", got)
	}
	os.Chmod(filepath.Join(bin, install.CClient), 0o755)
	if got := l.WithCClient().AuthorizedKeysCommand(); got != "/usr/bin/jitssh-authkeys-c -- %u %f" {
		t.Errorf("both installed: %q", got)
	}
	os.Remove(filepath.Join(bin, "jitssh-authkeys"))
	if got := l.WithCClient().AuthKeysBin; got != "/usr/bin/jitssh-authkeys" {
		t.Errorf("C client without its fallback jitssh-authkeys: %q", got)
	}
	os.WriteFile(filepath.Join(bin, "jitssh-authkeys"), []byte("x"), 0o755)
	l.Bin = "/opt/jitssh/jitssh-host"
	if got := l.WithCClient().AuthorizedKeysCommand(); got != "/usr/bin/jitssh-authkeys-c --fallback /opt/jitssh/jitssh-host -- %u %f" {
		t.Errorf("jitssh-host elsewhere: %q", got)
	}
	l.AuthKeysBin = "/usr/local/bin/my-authkeys"
	if got := l.WithCClient().AuthKeysBin; got != "/usr/local/bin/my-authkeys" {
		t.Errorf("custom --authkeys-bin replaced: %q", got)
	}
}
