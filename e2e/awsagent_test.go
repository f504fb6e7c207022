package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
)

// uploadResendSizeRTO13 is the default size of
// TestUploadToAWSLikeAgentResendsLittle; JITSSH_UPLOAD_SIZE_MIB
// overrides it (bench/awsagent.sh runs 64 MiB).
const uploadResendSizeRTO13 = 8 << 20

// TestUploadToAWSLikeAgentResendsLittle uploads a file with the real scp
// through the SSM tunnel to the default, AWS-like sandbox agent, which
// acknowledges a message only after handing it to sshd (late, unevenly):
// the file arrives intact and fewer than 0.1 % of the messages the agent
// receives are resends it already had (a fixed 100 ms timer resent over
// 1 % against AWS's agent).
func TestUploadToAWSLikeAgentResendsLittle(t *testing.T) {
	size := uploadResendSizeRTO13
	if s := os.Getenv("JITSSH_UPLOAD_SIZE_MIB"); s != "" {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
			t.Fatalf("JITSSH_UPLOAD_SIZE_MIB=%q: want a number of MiB", s)
		}
		size = n << 20
	}
	e := newEnv(t, bestMode(t), func(c *sandbox.Config) {})
	id := e.sb.Instances[0].ID
	dir := t.TempDir()
	local := filepath.Join(dir, "payload")
	f, err := os.Create(local)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	chunk := make([]byte, 1<<20)
	for range size >> 20 {
		rand.Read(chunk)
		h.Write(chunk)
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(remoteDir(t), "upload")
	start := time.Now()
	if out, err := e.run("scp", "-q", "-F", e.sshCf, local, id+":"+remote); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	took := time.Since(start)
	got, err := os.ReadFile(remote)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != [32]byte(h.Sum(nil)) {
		t.Fatalf("file changed in transit: %d bytes arrived of %d", len(got), size)
	}
	// The client sends 1024-byte messages: at least size/1024 of them.
	msgs := size / 1024
	dups := e.sb.DataChannelDuplicates("")
	t.Logf("%d MiB up in %s (%.1f MiB/s): %d of %d messages resent (%.3f %%)",
		size>>20, took.Round(time.Millisecond), float64(size>>20)/took.Seconds(), dups, msgs, 100*float64(dups)/float64(msgs))
	if dups*1000 >= msgs {
		t.Fatalf("%d of %d messages were resent to the AWS-like agent (%.2f %%); want < 0.1 %%", dups, msgs, 100*float64(dups)/float64(msgs))
	}
}
