package sshconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// zoeOptions are Windows paths with a space and non-ASCII characters in
// the user's profile, as `jitssh config install` would pass them there.
func zoeOptions() Options {
	home := `C:\Users\Zoë Ångström 山田`
	return Options{
		OS:             "windows",
		JitsshPath:     home + `\AppData\Local\Programs\jit ssh\jitssh.exe`,
		KeyDir:         home + `\AppData\Local\jitssh\keys`,
		KnownHostsFile: home + `\AppData\Roaming\jitssh\known_hosts`,
	}
}

func TestRenderWindowsProxyCommand(t *testing.T) {
	o := zoeOptions()
	block, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	wantLines := []string{
		`    ProxyCommand "C:\Users\Zoë Ångström 山田\AppData\Local\Programs\jit ssh\jitssh.exe" proxy -- "%r" "%h" %p`,
		`    IdentityFile "C:\\Users\\Zoë Ångström 山田\\AppData\\Local\\jitssh\\keys\\%r@%h"`,
		`    UserKnownHostsFile "C:\\Users\\Zoë Ångström 山田\\AppData\\Roaming\\jitssh\\known_hosts"`,
		`    KnownHostsCommand "C:\\Users\\Zoë Ångström 山田\\AppData\\Local\\Programs\\jit ssh\\jitssh.exe" known-hosts lookup --reason=%I --key-type=%t --key=%K %H`,
	}
	for _, l := range wantLines {
		if !strings.Contains(block, l+"\n") {
			t.Errorf("block lacks\n%s\ngot\n%s", l, block)
		}
	}

	// What Windows' ssh does with it: % expansion, then CreateProcessW
	// with the line as it is (it starts with a quote); jitssh.exe then
	// splits its command line by the C runtime's rules.
	line := proxyLine(t, block)
	expanded := strings.NewReplacer("%r", "ec2-user", "%h", "i-0123456789abcdef0", "%p", "22", "%%", "%").Replace(line)
	got := windowsArgv(expanded)
	want := []string{o.JitsshPath, "proxy", "--", "ec2-user", "i-0123456789abcdef0", "22"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("command line %s\nsplits into %q\nwant %q", expanded, got, want)
	}
}

// A '%' in the path survives ssh's expansion; a '"' (which Windows
// forbids in names) and relative paths are refused.
func TestRenderWindowsQuotingEdges(t *testing.T) {
	o := zoeOptions()
	o.JitsshPath = `D:\100% tools\jitssh.exe`
	block, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	expanded := strings.NewReplacer("%r", "u", "%h", "i-1", "%p", "22", "%%", "%").Replace(proxyLine(t, block))
	if got := windowsArgv(expanded); len(got) != 6 || got[0] != o.JitsshPath {
		t.Fatalf("%s splits into %q", expanded, got)
	}
	for _, bad := range []string{`C:\a"b\jitssh.exe`, `jitssh.exe`, `\jitssh.exe`, `/usr/bin/jitssh`} {
		o := zoeOptions()
		o.JitsshPath = bad
		if _, err := Render(o); err == nil {
			t.Errorf("Render accepted jitssh path %q for Windows", bad)
		}
	}
	o = zoeOptions()
	o.JitsshPath = `\\fileserver\tools\jitssh.exe`
	if _, err := Render(o); err != nil {
		t.Errorf("UNC path refused: %v", err)
	}
}

// A user or host name with quotes, spaces or a flag cannot add a flag:
// whatever it splits into comes after "--", and more than the three
// arguments is refused by `jitssh proxy`.
func TestWindowsProxyCommandNamesStayArguments(t *testing.T) {
	line := proxyLine(t, mustRender(t, zoeOptions()))
	for _, host := range []string{`i-1 --via evil`, `i-1" --via "evil`, `i-1\" --via x`} {
		expanded := strings.NewReplacer("%r", "u", "%h", host, "%p", "22", "%%", "%").Replace(line)
		argv := windowsArgv(expanded)
		if len(argv) < 6 || argv[1] != "proxy" || argv[2] != "--" || argv[3] != "u" || argv[len(argv)-1] != "22" {
			t.Fatalf("host %q: %q", host, argv)
		}
	}
}

// The real ssh reads the Windows block (ssh_config parsing is the same in
// Win32-OpenSSH) and keeps the ProxyCommand byte for byte.
func TestRealSSHReadsWindowsBlock(t *testing.T) {
	o := zoeOptions()
	block := mustRender(t, o)
	cfg := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(cfg, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	got := sshG(t, "-F", cfg, "i-0123456789abcdef0")
	if want := strings.TrimPrefix(proxyLine(t, block), ""); got["proxycommand"] != want {
		t.Errorf("ssh -G: proxycommand = %q, want %q", got["proxycommand"], want)
	}
	if want := o.KeyDir + `\%r@%h`; got["identityfile"] != want {
		t.Errorf("ssh -G: identityfile = %q, want %q", got["identityfile"], want)
	}
	if got["userknownhostsfile"] != o.KnownHostsFile {
		t.Errorf("ssh -G: userknownhostsfile = %q, want %q", got["userknownhostsfile"], o.KnownHostsFile)
	}
}

func TestIsAbsWindows(t *testing.T) {
	o := Options{OS: "windows"}
	for p, want := range map[string]bool{
		`C:\x`: true, `c:/x`: true, `\\srv\share\x`: true, `C:x`: false, `\x`: false, `x`: false, `/x`: false, `1:\x`: false,
	} {
		if o.isAbs(p) != want {
			t.Errorf("isAbs(%q) = %v, want %v", p, !want, want)
		}
	}
}

func mustRender(t *testing.T, o Options) string {
	t.Helper()
	b, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func proxyLine(t *testing.T, block string) string {
	t.Helper()
	for _, l := range strings.Split(block, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "ProxyCommand "); ok {
			return v
		}
	}
	t.Fatalf("no ProxyCommand in\n%s", block)
	return ""
}

// windowsArgv splits a command line as the Microsoft C runtime (and Go's
// os.Args on Windows) does: the program name up to the closing quote or
// the first blank, with no escapes; then arguments separated by blanks,
// where 2n backslashes before a quote are n backslashes and the quote
// opens or closes a quoted part, 2n+1 are n and a literal quote, and a
// doubled quote inside a quoted part is a literal one.
func windowsArgv(cmd string) []string {
	var args []string
	i := 0
	if strings.HasPrefix(cmd, `"`) {
		end := strings.IndexByte(cmd[1:], '"')
		if end < 0 {
			return []string{cmd[1:]}
		}
		args = append(args, cmd[1:1+end])
		i = 2 + end
	} else {
		end := strings.IndexAny(cmd, " \t")
		if end < 0 {
			return []string{cmd}
		}
		args = append(args, cmd[:end])
		i = end
	}
	for {
		for i < len(cmd) && (cmd[i] == ' ' || cmd[i] == '\t') {
			i++
		}
		if i >= len(cmd) {
			return args
		}
		var b strings.Builder
		inQuote := false
		for ; i < len(cmd); i++ {
			c := cmd[i]
			if c == '\\' {
				n := 0
				for i < len(cmd) && cmd[i] == '\\' {
					n++
					i++
				}
				if i < len(cmd) && cmd[i] == '"' {
					b.WriteString(strings.Repeat(`\`, n/2))
					if n%2 == 1 {
						b.WriteByte('"') // escaped: literal, and consumed
						continue
					}
				} else {
					b.WriteString(strings.Repeat(`\`, n))
				}
				i-- // the loop's i++ moves to the character after the backslashes
				continue
			}
			if c == '"' {
				if inQuote && i+1 < len(cmd) && cmd[i+1] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				inQuote = !inQuote
				continue
			}
			if !inQuote && (c == ' ' || c == '\t') {
				break
			}
			b.WriteByte(c)
		}
		args = append(args, b.String())
	}
}

// The splitter above against Microsoft's documented examples
// ("Parsing C command-line arguments"), so that the tests using it check
// the real rules.
func TestWindowsArgvMatchesDocumentedExamples(t *testing.T) {
	for line, want := range map[string][]string{
		`"a b c" d e`:     {"a b c", "d", "e"},
		`"ab\"c" "\\" d`:  {`ab"c`, `\`, "d"},
		`a\\\b d"e f"g h`: {`a\\\b`, "de fg", "h"},
		`a\\\"b c d`:      {`a\"b`, "c", "d"},
		`a\\\\"b c" d e`:  {`a\\b c`, "d", "e"},
		`a"b"" c d`:       {`ab" c d`},
	} {
		got := windowsArgv(`"C:\prog dir\x.exe" ` + line)
		if got[0] != `C:\prog dir\x.exe` || strings.Join(got[1:], "\x00") != strings.Join(want, "\x00") {
			t.Errorf("%s: %q, want %q", line, got[1:], want)
		}
	}
}
