package cli

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/openssh/sshconfig"
)

func TestSSHUserOption(t *testing.T) {
	for _, c := range []struct {
		args []string
		val  string
		ok   bool
	}{
		{nil, "", false},
		{[]string{"uptime"}, "", false},
		{[]string{"-o", "ServerAliveInterval=0"}, "0", true},
		{[]string{"-oServerAliveInterval=0", "uptime"}, "0", true},
		{[]string{"-o", "serveraliveinterval 15"}, "15", true},
		{[]string{"-o", "ServerAliveInterval = 7"}, "7", true},
		{[]string{"-vo", "ServerAliveInterval=3"}, "3", true},
		{[]string{"-L", "8080:localhost:80", "-N", "-o", "ServerAliveInterval=0"}, "0", true},
		{[]string{"-p", "-o", "-o", "ServerAliveInterval=1"}, "1", true}, // -p's argument is "-o"
		{[]string{"-o", "ServerAliveCountMax=3"}, "", false},
		{[]string{"sort", "-o", "ServerAliveInterval=0"}, "", false}, // the remote command's
		{[]string{"--", "-o", "ServerAliveInterval=0"}, "", false},
		{[]string{"-o"}, "", false},
		{[]string{"-o", "=0"}, "", false},
	} {
		val, ok := sshUserOption(c.args, "ServerAliveInterval")
		if val != c.val || ok != c.ok {
			t.Errorf("sshUserOption(%q) = %q, %v; want %q, %v", c.args, val, ok, c.val, c.ok)
		}
	}
}

func FuzzSSHUserOption(f *testing.F) {
	f.Add("-o\x00ServerAliveInterval=0\x00uptime")
	f.Add("-vo\x00serveraliveinterval 5")
	f.Add("-L\x008080:x:80\x00-oServerAliveInterval=1")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		val, ok := sshUserOption(args, "ServerAliveInterval")
		if !ok && val != "" {
			t.Fatalf("no option but value %q", val)
		}
		if ok && !strings.Contains(strings.ToLower(joined), "serveraliveinterval") {
			t.Fatalf("found %q in %q", val, args)
		}
	})
}

// TestSSHCommandLineUserServerAliveWins asks the real ssh (-G: print the
// effective configuration, connect nowhere) what ServerAliveInterval
// `jitssh ssh`'s command line gives it: jitssh's 30 seconds unless the
// user's own -o after `--` says otherwise; ssh takes an option's first
// value, so jitssh must not put its own before the user's.
func TestSSHCommandLineUserServerAliveWins(t *testing.T) {
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("OpenSSH client not installed")
	}
	dir := t.TempDir()
	o := sshconfig.Options{JitsshPath: filepath.Join(dir, "jitssh"), KeyDir: filepath.Join(dir, "keys"),
		KnownHostsFile: filepath.Join(dir, "known_hosts"), HostKeyAlias: "i-0123456789abcdef0"}
	re := regexp.MustCompile(`(?m)^serveraliveinterval (\d+)$`)
	for _, c := range []struct {
		user []string
		want string
	}{
		{nil, "30"},
		{[]string{"-o", "ServerAliveInterval=0"}, "0"},
		{[]string{"-N", "-oserveraliveinterval 5"}, "5"},
		{[]string{"-o", "ServerAliveInterval=0", "uptime"}, "0"},
	} {
		args, err := sshCommandLine(o, "ec2-user", "i-0123456789abcdef0", c.user)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(ssh, append([]string{"-G", "-F", "none"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ssh -G %q: %v\n%s", args, err, out)
		}
		m := re.FindSubmatch(out)
		if m == nil || string(m[1]) != c.want {
			t.Errorf("user arguments %q: ssh -G says ServerAliveInterval %q, want %s\nargs %q", c.user, m, c.want, args)
		}
	}
}
