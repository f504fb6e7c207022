package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestViaRealSSHDStaysOnLoopback: an instance running the real sshd used
// as a jump host (jitssh ssh --via web-1) once dialled the simulated
// private address of the target (10.0.x.x) on the machine's real network
// and hung for minutes. Its sshd now runs in a network namespace of its
// own: the jump reaches the target through the sandbox's routing, a
// stopped target fails at once, and no socket of this machine's network
// ever points at a simulated address.
func TestViaRealSSHDStaysOnLoopback(t *testing.T) {
	if sshd.ResolveAuto() != sshd.OpenSSH {
		if os.Getenv("JITSSH_REQUIRE_SSHD") != "" {
			t.Fatal("JITSSH_REQUIRE_SSHD is set but the real sshd cannot be used")
		}
		t.Skip("needs the real sshd (root and /usr/sbin/sshd)")
	}
	// managedEnv: the default identity may also place keys on onprem-1.
	e := managedEnv(t, sshd.OpenSSH)
	web1, db1 := infoByName(t, e.sb, "web-1"), infoByName(t, e.sb, "db-1")
	if web1.SSHServer != "openssh" {
		t.Fatalf("web-1 runs %s, want openssh", web1.SSHServer)
	}
	simulated := map[netip.Addr]bool{}
	for _, in := range e.sb.World.Instances() {
		if a, err := netip.ParseAddr(in.PrivateIP); err == nil {
			simulated[a] = true
		}
	}
	// Watch this machine's TCP sockets while the jumps run.
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu   sync.Mutex
		seen []string
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for _, s := range tcpSockets(t) {
				if simulated[s.remote.Addr()] {
					mu.Lock()
					seen = append(seen, s.String())
					mu.Unlock()
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	start := time.Now()
	out, err := runWithin(e, 45*time.Second, "ssh", "--via", "web-1", "db-1", "--", "hostname")
	if err != nil {
		t.Errorf("--via web-1 db-1 (after %v): %v\n%s", time.Since(start).Round(time.Millisecond), err, out)
	} else if got := strings.TrimSpace(string(out)); got != db1.Hostname {
		t.Errorf("--via web-1 db-1: hostname %q, want %q", got, db1.Hostname)
	}
	// old-1 is stopped: the jump fails, promptly.
	start = time.Now()
	if out, err := runWithin(e, 45*time.Second, "ssh", "--via", "web-1", "old-1", "--", "true"); err == nil {
		t.Errorf("--via web-1 old-1 (stopped) succeeded:\n%s", out)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("--via web-1 old-1 took %v to fail", d)
	}
	cancel()
	wg.Wait()
	if len(seen) > 0 {
		t.Errorf("sockets of this machine's network to simulated addresses:\n%s", strings.Join(seen, "\n"))
	}

	// What runs on web-1 (the real sshd), bastion-1 (the embedded server)
	// and onprem-1 (managed) sees only a loopback interface, in another
	// network namespace than ours, where its VPC's private IPs answer on
	// port 7 (echo).
	ours, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	// The managed instance (mi-, on premises) is in no VPC: db-1's private
	// address is unreachable from it, at once.
	for _, tc := range []struct{ name, want string }{{"web-1", "routed"}, {"bastion-1", "routed"}, {"onprem-1", "unreachable"}} {
		out, err := e.run("jitssh", "ssh", tc.name, "--", "readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; "+
			"timeout 10 bash -c 'exec 3<>/dev/tcp/"+db1.PrivateIP+"/7 && echo routed >&3 && head -n1 <&3' 2>/dev/null || echo unreachable")
		if err != nil {
			t.Errorf("%s: %v\n%s", tc.name, err, out)
			continue
		}
		lines := strings.Fields(string(out))
		if len(lines) != 3 || lines[0] == ours || lines[1] != "lo" || lines[2] != tc.want {
			t.Errorf("%s's network: %q, want another namespace than %s with only lo, and db-1's echo port %s", tc.name, lines, ours, tc.want)
		}
	}
}

// runWithin runs jitssh with args, killed (with what it started) after d.
func runWithin(e *env, d time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), args...)
	cmd.Env = e.vars
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("jitssh %s: no answer within %v (%v)", strings.Join(args, " "), d, err)
	}
	return out, err
}

type tcpSocket struct {
	local, remote netip.AddrPort
	state         string
}

func (s tcpSocket) String() string {
	return fmt.Sprintf("%s -> %s state %s", s.local, s.remote, s.state)
}

// tcpSockets lists the TCP sockets of this process's network namespace
// (the machine's), from /proc/net/tcp and tcp6.
func tcpSockets(t *testing.T) []tcpSocket {
	var out []tcpSocket
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(filepath.Clean(f))
		if err != nil {
			t.Error(err)
			return nil
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 4 {
				continue
			}
			l, err1 := procAddr(fs[1])
			r, err2 := procAddr(fs[2])
			if err1 != nil || err2 != nil {
				t.Errorf("unparsable %s line %q", f, line)
				continue
			}
			out = append(out, tcpSocket{local: l, remote: r, state: fs[3]})
		}
	}
	return out
}

// procAddr parses /proc/net/tcp's ADDR:PORT in hex (the address in host
// byte order, 32-bit words).
func procAddr(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", a)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	var port uint16
	if _, err := fmt.Sscanf(p, "%X", &port); err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", p)
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), port), nil
}
