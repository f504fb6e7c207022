package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// BenchmarkConnect measures connection set-up per transport against the
// sandbox with JITSSH_BENCH_API_LATENCY (default 30ms) added to every AWS
// API call, as a real region would: the time from starting `jitssh proxy`
// to the first SSH banner line on its stdout, and the time of a whole
// `jitssh ssh … true`. Every connection is cold (a new key, pushed or
// placed; host keys pinned beforehand). In the same run and interleaved it
// measures the baselines, a direct TCP connect to the instance's public
// address reading the banner and a plain `ssh … true` over it, and
// reports medians, the ratio to the baseline, and the ratio to a floor of
// baseline + the API round trips that cannot overlap (bannerRT, sshRT).
// JITSSH_BENCH_SSHD=openssh runs the real sshd instead of the embedded
// server.
// bench/connect.sh runs it.
func BenchmarkConnect(b *testing.B) {
	lat := 30 * time.Millisecond
	if s := os.Getenv("JITSSH_BENCH_API_LATENCY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("JITSSH_BENCH_API_LATENCY=%q: %v", s, err)
		}
		lat = d
	}
	// The embedded SSH server by default, so that every target (the
	// managed instance always runs it) has the same server and login
	// costs; JITSSH_BENCH_SSHD=openssh uses the real sshd where it can.
	mode := sshd.Embedded
	if os.Getenv("JITSSH_BENCH_SSHD") == "openssh" {
		mode = sshd.ResolveAuto()
	}
	e := managedEnv(b, mode) // the managed instance's key needs ssm:SendCommand
	var web1, mi sandbox.InstanceInfo
	for _, in := range e.sb.Instances {
		switch {
		case in.Name == "web-1":
			web1 = in
		case in.Managed:
			mi = in
		}
	}
	user := strings.TrimPrefix(e.sb.Identity.ARN[strings.LastIndex(e.sb.Identity.ARN, "/"):], "/")
	port := strconv.Itoa(e.sb.SSHPort)
	jitssh := filepath.Join(binDir, "jitssh")
	keyDir := filepath.Join(e.home, ".cache", "jitssh", "keys")

	// Each case: its proxy arguments and the AWS API round trips that
	// cannot overlap (the critical-path minimum; docs/benchmarks.md) for
	// `jitssh proxy USER i-… PORT` (bannerRT) and for `jitssh ssh i-… --
	// true` without a user (sshRT: the user comes from
	// sts:GetCallerIdentity, which the key push must wait for).
	type tcase struct {
		name      string
		proxyArgs []string
		sshArgs   []string
		bannerRT  int
		sshRT     int
		target    string
	}
	cases := []tcase{
		// proxy: StartSession ∥ SendSSHPublicKey (the id needs no
		// lookup). ssh: DescribeInstances ∥ GetCallerIdentity; then
		// StartSession ∥ SendSSHPublicKey.
		{"ssm", []string{"--transport", "ssm"}, []string{"--transport", "ssm"}, 1, 2, web1.ID},
		// DescribeInstances (the VPC) ∥ GetCallerIdentity; then
		// DescribeInstanceConnectEndpoints ∥ SendSSHPublicKey (the
		// tunnel's websocket is not an API call).
		{"eice", []string{"--transport", "eice"}, []string{"--transport", "eice"}, 2, 2, web1.ID},
		// proxy: DescribeInstances (the address). ssh: DescribeInstances ∥
		// GetCallerIdentity; then SendSSHPublicKey ∥ the TCP connect.
		{"direct", []string{"--transport", "direct"}, []string{"--transport", "direct"}, 1, 2, web1.ID},
		// Resolve the jump host (∥ target, ∥ GetCallerIdentity); its
		// DescribeInstanceInformation (auto); its StartSession (the
		// pushes overlap). `jitssh ssh` resolves the target first: +1.
		{"bastion", []string{"--via", "bastion-1"}, []string{"--via", "bastion-1"}, 3, 4, web1.ID},
		// DescribeInstanceInformation (∥ GetCallerIdentity); SendCommand;
		// GetCommandInvocation ∥ StartSession (jitssh polls after 50 ms,
		// not counted).
		{"ssm-managed", nil, nil, 3, 3, mi.ID},
	}
	// Pins for web-1, bastion-1 and the managed instance, learned over SSM.
	for _, c := range []tcase{cases[0], cases[3], cases[4]} {
		if out, err := e.run("jitssh", append(append([]string{"ssh"}, c.sshArgs...), c.target, "--", "true")...); err != nil {
			b.Fatalf("warm-up %s: %v\n%s", c.name, err, out)
		}
	}
	if err := e.sb.SetLatency(map[string]string{"*": lat.String()}); err != nil {
		b.Fatal(err)
	}
	cold := func() {
		if err := os.RemoveAll(keyDir); err != nil {
			b.Fatal(err)
		}
	}
	banner := func(c tcase) time.Duration {
		cold()
		p := "22"
		if c.name == "direct" {
			p = port
		}
		cmd := exec.Command(jitssh, append(append([]string{"proxy"}, c.proxyArgs...), user, c.target, p)...)
		cmd.Env = e.vars
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		d := time.Since(start)
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if err != nil || !strings.HasPrefix(line, "SSH-2.0-") {
			b.Fatalf("%s: banner %q, %v\n%s", c.name, line, err, stderr.String())
		}
		return d
	}
	sshTrue := func(c tcase) time.Duration {
		cold()
		args := append(append([]string{"ssh", "--key-store", "file"}, c.sshArgs...), c.target, "--")
		if c.name == "direct" {
			args = append(args, portArgs(e.sb)...)
		}
		start := time.Now()
		if out, err := e.run("jitssh", append(args, "true")...); err != nil {
			b.Fatalf("%s: %v\n%s", c.name, err, out)
		}
		return time.Since(start)
	}
	addr := net.JoinHostPort(web1.PublicIP, port)
	baseBanner := func() time.Duration {
		start := time.Now()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		d := time.Since(start)
		conn.Close()
		if err != nil || !strings.HasPrefix(line, "SSH-2.0-") {
			b.Fatalf("direct banner %q, %v", line, err)
		}
		return d
	}
	key, err := sshkeys.Generate("bench-baseline")
	if err != nil {
		b.Fatal(err)
	}
	baseKey := filepath.Join(b.TempDir(), "baseline-key")
	if err := key.WriteKeyFile(baseKey); err != nil {
		b.Fatal(err)
	}
	pins := filepath.Join(e.home, ".config", "jitssh", "known_hosts")
	api := apiClient(b, e)
	baseSSH := func() time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := api.SendSSHPublicKey(ctx, web1.ID, user, key.AuthorizedKey()); err != nil { // untimed
			b.Fatal(err)
		}
		start := time.Now()
		if out, err := e.run("ssh", "-F", "none", "-i", baseKey, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-o", "UserKnownHostsFile="+pins, "-o", "StrictHostKeyChecking=yes", "-o", "HostKeyAlias="+web1.ID,
			"-p", port, "-l", user, web1.PublicIP, "true"); err != nil {
			b.Fatalf("baseline ssh: %v\n%s", err, out)
		}
		return time.Since(start)
	}

	bannerT := make([][]time.Duration, len(cases))
	sshT := make([][]time.Duration, len(cases))
	var baseB, baseS []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		baseB = append(baseB, baseBanner())
		baseS = append(baseS, baseSSH())
		for j, c := range cases {
			bannerT[j] = append(bannerT[j], banner(c))
			sshT[j] = append(sshT[j], sshTrue(c))
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	bb, bs := median(baseB), median(baseS)
	b.ReportMetric(ms(bb), "ms-banner-baseline")
	b.ReportMetric(ms(bs), "ms-ssh-baseline")
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(os.Stderr, "load average at the end: %s", load)
	fmt.Fprintf(os.Stderr, "connection set-up, %d runs, API latency %v per call, sshd=%s; baseline: direct TCP + banner %.1f ms, direct ssh true %.1f ms\n", b.N, lat, mode, ms(bb), ms(bs))
	fmt.Fprintf(os.Stderr, "%-12s %10s %8s %10s %10s %8s %11s %8s\n", "transport", "banner ms", "×base", "×floor", "ssh ms", "×base", "floor ms", "×floor")
	for j, c := range cases {
		mb, msh := median(bannerT[j]), median(sshT[j])
		floorB := bb + time.Duration(c.bannerRT)*lat
		floorS := bs + time.Duration(c.sshRT)*lat
		b.ReportMetric(ms(mb), "ms-banner-"+c.name)
		b.ReportMetric(ms(msh), "ms-ssh-"+c.name)
		b.ReportMetric(float64(mb)/float64(bb), "x-banner-"+c.name)
		b.ReportMetric(float64(msh)/float64(bs), "x-ssh-"+c.name)
		fmt.Fprintf(os.Stderr, "%-12s %10.1f %8.1f %10.2f %10.1f %8.2f %11.1f %8.2f\n", c.name,
			ms(mb), float64(mb)/float64(bb), float64(mb)/float64(floorB), ms(msh), float64(msh)/float64(bs), ms(floorS), float64(msh)/float64(floorS))
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
