// Package buildinfo owns the version a jitssh binary reports: the one
// `make build` stamps in from scripts/version (git describe), else what the
// Go toolchain recorded (the module version of `go install …@vX`, or the
// VCS revision of a plain `go build` in a checkout).
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// version, commit and date are set by `make build`, `make packages` and
// `make release`: -ldflags "-X github.com/jitssh/jitssh/internal/buildinfo.version=…"
// (and .commit, .date: the commit's hash and its date). Unset, the Go
// toolchain's VCS record stands in for commit and date (none in a build
// with -buildvcs=false or from a git worktree).
var version, commit, date string

// Version returns this binary's version; never empty.
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "0.0.0~unknown"
	}
	return fromBuildInfo(bi)
}

// fromBuildInfo is Version for a binary that was not stamped.
func fromBuildInfo(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ".dirty"
			}
		}
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if rev == "" {
		return "0.0.0~dev"
	}
	return "0.0.0~dev.g" + rev + dirty
}

// Text is what `NAME --version` prints (cobra's version template; it holds
// no template actions): the version on the first line, as "NAME version
// V", then the commit it was built from and that commit's date (a
// release's build date: a reproducible build records no clock time),
// then the Go toolchain and platform.
//
//	jitssh version 1.2.3
//	commit b1274e4 (2026-12-02T10:11:12Z)
//	go1.26.8 windows/amd64
func Text(name string) string {
	bi, _ := debug.ReadBuildInfo()
	if commit != "" {
		bi = &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: commit}, {Key: "vcs.time", Value: date}}}
	}
	return text(name, Version(), bi, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

func text(name, version string, bi *debug.BuildInfo, goVersion, platform string) string {
	rev, date, dirty := "unknown", "", ""
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 7 {
					rev = rev[:7]
				}
			case "vcs.time":
				if s.Value != "" {
					date = " (" + s.Value + ")"
				}
			case "vcs.modified":
				if s.Value == "true" {
					dirty = ", with uncommitted changes"
				}
			}
		}
	}
	return name + " version " + version + "\n" +
		"commit " + rev + date + dirty + "\n" +
		goVersion + " " + platform + "\n"
}
