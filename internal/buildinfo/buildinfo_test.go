package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, c := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"go install @version", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "b1274e4aa0c0ffee"}, {Key: "vcs.modified", Value: "false"}}}, "0.0.0~dev.gb1274e4"},
		{"dirty checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "b1274e4aa0c0ffee"}, {Key: "vcs.modified", Value: "true"}}}, "0.0.0~dev.gb1274e4.dirty"},
		{"no VCS", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "0.0.0~dev"},
	} {
		if got := fromBuildInfo(&c.bi); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if Version() == "" {
		t.Error("Version() is empty")
	}
}

func TestText(t *testing.T) {
	bi := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "b1274e4aa0c0ffee"}, {Key: "vcs.time", Value: "2026-12-02T10:11:12Z"}, {Key: "vcs.modified", Value: "false"}}}
	want := "jitssh-host version 1.2.3\ncommit b1274e4 (2026-12-02T10:11:12Z)\ngo1.26.8 linux/arm64\n"
	if got := text("jitssh-host", "1.2.3", bi, "go1.26.8", "linux/arm64"); got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	bi.Settings[2].Value = "true"
	if got := text("jitssh", "1.2.3", bi, "go1.26.8", "darwin/arm64"); !strings.Contains(got, "commit b1274e4 (2026-12-02T10:11:12Z), with uncommitted changes\n") {
		t.Errorf("a dirty build: %q", got)
	}
	if got := text("jitssh", "0.0.0~dev", nil, "go1.26.8", "windows/amd64"); got != "jitssh version 0.0.0~dev\ncommit unknown\ngo1.26.8 windows/amd64\n" {
		t.Errorf("no build info: %q", got)
	}
	if strings.Contains(Text("jitssh"), "{{") {
		t.Error("Text holds a template action")
	}
}

// A stamped commit and date (make build, make release) win over the
// toolchain's record.
func TestTextStamped(t *testing.T) {
	defer func(c, d string) { commit, date = c, d }(commit, date)
	commit, date = "0123456789abcdef", "2026-12-02T10:11:12Z"
	if got := Text("jitssh"); !strings.Contains(got, "\ncommit 0123456 (2026-12-02T10:11:12Z)\n") {
		t.Errorf("Text = %q", got)
	}
}
