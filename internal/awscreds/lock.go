package awscreds

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jitssh/jitssh/internal/filelock"
)

// LockWait bounds how long a process waits for another one holding an
// entry's lock: that one's prompt (PromptTimeout) and AssumeRole call,
// with a margin.
const LockWait = PromptTimeout + time.Minute

// LockTimeoutError is a lock another jitssh held for longer than the
// wait allows (a prompt left unanswered on another terminal).
type LockTimeoutError struct {
	Profile string
	Path    string
	Waited  time.Duration
}

func (e *LockTimeoutError) Error() string {
	return fmt.Sprintf("profile %q: waited %v for another jitssh asking for the MFA code (lock %s)", e.Profile, e.Waited.Round(time.Second), e.Path)
}

// lockPath is the lock file of key, beside its entry.
func (c *Cache) lockPath(key string) string { return filepath.Join(c.Dir, key+".lock") }

// lock takes key's lock file (flock, exclusive), waiting at most wait;
// the returned func releases it. Every process that may prompt for key
// takes it across "check the cache, prompt, AssumeRole, write the
// cache", so concurrent proxies prompt once and the others read what
// that one wrote.
func (c *Cache) lock(ctx context.Context, key, profile string, wait time.Duration) (func(), error) {
	if err := c.makeDir(); err != nil {
		return nil, err
	}
	p := c.lockPath(key)
	f, err := filelock.Open(p, true)
	if err != nil {
		return nil, fmt.Errorf("open credential cache lock: %w", err)
	}
	start := time.Now()
	for {
		err := filelock.Lock(f, true, false)
		if err == nil {
			return func() { _ = filelock.Unlock(f); f.Close() }, nil
		}
		if !errors.Is(err, filelock.ErrLocked) {
			f.Close()
			return nil, fmt.Errorf("lock credential cache entry %s: %w", p, err)
		}
		if time.Since(start) >= wait {
			f.Close()
			return nil, &LockTimeoutError{Profile: profile, Path: p, Waited: time.Since(start)}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for credential cache lock %s: %w", p, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
