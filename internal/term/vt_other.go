//go:build !windows

package term

// EnableVT does nothing outside Windows: a unix terminal interprets
// escape sequences as it is.
func EnableVT(int) (restore func() error, err error) {
	return func() error { return nil }, nil
}
