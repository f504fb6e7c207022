package testtool

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNeedFailsInCI runs a test needing a program that is not on PATH,
// in this very test binary: under CI's variables it fails (never passes
// with the check left out), elsewhere it is reported as skipped.
func TestNeedFailsInCI(t *testing.T) {
	if os.Getenv("TESTTOOL_CHILD") != "" {
		Need(t, "jitssh-no-such-tool", "it does not exist")
		t.Log("the check ran")
		return
	}
	for _, tc := range []struct {
		env      []string
		wantFail bool
		want     string
	}{
		{[]string{"JITSSH_FAIL_ON_SKIP=1"}, true, "jitssh-no-such-tool is not installed and this test needs it"},
		{[]string{"JITSSH_REQUIRE_SSHD=1"}, true, "CI must not skip it"},
		{nil, false, "--- SKIP: TestNeedFailsInCI"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeedFailsInCI$", "-test.v")
		cmd.Env = append([]string{"TESTTOOL_CHILD=1", "PATH=" + t.TempDir()}, tc.env...)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail || !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "the check ran") {
			t.Errorf("env %v: err %v, want failure %v and %q:\n%s", tc.env, err, tc.wantFail, tc.want, out)
		}
	}
}
