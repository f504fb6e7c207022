package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/fault"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

// bestMode is the real sshd where it can run, else the embedded server.
func bestMode(t testing.TB) sshd.Mode {
	m := sandboxenv.Modes(t.(*testing.T))
	return m[0]
}

// TestSCPIntegrityUnderFaults copies a file both ways with the real scp
// through a data channel that drops 5 % of frames, duplicates 1 %,
// reorders, and has its websocket closed by the service several times
// during the transfer: the bytes must come back identical.
// bench/faults.sh runs the same at full size (256 MiB).
func TestSCPIntegrityUnderFaults(t *testing.T) {
	size := 8 << 20
	if s := os.Getenv("JITSSH_FAULT_SIZE_MIB"); s != "" {
		var n int
		if _, err := fmt.Sscan(s, &n); err == nil && n > 0 {
			size = n << 20
		}
	}
	e := newEnv(t, bestMode(t), func(c *sandbox.Config) {
		c.Faults = fault.Config{Drop: 0.05, Duplicate: 0.01, Reorder: 0.02, CloseAfter: fault.Duration(700 * time.Millisecond)}
	})
	id := e.sb.Instances[0].ID
	dir := t.TempDir()
	local := filepath.Join(dir, "payload")
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(local, data, 0o600); err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(remoteDir(t), "remote")
	back := filepath.Join(dir, "back")
	start := time.Now()
	if out, err := e.run("scp", "-q", "-F", e.sshCf, local, id+":"+remote); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := e.run("scp", "-q", "-F", e.sshCf, id+":"+remote, back); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("file changed in transit: %d bytes back of %d", len(got), len(data))
	}
	st, resumes := e.sb.FaultStats()
	t.Logf("%d MiB there and back under faults in %s: %+v, %d resumes", size>>20, time.Since(start).Round(time.Millisecond), st, resumes)
	if st.Dropped == 0 || st.Duplicated == 0 || st.Reordered == 0 || st.Closed < 2 || resumes < 2 {
		t.Fatalf("the faults were not exercised: %+v, %d resumes", st, resumes)
	}
}

// TestIdleSessionSurvivesServiceCloses keeps an interactive ssh session
// open while the sandbox closes the data channel's websocket every 300 ms
// (AWS does it about hourly: this is that hour, accelerated): after the
// idle period the session still works.
func TestIdleSessionSurvivesServiceCloses(t *testing.T) {
	e := newEnv(t, bestMode(t), func(c *sandbox.Config) {
		c.Faults = fault.Config{CloseAfter: fault.Duration(300 * time.Millisecond)}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", "-F", e.sshCf, e.sb.Instances[0].ID, "cat")
	cmd.Env = e.vars
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(stdout)
	echo := func(s string) {
		t.Helper()
		if _, err := io.WriteString(stdin, s+"\n"); err != nil {
			t.Fatalf("write %q: %v\n%s", s, err, stderr.String())
		}
		got, err := lines.ReadString('\n')
		if err != nil || got != s+"\n" {
			t.Fatalf("echo of %q = %q, %v\nssh stderr: %s", s, got, err, stderr.String())
		}
	}
	echo("before the idle period")
	time.Sleep(3 * time.Second) // about 10 service-side closes
	echo("after the idle period")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ssh: %v\n%s", err, stderr.String())
	}
	if _, resumes := e.sb.FaultStats(); resumes < 5 {
		t.Fatalf("only %d resumes during the idle period", resumes)
	}
}
