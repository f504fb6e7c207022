package knownhosts

import (
	"fmt"

	"github.com/jitssh/jitssh/internal/filelock"
)

// lockFile takes an exclusive advisory lock on path (created 0600; flock
// on unix, LockFileEx on Windows), so that concurrent jitssh processes do
// not lose each other's pins.
func lockFile(path string) (func(), error) {
	f, err := filelock.Open(path, true)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := filelock.Lock(f, true, true); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = filelock.Unlock(f)
		f.Close()
	}, nil
}
