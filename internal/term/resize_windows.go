//go:build windows

package term

import "time"

// PollInterval is how often the console's size is read: a Windows
// console raises no signal when its window changes, and its
// WINDOW_BUFFER_SIZE_EVENT arrives in the input stream that the session
// reads as bytes.
const PollInterval = 250 * time.Millisecond

// watchResize reads fd's size every PollInterval and calls send when it
// differs from the last one, until stop (pollResize).
func watchResize(fd int, send func()) (stop func()) {
	return pollResize(func() (int, int, error) { return Size(fd) }, PollInterval, send)
}
