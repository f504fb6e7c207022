//go:build unix

package term

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

// PollInterval is how often Windows' console size is read (unused on
// unix, where SIGWINCH tells of a change).
const PollInterval = 250 * time.Millisecond

// watchResize calls send on every SIGWINCH until stop.
func watchResize(_ int, send func()) (stop func()) {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range winch {
			send()
		}
	}()
	return func() {
		signal.Stop(winch)
		close(winch)
		<-done
	}
}
