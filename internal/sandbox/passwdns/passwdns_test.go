package passwdns

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivateAccounts: inside a DB's namespace getent sees the moved homes
// and the own accounts; the machine's files and view are unchanged.
func TestPrivateAccounts(t *testing.T) {
	if err := Usable(); err != nil {
		t.Skipf("needs root and mount namespaces: %v", err)
	}
	before, _ := os.ReadFile("/etc/passwd")
	dir := t.TempDir()
	db, err := New(dir, "", []Account{{Name: "pwnstest", UID: 234567, GID: 234567}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.MakeHome("pwnstest"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(db.Home("pwnstest")); err != nil || !fi.IsDir() {
		t.Fatalf("home: %v", err)
	}
	var out bytes.Buffer
	cmd := exec.Command("sh", "-c", "getent passwd root pwnstest | cut -d: -f1,3,6; getent shadow root | cut -d: -f2")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := db.Start(cmd.Start); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	want := "root:0:" + filepath.Join(dir, "homes", "root") + "\npwnstest:234567:" + filepath.Join(dir, "homes", "pwnstest") + "\n*\n"
	if out.String() != want {
		t.Errorf("inside:\n%s\nwant:\n%s", out.String(), want)
	}
	if after, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(before, after) {
		t.Error("the machine's /etc/passwd changed")
	}
	if got, _ := exec.Command("getent", "passwd", "pwnstest").Output(); len(got) != 0 {
		t.Errorf("the account is visible outside: %s", got)
	}
	if got, _ := exec.Command("getent", "passwd", "root").Output(); strings.Contains(string(got), dir) {
		t.Errorf("root's home moved outside: %s", got)
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := os.ReadFile("/etc/shadow"); err != nil {
		t.Skipf("needs to read /etc/shadow: %v", err)
	}
	for name, a := range map[string]Account{
		"existing name": {Name: "root", UID: 234568, GID: 234568},
		"uid 0":         {Name: "pwnsx", UID: 0, GID: 234568},
		"gid 0":         {Name: "pwnsx", UID: 234568, GID: 0},
		"bad name":      {Name: "Bad Name", UID: 234568, GID: 234568},
	} {
		if _, err := New(t.TempDir(), "", []Account{a}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
