package term

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// answer is one read of the fake console's size.
type answer struct {
	cols, rows int
	err        error
}

// scripted is a size function whose first read is first and every
// later one is the next answer the test hands it: the test knows which
// read each poll sees, and, having handed over the next answer, that the
// previous one was dealt with.
type scripted struct {
	first   answer
	started bool
	next    chan answer
}

func (s *scripted) size() (int, int, error) {
	a := s.first
	if s.started {
		a = <-s.next
	}
	s.started = true
	return a.cols, a.rows, a.err
}

// The Windows console's size is polled (resize_windows.go): send is called
// once for each change, never for a read that repeats the last size or
// that failed, and a failed read does not count as the last size.
func TestPollResizeSendsOncePerChange(t *testing.T) {
	s := &scripted{first: answer{80, 24, nil}, next: make(chan answer)}
	var sends atomic.Int32
	stop := pollResize(s.size, time.Millisecond, func() { sends.Add(1) })
	broken := errors.New("console gone")
	for i, step := range []struct {
		answer
		sends int32 // after this answer
	}{
		{answer{80, 24, nil}, 0},     // the size at the start: no change
		{answer{80, 24, nil}, 0},     // still none
		{answer{100, 30, nil}, 1},    // wider and taller
		{answer{100, 30, nil}, 1},    // the same again
		{answer{100, 30, nil}, 1},    //
		{answer{0, 0, broken}, 1},    // a failed read
		{answer{100, 30, nil}, 1},    // back: still the last size, no change
		{answer{120, 40, broken}, 1}, // a failed read's size is not taken
		{answer{120, 40, nil}, 2},    // then read: a change
		{answer{120, 41, nil}, 3},    // one row more
		{answer{80, 24, nil}, 4},     // back to the first size: a change too
		{answer{80, 24, nil}, 4},
	} {
		s.next <- step.answer
		// The same answer once more: once the next poll has taken it,
		// this one's send, if any, is done; the repeat sends nothing.
		s.next <- step.answer
		if got := sends.Load(); got != step.sends {
			t.Fatalf("after answer %d %+v: %d sends, want %d", i, step.answer, got, step.sends)
		}
	}
	close(s.next) // a poll waiting for an answer gets one
	stop()
}

// stop returns without waiting for the next tick, and no read or send
// happens after it.
func TestPollResizeStop(t *testing.T) {
	var reads, sends atomic.Int32
	size := func() (int, int, error) {
		n := int(reads.Add(1))
		return n, 24, nil // a new size on every read
	}
	stop := pollResize(size, time.Millisecond, func() { sends.Add(1) })
	deadline := time.Now().Add(5 * time.Second)
	for sends.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sends after 5 s of polling every 1 ms, want 3", sends.Load())
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("stop took %v", d)
	}
	r, n := reads.Load(), sends.Load()
	time.Sleep(50 * time.Millisecond)
	if r2, n2 := reads.Load(), sends.Load(); r2 != r || n2 != n {
		t.Errorf("after stop: reads %d → %d, sends %d → %d", r, r2, n, n2)
	}

	// With an hour between polls, stop does not wait for the next one.
	stop = pollResize(size, time.Hour, func() { t.Error("send without a poll") })
	start = time.Now()
	stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("stop of an hourly poll took %v", d)
	}
}

// A size read that stop interrupts sends nothing, even if the size
// changed: stop's caller has stopped listening.
func TestPollResizeStopDuringRead(t *testing.T) {
	reading := make(chan struct{}, 1)
	next := make(chan answer)
	first := true
	size := func() (int, int, error) {
		if first {
			first = false
			return 80, 24, nil
		}
		select {
		case reading <- struct{}{}:
		default:
		}
		a := <-next
		return a.cols, a.rows, a.err
	}
	var sends atomic.Int32
	stop := pollResize(size, time.Millisecond, func() { sends.Add(1) })
	<-reading // a poll is reading the size
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	// stop has signalled and waits for the read: a second, so that a loaded
	// CI machine has run stop's close (the test cannot see it otherwise).
	time.Sleep(time.Second)
	next <- answer{132, 43, nil}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return once the read in progress did")
	}
	if n := sends.Load(); n != 0 {
		t.Errorf("%d sends for a read that ended after stop", n)
	}
}

// stop waits for a send in progress: once it returns, the session may
// close what send writes to.
func TestPollResizeStopWaitsForSend(t *testing.T) {
	var reads atomic.Int32
	size := func() (int, int, error) { return int(reads.Add(1)), 24, nil }
	sending := make(chan struct{})
	release := make(chan struct{})
	stop := pollResize(size, time.Millisecond, func() {
		select {
		case sending <- struct{}{}:
			<-release
		default:
		}
	})
	<-sending
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop returned while a send was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return once the send did")
	}
}
