package term

import "time"

// pollResize calls size every interval and send when the size differs
// from the last one read (the first read, at the start, sets it), until
// stop. A failed read is skipped: it neither sends nor changes the last
// size. stop waits for a send in progress and returns; no send follows
// it. resize_windows.go polls the console with it; it has no build tag so
// that its logic is tested on every platform (poll_test.go).
func pollResize(size func() (cols, rows int, err error), interval time.Duration, send func()) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	lastC, lastR, _ := size()
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			c, r, err := size()
			if err != nil || (c == lastC && r == lastR) {
				continue
			}
			lastC, lastR = c, r
			select {
			case <-quit: // stopped while size was read
				return
			default:
			}
			send()
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}
