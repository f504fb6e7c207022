package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
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
// run, and through an EC2 Instance Connect Endpoint tunnel (jitssh proxy
// with JITSSH_TRANSPORT=eice: the sandbox's EICE websocket, a plain TCP
// relay), and reports the throughputs and ratios. bench/scp.sh runs it;
// JITSSH_BENCH_SIZE sets the file size in MiB (default 32),
// JITSSH_BENCH_FAST_AGENT=1 runs the sandbox's fast agent instead of the
// AWS-like default and JITSSH_BENCH_DIRECTION=up or down times one direction
// only (for profiling it, bench/profile-scp.sh).
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
	// The agent is AWS-like unless JITSSH_BENCH_FAST_AGENT is set.
	fast := os.Getenv("JITSSH_BENCH_FAST_AGENT") != ""
	dirn := os.Getenv("JITSSH_BENCH_DIRECTION")
	if dirn != "" && dirn != "up" && dirn != "down" {
		b.Fatalf("JITSSH_BENCH_DIRECTION=%q: want up or down", dirn)
	}
	up, down := dirn != "down", dirn != "up"
	// JITSSH_SSM_PAYLOAD_SIZE (passed through to jitssh proxy) raises the
	// client's message size; the default is AWS's 1024.
	payload := os.Getenv("JITSSH_SSM_PAYLOAD_SIZE")
	e := newEnv(b, mode, func(c *sandbox.Config) { c.FastAgent = fast })
	in := e.sb.Instances[0]
	dir := b.TempDir()
	file := filepath.Join(dir, "payload")
	// Written a MiB at a time: the sandbox runs in this process, and a
	// file-sized buffer would make its heap (and the page faults of its
	// allocations) unlike jitssh-sandbox's.
	if err := writeRandomFile(file, size); err != nil {
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

	var tunUp, tunDown, dirUp, dirDown, eiceUp, eiceDown time.Duration
	timeIt := func(d *time.Duration, name string, args ...string) {
		start := time.Now()
		if out, err := e.run(name, args...); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		*d += time.Since(start)
	}
	// timeEICE is timeIt of scp through jitssh proxy over EICE.
	eiceEnv := append(append([]string(nil), e.vars...), "JITSSH_TRANSPORT=eice")
	timeEICE := func(d *time.Duration, args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "scp", append([]string{"-q", "-F", e.sshCf}, args...)...)
		cmd.Env = eiceEnv
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("scp over eice: %v\n%s", err, out)
		}
		*d += time.Since(start)
	}
	b.ResetTimer()
	pushKey := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := api.SendSSHPublicKey(ctx, in.ID, user, key.AuthorizedKey()); err != nil {
			b.Fatal(err)
		}
	}
	if !up { // the downloads need the file there
		pushKey()
		var untimed time.Duration
		timeIt(&untimed, "scp", direct(file, user+"@"+host+":"+remote)...)
	}
	for i := 0; i < b.N; i++ {
		if up {
			timeIt(&tunUp, "scp", "-q", "-F", e.sshCf, file, in.ID+":"+remote)
		}
		if down {
			timeIt(&tunDown, "scp", "-q", "-F", e.sshCf, in.ID+":"+remote, back)
		}
		if up {
			timeEICE(&eiceUp, file, in.ID+":"+remote)
		}
		if down {
			timeEICE(&eiceDown, in.ID+":"+remote, back)
		}
		pushKey()
		if up {
			timeIt(&dirUp, "scp", direct(file, user+"@"+host+":"+remote)...)
		}
		if down {
			timeIt(&dirDown, "scp", direct(user+"@"+host+":"+remote, back)...)
		}
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(size*b.N) / d.Seconds() }
	// A direction JITSSH_BENCH_DIRECTION left out has no times to report.
	if tunUp > 0 && dirUp > 0 {
		b.ReportMetric(mbps(tunUp), "MiB/s-ssm-up")
		b.ReportMetric(mbps(dirUp), "MiB/s-direct-up")
		b.ReportMetric(dirUp.Seconds()/tunUp.Seconds(), "ratio-up")
	}
	if tunDown > 0 && dirDown > 0 {
		b.ReportMetric(mbps(tunDown), "MiB/s-ssm-down")
		b.ReportMetric(mbps(dirDown), "MiB/s-direct-down")
		b.ReportMetric(dirDown.Seconds()/tunDown.Seconds(), "ratio-down")
	}
	if eiceUp > 0 {
		b.ReportMetric(mbps(eiceUp), "MiB/s-eice-up")
	}
	if eiceDown > 0 {
		b.ReportMetric(mbps(eiceDown), "MiB/s-eice-down")
	}
	if payload == "" {
		payload = "1024"
	}
	fmt.Fprintf(os.Stderr, "scp %d MiB, sshd=%s, fast agent=%v, client payload=%s: ssm up %.1f MiB/s, down %.1f MiB/s; eice up %.1f, down %.1f; direct up %.1f, down %.1f; tunnel/direct up %.2f, down %.2f\n",
		size, mode, fast, payload, mbps(tunUp), mbps(tunDown), mbps(eiceUp), mbps(eiceDown), mbps(dirUp), mbps(dirDown), dirUp.Seconds()/tunUp.Seconds(), dirDown.Seconds()/tunDown.Seconds())
}

// writeRandomFile writes mib MiB of random bytes to a new file at path.
func writeRandomFile(path string, mib int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for range mib {
		rand.Read(buf)
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
