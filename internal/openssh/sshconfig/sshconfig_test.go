package sshconfig

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	got, err := Render(Options{
		JitsshPath:     "/usr/local/bin/jitssh",
		KeyDir:         "/home/ana/.ssh/jitssh/keys/",
		KnownHostsFile: "/home/ana/.ssh/jitssh/known_hosts",
		ExtraHosts:     []string{"*.jitssh"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# BEGIN jitssh (managed by ` + "`jitssh config install`" + `; edits between these markers are replaced)
Match originalhost "i-*,mi-*,*.jitssh,!*'*" !host "*'*" !user "*'*"
    ProxyCommand '/usr/local/bin/jitssh' proxy '%r' '%h' %p
    IdentityFile "/home/ana/.ssh/jitssh/keys/%r@%h"
    IdentitiesOnly yes
    UserKnownHostsFile "/home/ana/.ssh/jitssh/known_hosts"
    KnownHostsCommand "/usr/local/bin/jitssh" known-hosts lookup --reason=%I --key-type=%t --key=%K %H
    StrictHostKeyChecking yes
    UpdateHostKeys no
    ServerAliveInterval 30
# Back to all hosts, so that the lines after this block mean what they meant before it.
Host *
# END jitssh
`
	if got != want {
		t.Errorf("Render() =\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(strings.ToLower(got), "stricthostkeychecking no") {
		t.Error("block disables host key checking")
	}
}

func TestRenderRejects(t *testing.T) {
	good := Options{JitsshPath: "/bin/jitssh", KeyDir: "/k", KnownHostsFile: "/kh"}
	tests := []struct {
		name   string
		change func(*Options)
	}{
		{"relative jitssh", func(o *Options) { o.JitsshPath = "jitssh" }},
		{"missing key dir", func(o *Options) { o.KeyDir = "" }},
		{"newline in path", func(o *Options) { o.KnownHostsFile = "/a\nProxyCommand evil" }},
		{"env reference in path", func(o *Options) { o.KeyDir = "/home/${USER}/keys" }},
		{"pattern with space", func(o *Options) { o.ExtraHosts = []string{"a b"} }},
		{"pattern with comment", func(o *Options) { o.ExtraHosts = []string{"#x"} }},
		{"pattern with comma", func(o *Options) { o.ExtraHosts = []string{"a,b"} }},
		{"host key alias in a Host block", func(o *Options) { o.HostKeyAlias = "i-1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.change(&o)
			if out, err := Render(o); err == nil {
				t.Errorf("Render accepted it:\n%s", out)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		in, path, shell string
	}{
		{"/usr/bin/jitssh", `"/usr/bin/jitssh"`, `'/usr/bin/jitssh'`},
		{"/Users/Ana Lee/bin/jitssh", `"/Users/Ana Lee/bin/jitssh"`, `'/Users/Ana Lee/bin/jitssh'`},
		{"/a/100%/x", `"/a/100%%/x"`, `'/a/100%%/x'`},
		{`/it's "here"\x`, `"/it's \"here\"\\x"`, `'/it'\''s "here"\x'`},
		{"/cost/$HOME", `"/cost/$HOME"`, `'/cost/$HOME'`},
	}
	for _, tt := range tests {
		p, err := QuotePath(tt.in)
		if err != nil || p != tt.path {
			t.Errorf("QuotePath(%q) = %q, %v; want %q", tt.in, p, err, tt.path)
		}
		s, err := QuoteShell(tt.in)
		if err != nil || s != tt.shell {
			t.Errorf("QuoteShell(%q) = %q, %v; want %q", tt.in, s, err, tt.shell)
		}
	}
}

// weirdOptions returns options whose paths exercise every quoting rule.
func weirdOptions(t *testing.T) (Options, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), `we ird'%"dir`)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return Options{
		JitsshPath:     filepath.Join(dir, "jit ssh"),
		KeyDir:         filepath.Join(dir, "keys"),
		KnownHostsFile: filepath.Join(dir, "known hosts"),
	}, dir
}

func sshG(t *testing.T, args ...string) map[string]string {
	t.Helper()
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("OpenSSH client (ssh) not installed; it is needed to check what ssh makes of the config")
	}
	cmd := exec.Command(sshPath, append([]string{"-G"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh -G %s: %v", strings.Join(args, " "), err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, " ")
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	return m
}

// TestRealSSHParsesBlock checks with the real ssh that the rendered block,
// inserted above existing user settings, is read as intended.
func TestRealSSHParsesBlock(t *testing.T) {
	o, dir := weirdOptions(t)
	block, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("User bob\nConnectTimeout 7\n\nHost other\n    Port 2222\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Install(cfg, block); err != nil {
		t.Fatal(err)
	}

	got := sshG(t, "-F", cfg, "i-0123456789abcdef0")
	wantProxy, _ := QuoteShell(o.JitsshPath)
	want := map[string]string{
		"proxycommand":          wantProxy + " proxy '%r' '%h' %p",
		"identityfile":          strings.ReplaceAll(o.KeyDir, "%", "%%") + "/%r@%h",
		"userknownhostsfile":    o.KnownHostsFile,
		"stricthostkeychecking": "true",
		"identitiesonly":        "yes",
		"updatehostkeys":        "false",
		"serveraliveinterval":   "30",
		// The user's global settings still apply below the block.
		"user":           "bob",
		"connecttimeout": "7",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ssh -G i-0123456789abcdef0: %s = %q, want %q", k, got[k], v)
		}
	}

	other := sshG(t, "-F", cfg, "other")
	if _, ok := other["proxycommand"]; ok {
		t.Errorf("host \"other\" got a proxycommand: %q", other["proxycommand"])
	}
	if other["user"] != "bob" || other["port"] != "2222" || other["connecttimeout"] != "7" {
		t.Errorf("host \"other\" lost its settings: user=%q port=%q connecttimeout=%q", other["user"], other["port"], other["connecttimeout"])
	}
	mi := sshG(t, "-F", cfg, "mi-0123456789abcdef0")
	if mi["proxycommand"] != want["proxycommand"] {
		t.Errorf("mi- host: proxycommand = %q", mi["proxycommand"])
	}
}

// TestRealSSHRunsProxyCommand runs ssh for real with the rendered block and
// a stand-in jitssh that records its arguments: the quoting must survive
// both ssh's % expansion and /bin/sh.
func TestRealSSHRunsProxyCommand(t *testing.T) {
	o, dir := weirdOptions(t)
	record := filepath.Join(dir, "args")
	script := "#!/bin/sh\nprintf '%s|' \"$@\" > '" + strings.ReplaceAll(record, "'", `'\''`) + "'\nexit 1\n"
	if err := os.WriteFile(o.JitsshPath, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	block, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	if err := Install(cfg, block); err != nil {
		t.Fatal(err)
	}
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("OpenSSH client (ssh) not installed")
	}
	runSSH := func(args ...string) {
		cmd := exec.Command(sshPath, args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		cmd.Stdin = nil
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("ssh succeeded against a proxy that exits at once:\n%s", out)
		}
	}
	runSSH("-F", cfg, "-o", "BatchMode=yes", "deploy@i-0123456789abcdef0", "true")
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("the proxy command did not run: %v", err)
	}
	if want := "proxy|deploy|i-0123456789abcdef0|22|"; string(got) != want {
		t.Errorf("proxy got arguments %q, want %q", got, want)
	}

	// The same through Args, with no config file at all.
	os.Remove(record)
	args, err := Args(o)
	if err != nil {
		t.Fatal(err)
	}
	runSSH(append(append([]string{"-F", "none"}, args...), "-o", "BatchMode=yes", "-p", "2200", "ops@i-0fedcba9876543210", "true")...)
	got, err = os.ReadFile(record)
	if err != nil {
		t.Fatalf("the proxy command from Args did not run: %v", err)
	}
	if want := "proxy|ops|i-0fedcba9876543210|2200|"; string(got) != want {
		t.Errorf("proxy (Args) got arguments %q, want %q", got, want)
	}
}

func TestArgsWithRealSSH(t *testing.T) {
	o, _ := weirdOptions(t)
	o.HostKeyAlias = "i-0123456789abcdef0"
	o.ServerAliveInterval = -1
	args, err := Args(o)
	if err != nil {
		t.Fatal(err)
	}
	got := sshG(t, append(append([]string{"-F", "none"}, args...), "web-1")...)
	wantProxy, _ := QuoteShell(o.JitsshPath)
	want := map[string]string{
		"proxycommand":          wantProxy + " proxy '%r' '%h' %p",
		"userknownhostsfile":    o.KnownHostsFile,
		"stricthostkeychecking": "true",
		"hostkeyalias":          "i-0123456789abcdef0",
		"identitiesonly":        "yes",
		"serveraliveinterval":   "0",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ssh -G with Args: %s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := Args(Options{JitsshPath: "/j", KeyDir: "/k", KnownHostsFile: "/h", HostKeyAlias: "i-*"}); err == nil {
		t.Error("Args accepted a wildcard host key alias")
	}
}

func TestInstallIdempotentAndPreserving(t *testing.T) {
	block1, err := Render(Options{JitsshPath: "/bin/jitssh", KeyDir: "/k", KnownHostsFile: "/kh"})
	if err != nil {
		t.Fatal(err)
	}
	block2, err := Render(Options{JitsshPath: "/opt/jitssh/bin/jitssh", KeyDir: "/k", KnownHostsFile: "/kh", ServerAliveInterval: 15})
	if err != nil {
		t.Fatal(err)
	}
	originals := map[string]string{
		"empty":             "",
		"no trailing EOL":   "Host foo\n  User x",
		"global and hosts":  "# my config\nUser bob\n\nHost *.corp\n\tProxyJump bastion\r\n",
		"include and match": "Include ~/.ssh/conf.d/*\nMatch host x exec \"true\"\n  Port 1\n",
	}
	for name, orig := range originals {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), ".ssh")
			cfg := filepath.Join(dir, "config")
			if orig != "" {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(cfg, []byte(orig), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := Install(cfg, block1); err != nil {
				t.Fatal(err)
			}
			first, _ := os.ReadFile(cfg)
			if want := block1 + orig; string(first) != want {
				t.Fatalf("after Install:\n%q\nwant block at the top:\n%q", first, want)
			}
			if err := Install(cfg, block1); err != nil {
				t.Fatal(err)
			}
			if again, _ := os.ReadFile(cfg); !bytes.Equal(again, first) {
				t.Errorf("second Install changed the file:\n%q", again)
			}
			if err := Install(cfg, block2); err != nil {
				t.Fatal(err)
			}
			if replaced, _ := os.ReadFile(cfg); string(replaced) != block2+orig {
				t.Errorf("Install of a new block:\n%q\nwant\n%q", replaced, block2+orig)
			}
			got, ok, err := Installed(cfg)
			if err != nil || !ok || got != block2 {
				t.Errorf("Installed() = %q, %v, %v", got, ok, err)
			}
			if err := Remove(cfg); err != nil {
				t.Fatal(err)
			}
			if back, _ := os.ReadFile(cfg); string(back) != orig {
				t.Errorf("after Remove:\n%q\nwant the original\n%q", back, orig)
			}
			fi, err := os.Stat(cfg)
			if err != nil {
				t.Fatal(err)
			}
			wantPerm := os.FileMode(0o644)
			if orig == "" {
				wantPerm = 0o600
				di, err := os.Stat(dir)
				if err != nil {
					t.Fatal(err)
				}
				if di.Mode().Perm() != 0o700 {
					t.Errorf("created ~/.ssh with mode %04o, want 0700", di.Mode().Perm())
				}
			}
			if fi.Mode().Perm() != wantPerm {
				t.Errorf("config mode %04o, want %04o", fi.Mode().Perm(), wantPerm)
			}
		})
	}
}

func TestInstallReplacesMovedBlockInPlace(t *testing.T) {
	block, err := Render(Options{JitsshPath: "/bin/jitssh", KeyDir: "/k", KnownHostsFile: "/kh"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config")
	orig := "Host a\n  Port 1\n" + BeginMarker + "\nHost i-*\n  Port 9\n" + EndMarker + "\nHost b\n"
	if err := os.WriteFile(cfg, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Install(cfg, block); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(cfg)
	if want := "Host a\n  Port 1\n" + block + "Host b\n"; string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestInstallMalformedChangesNothing(t *testing.T) {
	block, err := Render(Options{JitsshPath: "/bin/jitssh", KeyDir: "/k", KnownHostsFile: "/kh"})
	if err != nil {
		t.Fatal(err)
	}
	for name, orig := range map[string]string{
		"begin without end": "Host x\n" + BeginMarker + "\nHost i-*\n",
		"end without begin": EndMarker + "\nHost x\n",
		"two blocks":        BeginMarker + "\n" + EndMarker + "\n" + BeginMarker + "\n" + EndMarker + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config")
			if err := os.WriteFile(cfg, []byte(orig), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := Install(cfg, block); err == nil {
				t.Error("Install succeeded")
			}
			if err := Remove(cfg); err == nil {
				t.Error("Remove succeeded")
			}
			if got, _ := os.ReadFile(cfg); string(got) != orig {
				t.Errorf("file changed to %q", got)
			}
		})
	}
	if err := Install(filepath.Join(t.TempDir(), "config"), "Host *\n  ProxyCommand evil\n"); err == nil {
		t.Error("Install accepted a block without markers")
	}
}

func TestInstallThroughSymlink(t *testing.T) {
	block, err := Render(Options{JitsshPath: "/bin/jitssh", KeyDir: "/k", KnownHostsFile: "/kh"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "ssh_config")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("Host x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "config")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := Install(link, block); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v", err)
	}
	if got, _ := os.ReadFile(real); string(got) != block+"Host x\n" {
		t.Errorf("target holds %q", got)
	}
}

func FuzzApply(f *testing.F) {
	block, err := Render(Options{JitsshPath: "/bin/jitssh", KeyDir: "/k", KnownHostsFile: "/kh"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(""))
	f.Add([]byte("User bob\nHost x\n"))
	f.Add([]byte(block + "Host y\n"))
	f.Add([]byte(BeginMarker + "\n"))
	f.Fuzz(func(t *testing.T, config []byte) {
		out, err := Apply(config, block)
		if err != nil {
			return
		}
		again, err := Apply(out, block)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("Apply is not idempotent: %v\n%q\n%q", err, out, again)
		}
		stripped, found, err := Strip(out)
		if err != nil || !found {
			t.Fatalf("Strip after Apply: found=%v err=%v", found, err)
		}
		if _, hadBlock, _ := Strip(config); !hadBlock && !bytes.Equal(stripped, config) {
			t.Fatalf("Strip(Apply(x)) != x:\n%q\n%q", stripped, config)
		}
	})
}
