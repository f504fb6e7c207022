package hostcmd

import (
	"reflect"
	"strings"
	"testing"
)

func TestScriptRoundTrip(t *testing.T) {
	steps := []Step{{Block, "alice"}, {Kill, "alice"}}
	cmds, err := Script(steps)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{Header, "set -e", "jitssh-host users block alice", "jitssh-host users kill --if-exists alice"}
	if !reflect.DeepEqual(cmds, want) {
		t.Fatalf("Script = %q, want %q", cmds, want)
	}
	for _, in := range [][]string{cmds, {strings.Join(cmds, "\n") + "\n"}} {
		got, err := Parse(in)
		if err != nil || !reflect.DeepEqual(got, steps) {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, steps)
		}
	}
}

func TestScriptRefuses(t *testing.T) {
	for _, s := range []Step{{Block, "Alice"}, {Block, "-rf"}, {Block, "a b"}, {Kill, "a;reboot"}, {"remove", "alice"}, {Block, ""}, {Block, "a.."}} {
		if _, err := Script([]Step{s}); err == nil {
			t.Errorf("Script(%v) succeeded", s)
		}
	}
	if _, err := Script(nil); err == nil {
		t.Error("Script(nil) succeeded")
	}
}

func TestParseRefuses(t *testing.T) {
	for _, in := range [][]string{
		nil,
		{"jitssh-host users block alice"},
		{Header, "jitssh-host users block alice"},
		{Header, "set -e"},
		{Header, "set -e", "jitssh-host users block alice; reboot"},
		{Header, "set -e", "jitssh-host users kill alice"},
		{Header, "set -e", "jitssh-host  users block alice"},
		{Header, "set -e", "jitssh-host users remove alice"},
		{Header, "set -e", "jitssh-host users block $(id)"},
		{Header, "set -e", "jitssh-host users block alice", "rm -rf /"},
	} {
		if steps, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, steps)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Header + "\nset -e\njitssh-host users block alice\njitssh-host users kill --if-exists alice")
	f.Add(Header + "\nset -e\njitssh-host users unblock bob\n")
	f.Add("x")
	f.Fuzz(func(t *testing.T, s string) {
		steps, err := Parse([]string{s})
		if err != nil {
			return
		}
		// What Parse accepts, Script writes back the same.
		cmds, err := Script(steps)
		if err != nil {
			t.Fatalf("Parse accepted %q but Script refuses its steps: %v", s, err)
		}
		if got := strings.Join(cmds, "\n"); got != strings.TrimRight(s, "\n") {
			t.Fatalf("Parse(%q) → Script %q", s, got)
		}
	})
}
