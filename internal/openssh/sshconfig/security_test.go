package sshconfig

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func needSSH(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("OpenSSH client (ssh) not installed; it is needed to check what ssh makes of the config")
	}
	return p
}

// TestProxyCommandHostileNames runs the real ssh with host and user names
// carrying shell syntax into %h and %r. OpenSSH 9.6 (and distributions'
// backports of the CVE-2023-51385 fix) refuse such names on the command
// line, but not from ssh_config (HostName, User), which is how these
// values reach %h and %r here, exactly as command-line names do on older
// clients. The proxy must get them as literal arguments, and no shell
// code may run.
func TestProxyCommandHostileNames(t *testing.T) {
	sshPath := needSSH(t)
	dir := t.TempDir()
	jitssh := filepath.Join(dir, "jitssh")
	record := filepath.Join(dir, "args")
	if err := os.WriteFile(jitssh, []byte("#!/bin/sh\nprintf '%s|' \"$@\" > '"+record+"'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := Options{JitsshPath: jitssh, KeyDir: filepath.Join(dir, "keys"), KnownHostsFile: filepath.Join(dir, "kh"), ExtraHosts: []string{"evil"}}
	block, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	pwn := filepath.Join(dir, "pwned")
	run := func(name, pre string) (ran bool, args string) {
		t.Helper()
		os.Remove(record)
		os.Remove(pwn)
		cfg := filepath.Join(dir, "config-"+name)
		// The user's own section comes first here only to feed the names
		// in; the block's Match still applies (it sets none of them).
		if err := os.WriteFile(cfg, []byte(pre+block), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sshPath, "-F", cfg, "-o", "BatchMode=yes", "evil", "true")
		cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
		out, _ := cmd.CombinedOutput()
		if _, err := os.Stat(pwn); err == nil {
			t.Errorf("%s: shell code in a name ran (ssh output: %s)", name, out)
		}
		got, err := os.ReadFile(record)
		return err == nil, string(got)
	}
	dollar := "$(touch " + pwn + ")"
	ran, args := run("dollar", "Host evil\n  HostName \"i-x"+dollar+"\"\n  User \"u"+dollar+"\"\n")
	if !ran {
		t.Fatal("the proxy command did not run")
	}
	// ssh lower-cases the host name.
	if want := "proxy|u" + dollar + "|i-x" + strings.ToLower(dollar) + "|22|"; args != want {
		t.Errorf("proxy got %q, want %q", args, want)
	}
	// A single quote would end the quoting: such names do not get
	// jitssh's section at all.
	ran, _ = run("quote-user", "Host evil\n  User \"u'"+dollar+"'\"\n")
	if ran {
		t.Error("a user name with a single quote reached the proxy command")
	}
	ran, _ = run("quote-host", "Host evil\n  HostName \"i-x'"+dollar+"'\"\n")
	if ran {
		t.Error("a host name with a single quote reached the proxy command")
	}
	ran, args = run("plain", "")
	if !ran || !strings.HasPrefix(args, "proxy|") || !strings.HasSuffix(args, "|evil|22|") {
		t.Errorf("plain name: ran=%v args=%q", ran, args)
	}
}

// TestMarkersMatchExactly: a user's own comments that merely start like
// the markers are not the managed block, and installing never deletes the
// lines between them.
func TestMarkersMatchExactly(t *testing.T) {
	block, err := Render(Options{JitsshPath: "/bin/jitssh", KeyDir: "/k", KnownHostsFile: "/kh"})
	if err != nil {
		t.Fatal(err)
	}
	mine := "# BEGIN jitssh-work hosts\nHost work\n  User me\n# END jitssh-work hosts\n"
	got, err := Apply([]byte(mine), block)
	if err != nil {
		t.Fatal(err)
	}
	if want := block + mine; string(got) != want {
		t.Errorf("Apply replaced the user's lines:\n%s", got)
	}
	stripped, found, err := Strip([]byte(mine))
	if err != nil || found || string(stripped) != mine {
		t.Errorf("Strip found a block in the user's lines: found=%v err=%v", found, err)
	}
	// A real block followed by a look-alike END: the look-alike stays.
	withBlock := string(got) + "# END jitssh-old\n"
	again, err := Apply([]byte(withBlock), block)
	if err != nil || string(again) != withBlock {
		t.Errorf("Apply changed a file that holds the block: %v\n%s", err, again)
	}
}

// TestCheckEffectiveFindsEarlierOverrides asks the real ssh -G which of the
// block's settings hold when the user's own sections come before the
// Include: OpenSSH keeps the first value of each option.
func TestCheckEffectiveFindsEarlierOverrides(t *testing.T) {
	sshPath := needSSH(t)
	o, dir := weirdOptions(t)
	hosts, err := RenderHosts(o)
	if err != nil {
		t.Fatal(err)
	}
	// Include does no % expansion (RenderInclude doubles '%'): the
	// included file lives in a plain directory.
	inc := filepath.Join(t.TempDir(), "jitssh.conf")
	if err := os.WriteFile(inc, []byte(hosts), 0o600); err != nil {
		t.Fatal(err)
	}
	block, err := RenderInclude(inc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func(name, before, after string) []Override {
		t.Helper()
		cfg := filepath.Join(dir, "config-"+name)
		if err := os.WriteFile(cfg, []byte(before+block+after), 0o600); err != nil {
			t.Fatal(err)
		}
		ov, err := CheckEffective(ctx, sshPath, cfg, o)
		if err != nil {
			t.Fatal(err)
		}
		return ov
	}
	keywords := func(ov []Override) map[string]bool {
		m := map[string]bool{}
		for _, x := range ov {
			m[x.Keyword] = true
		}
		return m
	}
	if ov := check("top", "", "Host *\n  StrictHostKeyChecking no\n  User bob\n"); len(ov) != 0 {
		t.Errorf("block at the top: overrides %v", ov)
	}
	ov := check("host-star", "Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n", "")
	if k := keywords(ov); !k["stricthostkeychecking"] || !k["userknownhostsfile"] || len(k) != 2 {
		t.Errorf("Host * above the block: got %v", ov)
	}
	if len(ov) != 4 { // both sample hosts
		t.Errorf("want each override for both sample hosts: %v", ov)
	}
	ov = check("match", "Match all\n  ProxyJump bastion\n  KnownHostsCommand none\n  HostKeyAlias shared\n  IdentityFile ~/.ssh/id_ed25519\n", "")
	if k := keywords(ov); !k["proxyjump"] || !k["knownhostscommand"] || !k["hostkeyalias"] || !k["identityfile"] {
		t.Errorf("Match all above the block: got %v", ov)
	}
	ov = check("mi-only", "Host mi-*\n  ProxyCommand none\nHost *\n", "")
	if len(ov) != 1 || ov[0].Host != "mi-0123456789abcdef0" || ov[0].Keyword != "proxycommand" {
		t.Errorf("Host mi-* above the block: got %v", ov)
	}
	if s := ov[0].String(); !strings.Contains(s, "does not go through jitssh") {
		t.Errorf("override text %q", s)
	}
	if ov := check("unrelated", "Host web\n  StrictHostKeyChecking no\nHost *\n", ""); len(ov) != 0 {
		t.Errorf("a section for another host: overrides %v", ov)
	}
	// A block moved into another host's section applies to that host only.
	if ov := check("inside", "Host web\n", ""); len(ov) == 0 {
		t.Error("an Include inside a Host web section: no override reported")
	}
}

func FuzzParseG(f *testing.F) {
	f.Add([]byte("user root\nidentityfile /a\nidentityfile /b\n"))
	f.Add([]byte("\n \nproxycommand 'x' proxy '%r' '%h' %p"))
	o := Options{JitsshPath: "/bin/jitssh", KeyDir: "/k", KnownHostsFile: "/kh"}
	f.Fuzz(func(t *testing.T, out []byte) {
		g := ParseG(out)
		for k, vs := range g {
			if k == "" || len(vs) == 0 || k != strings.ToLower(k) {
				t.Fatalf("bad entry %q=%q", k, vs)
			}
		}
		if _, err := Compare(o, SampleHosts[0], g); err != nil {
			t.Fatal(err)
		}
	})
}
