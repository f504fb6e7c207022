// Package testtool finds the external programs tests run (rsync, cc,
// ssh-keygen, the aws CLI…) and owns the rule for a missing one: in CI
// (JITSSH_FAIL_ON_SKIP or JITSSH_REQUIRE_SSHD set, as .ci/run does) the
// test fails, naming the package to install; elsewhere it is skipped,
// visibly. No check is ever left out silently. Only tests import it.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Strict reports whether a missing tool must fail the test (CI).
func Strict() bool {
	return os.Getenv("JITSSH_FAIL_ON_SKIP") != "" || os.Getenv("JITSSH_REQUIRE_SSHD") != ""
}

// Need returns the path of the program name, or ends the test: Fatal in
// CI, Skip elsewhere. install says how to get it ("apt-get install rsync").
func Need(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if Strict() {
		t.Fatalf("%s is not installed and this test needs it (%s); CI must not skip it", name, install)
	}
	t.Skipf("%s is not installed (%s)", name, install)
	return ""
}
