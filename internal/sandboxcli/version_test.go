package sandboxcli

import (
	"bytes"
	"context"
	"testing"

	"github.com/jitssh/jitssh/internal/buildinfo"
)

// jitssh-sandbox --version prints what jitssh --version does, named for it.
func TestSandboxVersionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"--version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got, want := out.String(), buildinfo.Text("jitssh-sandbox"); got != want {
		t.Errorf("--version printed %q, want %q", got, want)
	}
}
