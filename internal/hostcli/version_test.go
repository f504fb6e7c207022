package hostcli

import (
	"bytes"
	"testing"

	"github.com/jitssh/jitssh/internal/buildinfo"
)

// jitssh-host --version prints what jitssh --version does, named for it.
func TestHostVersionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	root := NewRootCmd(&out, &errb)
	root.SetArgs([]string{"--version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), buildinfo.Text("jitssh-host"); got != want {
		t.Errorf("--version printed %q, want %q", got, want)
	}
}
