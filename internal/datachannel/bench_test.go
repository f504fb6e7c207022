//go:build unix

package datachannel

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsPair returns a client and an agent session over a real websocket on
// loopback.
func wsPair(b *testing.B, clientPayload, agentPayload int) (*Session, *Session) {
	agentCh := make(chan *Session, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		if _, err := AcceptOpen(r.Context(), c); err != nil {
			return
		}
		s := NewSession(NewWebSocket(c), Config{Role: RoleAgent, MaxPayload: agentPayload})
		agentCh <- s
		<-s.Done()
	}))
	srv.Listener = BatchListener(srv.Listener)
	srv.Start()
	b.Cleanup(srv.Close)
	ctx := context.Background()
	client, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), "token-1234567890", DialOptions{Session: Config{MaxPayload: clientPayload}})
	if err != nil {
		b.Fatal(err)
	}
	agent := <-agentCh
	b.Cleanup(func() { client.Close(); agent.Close() })
	return client, agent
}

func benchStream(b *testing.B, w io.Writer, r io.Reader) {
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(buf)))
	done := make(chan error, 1)
	go func() {
		_, err := io.CopyN(io.Discard, r, int64(len(buf))*int64(b.N))
		done <- err
	}()
	b.ResetTimer()
	cpu0 := cpuTime()
	r0, w0 := syscalls()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	// CPU time of the whole process (both ends) per MiB: unlike the
	// throughput, it hardly depends on what else the machine is running.
	mib := float64(len(buf)) * float64(b.N) / (1 << 20)
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/mib, "cpu-ms/MiB")
	if r1, w1 := syscalls(); r0 >= 0 && r1 >= 0 {
		b.ReportMetric(float64(r1-r0)/mib, "reads/MiB")
		b.ReportMetric(float64(w1-w0)/mib, "writes/MiB")
	}
}

// syscalls returns how many read and write system calls this process made
// so far (Linux's /proc/self/io), or -1s where that is not available.
func syscalls() (reads, writes int64) {
	reads, writes = -1, -1
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return
}

// cpuTime returns the user and system CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWebsocketUpload measures the data channel alone (no SSH) from
// client to agent over a loopback websocket, with AWS's 1024-byte messages
// and with 16 KiB messages.
func BenchmarkWebsocketUpload1K(b *testing.B) {
	c, a := wsPair(b, 1024, 32<<10)
	benchStream(b, c, a)
}

func BenchmarkWebsocketUpload16K(b *testing.B) {
	c, a := wsPair(b, 16<<10, 32<<10)
	benchStream(b, c, a)
}

func BenchmarkWebsocketDownload32K(b *testing.B) {
	c, a := wsPair(b, 1024, 32<<10)
	benchStream(b, a, c)
}

func BenchmarkWebsocketUpload32K(b *testing.B) {
	c, a := wsPair(b, 32<<10, 32<<10)
	benchStream(b, c, a)
}
