package hostcli_test

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/userdb"
	"github.com/jitssh/jitssh/internal/varlink"
)

// Benchmarks of the instance side (root, sshd): go test -run '^$' -bench JIT ./internal/hostcli
// They report median and p99 per operation; see docs/benchmarks.md.

func percentiles(b *testing.B, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	if len(d) == 0 {
		return
	}
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, "ms-p99")
}

func timeEach(b *testing.B, f func() error) {
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	percentiles(b, d)
}

// busy keeps every core spinning until the returned stop is called.
func busy() (stop func()) {
	var done atomic.Bool
	for i := 0; i < runtime.NumCPU(); i++ {
		go func() {
			x := 0
			for !done.Load() {
				for j := 0; j < 1e5; j++ {
					x += j
				}
			}
			_ = x
		}()
	}
	return func() { done.Store(true) }
}

func BenchmarkJITAuthorizedKeys(b *testing.B) {
	requireRootSSHD(b)
	h := newJITHost(b)
	bin, _ := buildSafe()
	h.push("root", adminCaller)
	for _, load := range []bool{false, true} {
		b.Run(fmt.Sprintf("busy=%v", load), func(b *testing.B) {
			if load {
				defer busy()()
			}
			timeEach(b, func() error {
				// Keys live 60 s; keep one valid.
				if h.world.Now().Add(10 * time.Second).After(h.lastPush) {
					h.push("root", adminCaller)
				}
				out, err := exec.Command(bin, "authorized-keys", "--config", h.config, "--", "root").Output()
				if err != nil || len(out) == 0 {
					return fmt.Errorf("authorized-keys: %v %q", err, out)
				}
				return nil
			})
		})
	}
}

func BenchmarkJITLookup(b *testing.B) {
	requireRootSSHD(b)
	h := newJITHost(b)
	name := randName("bench")
	h.push(name, adminCaller)
	if _, err := getent("passwd", name); err != nil {
		b.Fatal(err)
	}
	sock := userdb.Dir + "/" + h.service
	b.Run("varlink-known", func(b *testing.B) {
		timeEach(b, func() error {
			_, err := varlink.Invoke(context.Background(), sock, "io.systemd.UserDatabase.GetUserRecord", map[string]any{"userName": name, "service": h.service}, false)
			return err
		})
	})
	b.Run("getent-known", func(b *testing.B) {
		timeEach(b, func() error { _, err := getent("passwd", name); return err })
	})
	b.Run("getent-unknown", func(b *testing.B) {
		timeEach(b, func() error {
			if _, err := getent("passwd", "nokey"+name); err == nil {
				return fmt.Errorf("unknown name resolved")
			}
			return nil
		})
	})
	b.Run("getent-root", func(b *testing.B) { // the floor: /etc/passwd, no userdb
		timeEach(b, func() error { _, err := getent("passwd", "root"); return err })
	})
}
