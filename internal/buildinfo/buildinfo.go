// Package buildinfo owns the version a jitssh binary reports: the one
// `make build` stamps in from scripts/version (git describe), else what the
// Go toolchain recorded (the module version of `go install …@vX`, or the
// VCS revision of a plain `go build` in a checkout).
package buildinfo

import (
	"runtime/debug"
)

// version is set by `make build` and `make packages`:
// -ldflags "-X github.com/jitssh/jitssh/internal/buildinfo.version=…".
var version string

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
