package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The Windows ProxyCommand is `jitssh.exe proxy -- "%r" "%h" %p`
// (sshconfig/windows.go): after "--" a host name that looks like a flag
// is an argument, and a name that split into more arguments is refused
// for its count, before anything is contacted.
func TestProxyArgumentsAfterDoubleDash(t *testing.T) {
	for _, args := range [][]string{
		{"proxy", "--", "u", "i-1", "--via", "evil", "22"},
		{"proxy", "--", "u", `i-1"`, "x", "22"},
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb})
		if code == 0 || !strings.Contains(errb.String(), "accepts 3 arg(s)") {
			t.Errorf("%q: exit %d, want the argument count refused\n%s", args, code, errb.String())
		}
		if strings.Contains(errb.String(), "unknown flag") {
			t.Errorf("%q: a name after -- was taken for a flag: %s", args, errb.String())
		}
	}
}

// doctor reads the version of Windows' ssh too.
func TestOpenSSHVersionOfWindows(t *testing.T) {
	for line, want := range map[string]string{
		"OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024": "9.2",
		"OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2":                 "9.5",
		"OpenSSH_for_Windows_8.1p1, LibreSSL 3.0.2":                 "8.1",
	} {
		m := opensshRe.FindStringSubmatch(line)
		if m == nil || m[1]+"."+m[2] != want {
			t.Errorf("%q: %v, want %s", line, m, want)
		}
	}
}
