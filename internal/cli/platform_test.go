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
