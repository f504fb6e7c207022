package agent

import (
	"os"
	"os/exec"
	"syscall"

	"github.com/creack/pty"

	"github.com/jitssh/jitssh/internal/sandbox/netns"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// startPty starts cmd on a new pty sized from ts; with a hostname, in a
// new UTS namespace carrying it, and in the instance's network namespace
// ns (when not nil), as the sandbox's sshd does for the instance's SSH
// sessions.
func startPty(cmd *exec.Cmd, ts *termSize, hostname string, ns *netns.NS) (*os.File, error) {
	start := func() (*os.File, error) {
		var cred *syscall.Credential // runAs's
		if cmd.SysProcAttr != nil {
			cred = cmd.SysProcAttr.Credential
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Credential: cred}
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
	var f *os.File
	var enter func() error
	if ns != nil {
		enter = ns.Enter
	}
	err := sshd.StartWith(hostname, enter, func() error {
		var err error
		f, err = start()
		return err
	})
	return f, err
}
