package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/host/install"
)

// TestPackagePAMHook runs the maintainer scripts' PAM steps on a copy of
// a PAM file: postinstall adds exactly the lines `jitssh-host install`
// adds (once, however often it runs), preremove on removal takes them
// away again and leaves them on upgrade.
func TestPackagePAMHook(t *testing.T) {
	dir := t.TempDir()
	pam := filepath.Join(dir, "sshd")
	orig := "@include common-auth\nsession required pam_limits.so\n"
	os.WriteFile(pam, []byte(orig), 0o644)
	run := func(script string, args ...string) {
		t.Helper()
		b, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.NewReplacer("/etc/pam.d/sshd", pam, "/run/systemd/system", filepath.Join(dir, "no-systemd"),
			"/etc/nsswitch.conf", filepath.Join(dir, "nsswitch.conf")).Replace(string(b))
		cmd := exec.Command("sh", append([]string{"-c", text, "script"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	want, _ := install.DefaultLayout().WithPAMHook([]byte(orig))
	for range 2 {
		run("postinstall.sh", "configure")
		if b, _ := os.ReadFile(pam); string(b) != string(want) {
			t.Fatalf("after postinstall:\n%s\nwant (as jitssh-host install writes it):\n%s", b, want)
		}
	}
	run("preremove.sh", "upgrade")
	if b, _ := os.ReadFile(pam); string(b) != string(want) {
		t.Fatalf("preremove on upgrade changed the PAM file:\n%s", b)
	}
	run("preremove.sh", "remove")
	if b, _ := os.ReadFile(pam); string(b) != orig {
		t.Fatalf("after preremove:\n%q\nwant %q", b, orig)
	}
}
