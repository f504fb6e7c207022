//go:build unix

package term

import (
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// WatchSize reports the size at once, then the new one after SIGWINCH,
// and nothing after stop.
func TestWatchSizeFollowsSIGWINCH(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 80, Rows: 24}); err != nil {
		t.Fatal(err)
	}
	sizes := make(chan [2]int, 8)
	stop := WatchSize(int(tty.Fd()), func(c, r int) { sizes <- [2]int{c, r} })
	want := func(c, r int) {
		t.Helper()
		select {
		case got := <-sizes:
			if got != [2]int{c, r} {
				t.Fatalf("size %v, want %dx%d", got, c, r)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no size reported, want %dx%d", c, r)
		}
	}
	want(80, 24)
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 132, Rows: 43}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	want(132, 43)
	stop()
	select {
	case got := <-sizes:
		t.Fatalf("a size %v reported after stop", got)
	default:
	}
}
