package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/testtool"
)

// TestDebMetadata builds the packages with `make packages` and reads the
// deb as dpkg does: a real license and copyright file, the version
// scripts/version derives from git (not 0.0.0~dev), and a declared
// conflict with AWS's ec2-instance-connect, which sets the same sshd
// AuthorizedKeysCommand (and wins, from sshd's command line).
func TestDebMetadata(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the packages")
	}
	testtool.Need(t, "make", "apt-get install make")
	dpkgDeb := testtool.Need(t, "dpkg-deb", "apt-get install dpkg")
	dir := t.TempDir()
	cmd := exec.Command("make", "-C", "..", "packages", "PKGROOT="+filepath.Join(dir, "root"), "DIST="+filepath.Join(dir, "dist"))
	// Not the settings of a `make test` this may run under.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") && !strings.HasPrefix(kv, "MAKELEVEL=") && !strings.HasPrefix(kv, "VERSION=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make packages: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "dist", "*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(dir, "dist", "*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("packages built: %v %v, want one deb and one rpm", debs, rpms)
	}
	field := func(name string) string {
		out, err := exec.Command(dpkgDeb, "-f", debs[0], name).Output()
		if err != nil {
			t.Fatalf("dpkg-deb -f %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	want, err := exec.Command("../scripts/version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := field("Version"); got != strings.TrimSpace(string(want)) || !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`).MatchString(got) || strings.Contains(got, "~dev") {
		t.Errorf("Version %q, want %q from scripts/version", got, want)
	}
	if got := field("License"); got != "Apache-2.0" {
		t.Errorf("License %q, want Apache-2.0", got)
	}
	if got := field("Conflicts"); got != "ec2-instance-connect" {
		t.Errorf("Conflicts %q, want ec2-instance-connect", got)
	}
	tarball, err := exec.Command(dpkgDeb, "--fsys-tarfile", debs[0]).Output()
	if err != nil {
		t.Fatal(err)
	}
	extract := exec.Command("tar", "-xO", "./usr/share/doc/jitssh-host/copyright")
	extract.Stdin = bytes.NewReader(tarball)
	copyright, err := extract.Output()
	if err != nil {
		t.Fatalf("no /usr/share/doc/jitssh-host/copyright in the deb: %v", err)
	}
	for _, w := range []string{
		"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
		"\nFiles: *\nCopyright: 2026 The jitssh authors\nLicense: Apache-2.0\n",
		"\nFiles: golang.org/x/crypto/*\n", "\nFiles: go/src/*\n",
	} {
		if !bytes.Contains(copyright, []byte(w)) {
			t.Errorf("copyright file lacks %q:\n%s", w, copyright)
		}
	}
}

// TestVersionScheme runs scripts/version in throwaway git repositories:
// no tag yet, a release tag, commits after it, uncommitted changes, and no
// git at all. Every answer must be a valid Debian and RPM version.
func TestVersionScheme(t *testing.T) {
	testtool.Need(t, "git", "apt-get install git")
	script, err := os.ReadFile("../scripts/version")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	os.MkdirAll(filepath.Join(repo, "scripts"), 0o755)
	if err := os.WriteFile(filepath.Join(repo, "scripts", "version"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_COMMITTER_DATE=2026-12-02T10:00:00Z", "GIT_AUTHOR_DATE=2026-12-02T10:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	version := func() string {
		t.Helper()
		out, err := exec.Command(filepath.Join(repo, "scripts", "version")).CombinedOutput()
		if err != nil {
			t.Fatalf("scripts/version: %v\n%s", err, out)
		}
		v := strings.TrimSpace(string(out))
		if !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`).MatchString(v) {
			t.Errorf("%q is not a Debian/RPM version", v)
		}
		return v
	}
	if got := version(); got != "0.0.0~unknown" {
		t.Errorf("without git: %q", got)
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "one")
	hash := git("rev-parse", "--short=7", "HEAD")
	if got, want := version(), "0.0.0~git20261202.g"+hash; got != want {
		t.Errorf("no tag: %q, want %q", got, want)
	}
	git("tag", "v1.2.3")
	if got := version(); got != "1.2.3" {
		t.Errorf("at v1.2.3: %q", got)
	}
	git("commit", "-q", "--allow-empty", "-m", "two")
	hash = git("rev-parse", "--short=7", "HEAD")
	if got, want := version(), "1.2.3+git1.g"+hash; got != want {
		t.Errorf("after v1.2.3: %q, want %q", got, want)
	}
	os.WriteFile(filepath.Join(repo, "scripts", "version"), append(script, '\n'), 0o755)
	if got, want := version(), "1.2.3+git1.g"+hash+".dirty"; got != want {
		t.Errorf("uncommitted changes: %q, want %q", got, want)
	}
}
