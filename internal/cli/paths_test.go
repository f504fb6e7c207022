package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestStateDirKeepsEverythingTogether: JITSSH_STATE_DIR (set by the
// sandbox's env file) moves keys, pins and the ssh_config into one
// directory, and a relative one is refused rather than resolved against
// whatever directory ssh runs the ProxyCommand from.
func TestStateDirKeepsEverythingTogether(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("JITSSH_STATE_DIR", dir)
	p, err := defaultPaths()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p.KeyDir, p.Pins, p.SSHConfig} {
		if filepath.Dir(f) != dir {
			t.Errorf("%s is not in %s", f, dir)
		}
	}
	t.Setenv("JITSSH_STATE_DIR", "relative/dir")
	if _, err := defaultPaths(); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative JITSSH_STATE_DIR: %v", err)
	}
	t.Setenv("JITSSH_STATE_DIR", "")
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	if p, err := defaultPaths(); err != nil || p.Pins != filepath.Join(dir, ".config", "jitssh", "known_hosts") {
		t.Errorf("default pins: %q, %v", p.Pins, err)
	}
}
