package sshd

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// WithHostname runs start (which starts a child process) in a new UTS
// namespace whose hostname is hostname, or plainly if hostname is empty.
// The namespace is made on a dedicated OS thread that then forks the child,
// so the child inherits it even when it drops privileges before exec; the
// thread is never returned to the Go scheduler and dies with its goroutine.
// Needs CAP_SYS_ADMIN (SimulatedHostnames tells).
func WithHostname(hostname string, start func() error) error {
	return startIn(hostname, nil, start)
}

// startIn is WithHostname, with enter (when not nil) also run on the
// dedicated thread before start.
func startIn(hostname string, enter, start func() error) error {
	if hostname == "" && enter == nil {
		return start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: this thread's namespace differs from the
		// process's, so it must exit with the goroutine.
		if hostname != "" {
			if err := enterUTS(hostname); err != nil {
				errc <- err
				return
			}
		}
		if enter != nil {
			if err := enter(); err != nil {
				errc <- err
				return
			}
		}
		errc <- start()
	}()
	return <-errc
}

func enterUTS(hostname string) error {
	if err := syscall.Unshare(syscall.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("new UTS namespace: %w", err)
	}
	if err := syscall.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("set hostname %q: %w", hostname, err)
	}
	return nil
}

// utsProbe checks that a new UTS namespace with a chosen hostname can be
// made, as startWithHostname does.
func utsProbe() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root (new UTS namespaces need CAP_SYS_ADMIN)")
	}
	const name = "jitssh-uts-probe"
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := enterUTS(name); err != nil {
			errc <- err
			return
		}
		var u syscall.Utsname
		if err := syscall.Uname(&u); err != nil {
			errc <- fmt.Errorf("uname: %w", err)
			return
		}
		var got []byte
		for _, c := range u.Nodename {
			if c == 0 {
				break
			}
			got = append(got, byte(c))
		}
		if string(got) != name {
			errc <- fmt.Errorf("hostname in a new UTS namespace is %q, want %q", got, name)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// StartWith runs start (which starts a child process) on a dedicated OS
// thread that first enters a new UTS namespace named hostname (when not
// empty) and runs enter (when not nil), as the server does for its own
// processes with Config.Enter; for the sandbox's other programs "on" an
// instance, such as SSM shells.
func StartWith(hostname string, enter, start func() error) error {
	return startIn(hostname, enter, start)
}
