//go:build unix

package ssologin

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/jitssh/jitssh/internal/openssh/privfile"
)

// Lock serialises sign-ins to s among jitssh processes (several proxies
// that scp -r or ssh multiplexing start at once): it blocks until no
// other process holds the lock (a file next to the token cache) and
// returns the function that releases it.
func (c Cache) Lock(s *Session) (func(), error) {
	if err := privfile.MkdirPrivate(c.Dir); err != nil {
		return nil, err
	}
	p := filepath.Join(c.Dir, "jitssh-"+sha1Hex(s.CacheKey())+".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the sign-in lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("take the sign-in lock %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}
