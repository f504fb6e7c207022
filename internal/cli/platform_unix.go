//go:build unix

package cli

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// What the client does differently on unix and on Windows
// (platform_windows.go), in one place each.

// oNoFollow refuses a symbolic link where a new file is opened.
const oNoFollow = syscall.O_NOFOLLOW

// hangupSignals are the signals ssh sends its ProxyCommand as it exits:
// SIGHUP (ssh_kill_proxy_command).
var hangupSignals = []os.Signal{syscall.SIGHUP}

// detach makes c a process of its own session, so that it outlives the
// proxy and its terminal.
func detach(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}

// pointAtNull makes f's descriptor refer to null (stderr handed back to
// whoever waits for ssh's stderr to close), f staying usable.
func pointAtNull(f, null *os.File) {
	_ = unix.Dup2(int(null.Fd()), int(f.Fd()))
}

// findSSH returns the OpenSSH client to run: ssh on PATH.
func findSSH() (string, error) {
	return exec.LookPath("ssh")
}

// startAgentHint is how to start an ssh-agent for this shell.
const startAgentHint = "start one with `eval $(ssh-agent)`"
