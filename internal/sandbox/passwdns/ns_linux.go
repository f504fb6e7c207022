//go:build linux

package passwdns

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// Enter switches the calling OS thread (locked, never returned to the Go
// scheduler) into a new private mount namespace with d's files mounted.
func (d *DB) Enter() error {
	if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
		return fmt.Errorf("new mount namespace: %w", err)
	}
	// Nothing mounted here may reach the machine's namespace.
	if err := syscall.Mount("none", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	for _, m := range append([][2]string{{d.Passwd, "/etc/passwd"}, {d.Group, "/etc/group"}, {d.Shadow, "/etc/shadow"}}, d.Extra...) {
		if err := syscall.Mount(m[0], m[1], "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", m[0], m[1], err)
		}
	}
	return nil
}

// Start runs start (which starts a child process) on a dedicated OS
// thread in d's namespace; the child inherits it.
func (d *DB) Start(start func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread's namespace differs from the
		// process's, so it must exit with the goroutine.
		if err := d.Enter(); err != nil {
			errc <- err
			return
		}
		errc <- start()
	}()
	return <-errc
}

// Usable says why DBs cannot work here, or nil when they can: it needs
// root and mount namespaces.
func Usable() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root (a private /etc/passwd needs a mount namespace, CAP_SYS_ADMIN)")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("new mount namespace: %w", err)
			return
		}
		errc <- syscall.Mount("none", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, "")
	}()
	return <-errc
}
