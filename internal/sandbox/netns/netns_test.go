package netns

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func newNS(t *testing.T) *NS {
	t.Helper()
	if os.Getenv("JITSSH_REQUIRE_SSHD") == "" && os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	ns, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// TestRoutedAddressOnly: inside the namespace, an added address reaches
// the sandbox's listener, and any other address fails at once (no route)
// instead of leaving on the machine's network.
func TestRoutedAddressOnly(t *testing.T) {
	ns := newNS(t)
	if err := ns.AddAddr(netip.MustParseAddr("10.0.2.21")); err != nil {
		t.Fatal(err)
	}
	ln, err := ns.Listen("10.0.2.21:22")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.WriteString(c, "SSH-2.0-routed\r\n")
			c.Close()
		}
	}()
	dial := func(addr string) (string, error) {
		var got string
		err := ns.Do(func() error {
			c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			b, err := io.ReadAll(c)
			got = string(b)
			return err
		})
		return got, err
	}
	got, err := dial("10.0.2.21:22")
	if err != nil || !strings.HasPrefix(got, "SSH-2.0-routed") {
		t.Fatalf("routed address: %q, %v", got, err)
	}
	start := time.Now()
	_, err = dial("10.0.2.99:22")
	if !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("unrouted address: got %v, want network unreachable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("unrouted address failed after %v, want at once", d)
	}
	// The machine's own loopback listeners are not reachable either.
	host, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if _, err := dial(host.Addr().String()); err == nil {
		t.Errorf("reached the host's %s from inside the namespace", host.Addr())
	}
}

// TestChildOnlyLoopback: a process started in the namespace sees only lo.
func TestChildOnlyLoopback(t *testing.T) {
	ns := newNS(t)
	var out []byte
	err := ns.Do(func() error {
		var err error
		out, err = exec.Command("cat", "/proc/self/net/dev").Output()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var ifaces []string
	for _, l := range strings.Split(string(out), "\n")[2:] {
		if name, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			ifaces = append(ifaces, name)
		}
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("interfaces in the namespace: %v, want only lo", ifaces)
	}
}

// BenchmarkStartSSHDLike measures what the namespace adds to starting a
// process, as the sandbox starts one sshd per connection: /bin/true
// started and waited for from a discarded thread that entered the
// namespace (ns.Do), against the same from a discarded thread that did
// not (the UTS-only path's cost floor). Reports ns/op of each and the ratio.
func BenchmarkStartSSHDLike(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("network namespaces need root")
	}
	ns, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	run := func() error { return exec.Command("/bin/true").Run() }
	plain := func(fn func() error) error {
		errc := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			errc <- fn()
		}()
		return <-errc
	}
	var tPlain, tNS time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := plain(run); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := ns.Do(run); err != nil {
			b.Fatal(err)
		}
		tNS += time.Since(t1)
		tPlain += t1.Sub(t0)
	}
	b.ReportMetric(float64(tPlain.Nanoseconds())/float64(b.N), "plain-ns/op")
	b.ReportMetric(float64(tNS.Nanoseconds())/float64(b.N), "netns-ns/op")
	b.ReportMetric(float64(tNS)/float64(tPlain), "ratio")
}
