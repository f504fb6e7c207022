//go:build windows

package term

import "time"

// PollInterval is how often the console's size is read: a Windows
// console raises no signal when its window changes, and its
// WINDOW_BUFFER_SIZE_EVENT arrives in the input stream that the session
// reads as bytes.
const PollInterval = 250 * time.Millisecond

// watchResize reads fd's size every PollInterval and calls send when it
// differs from the last one, until stop.
func watchResize(fd int, send func()) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	lastC, lastR, _ := Size(fd)
	go func() {
		defer close(done)
		t := time.NewTicker(PollInterval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				c, r, err := Size(fd)
				if err != nil || (c == lastC && r == lastR) {
					continue
				}
				lastC, lastR = c, r
				send()
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}
