package agent

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"github.com/creack/pty"
)

// startPty starts cmd on a new pty sized from ts; with a hostname, in a
// new UTS namespace carrying it (as the sandbox's sshd does for the
// instance's SSH sessions), made on a locked OS thread that forks the
// child and then dies with its goroutine.
func startPty(cmd *exec.Cmd, ts *termSize, hostname string) (*os.File, error) {
	start := func() (*os.File, error) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		f, tty, err := pty.Open()
		if err != nil {
			return nil, err
		}
		defer tty.Close()
		if err := pty.Setsize(f, ts.attach(f)); err != nil {
			f.Close()
			return nil, err
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr.Ctty = 0 // the child's fd 0
		if err := cmd.Start(); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	if hostname == "" {
		return start()
	}
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread's namespace differs
		if err := syscall.Unshare(syscall.CLONE_NEWUTS); err != nil {
			ch <- result{nil, fmt.Errorf("new UTS namespace: %w", err)}
			return
		}
		if err := syscall.Sethostname([]byte(hostname)); err != nil {
			ch <- result{nil, fmt.Errorf("set hostname %q: %w", hostname, err)}
			return
		}
		f, err := start()
		ch <- result{f, err}
	}()
	r := <-ch
	return r.f, r.err
}
