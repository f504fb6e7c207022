package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// BenchmarkSCP copies a file with the real scp through the SSM tunnel and
// over a direct loopback TCP connection to the same SSH server, in the same
// run, and reports both throughputs and their ratio. bench/scp.sh runs it;
// JITSSH_BENCH_SIZE sets the file size in MiB (default 32),
// JITSSH_BENCH_PACED=1 paces the sandbox agent like AWS's (1024-byte
// messages) and JITSSH_BENCH_UPLOAD_ONLY=1 skips the downloads (for
// profiling the upload path, bench/profile-scp.sh).
func BenchmarkSCP(b *testing.B) {
	size := 32
	if s := os.Getenv("JITSSH_BENCH_SIZE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("JITSSH_BENCH_SIZE=%q: want a number of MiB", s)
		}
		size = n
	}
	mode := sshd.ResolveAuto()
	paced := os.Getenv("JITSSH_BENCH_PACED") != ""
	uploadOnly := os.Getenv("JITSSH_BENCH_UPLOAD_ONLY") != ""
	// JITSSH_SSM_PAYLOAD_SIZE (passed through to jitssh proxy) raises the
	// client's message size; the default is AWS's 1024.
	payload := os.Getenv("JITSSH_SSM_PAYLOAD_SIZE")
	e := newEnv(b, mode, func(c *sandbox.Config) { c.Paced = paced })
	in := e.sb.Instances[0]
	dir := b.TempDir()
	file := filepath.Join(dir, "payload")
	data := make([]byte, size<<20)
	rand.Read(data)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		b.Fatal(err)
	}
	// First connection learns and pins the host key over SSM; the direct
	// copy is checked against the same pin.
	if out, err := e.run("ssh", "-F", e.sshCf, in.ID, "true"); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	host, port, _ := strings.Cut(in.SSHAddr, ":")
	user := strings.TrimPrefix(e.sb.Identity.ARN[strings.LastIndex(e.sb.Identity.ARN, "/"):], "/")
	keyFile := filepath.Join(dir, "direct-key")
	key, err := sshkeys.Generate("bench-direct")
	if err != nil {
		b.Fatal(err)
	}
	if err := key.WriteKeyFile(keyFile); err != nil {
		b.Fatal(err)
	}
	pins := filepath.Join(e.home, ".config", "jitssh", "known_hosts")
	direct := func(args ...string) []string {
		return append([]string{"-q", "-F", "none", "-i", keyFile, "-o", "IdentitiesOnly=yes",
			"-o", "UserKnownHostsFile=" + pins, "-o", "StrictHostKeyChecking=yes", "-o", "HostKeyAlias=" + in.ID,
			"-P", port}, args...)
	}
	api := apiClient(b, e)
	remote := "/tmp/jitssh-bench-" + strconv.Itoa(os.Getpid())
	defer os.Remove(remote)
	back := filepath.Join(dir, "back")

	var tunUp, tunDown, dirUp, dirDown time.Duration
	timeIt := func(d *time.Duration, name string, args ...string) {
		start := time.Now()
		if out, err := e.run(name, args...); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		*d += time.Since(start)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		timeIt(&tunUp, "scp", "-q", "-F", e.sshCf, file, in.ID+":"+remote)
		if !uploadOnly {
			timeIt(&tunDown, "scp", "-q", "-F", e.sshCf, in.ID+":"+remote, back)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := api.SendSSHPublicKey(ctx, in.ID, user, key.AuthorizedKey()); err != nil {
			b.Fatal(err)
		}
		cancel()
		timeIt(&dirUp, "scp", direct(file, user+"@"+host+":"+remote)...)
		if !uploadOnly {
			timeIt(&dirDown, "scp", direct(user+"@"+host+":"+remote, back)...)
		}
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(size*b.N) / d.Seconds() }
	b.ReportMetric(mbps(tunUp), "MiB/s-ssm-up")
	b.ReportMetric(mbps(tunDown), "MiB/s-ssm-down")
	b.ReportMetric(mbps(dirUp), "MiB/s-direct-up")
	b.ReportMetric(mbps(dirDown), "MiB/s-direct-down")
	b.ReportMetric(dirUp.Seconds()/tunUp.Seconds(), "ratio-up")
	b.ReportMetric(dirDown.Seconds()/tunDown.Seconds(), "ratio-down")
	if payload == "" {
		payload = "1024"
	}
	fmt.Fprintf(os.Stderr, "scp %d MiB, sshd=%s, paced agent=%v, client payload=%s: ssm up %.1f MiB/s, down %.1f MiB/s; direct up %.1f, down %.1f; tunnel/direct up %.2f, down %.2f\n",
		size, mode, paced, payload, mbps(tunUp), mbps(tunDown), mbps(dirUp), mbps(dirDown), dirUp.Seconds()/tunUp.Seconds(), dirDown.Seconds()/tunDown.Seconds())
}
