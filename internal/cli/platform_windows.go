//go:build windows

package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/windows"
)

// What the client does differently on Windows and on unix
// (platform_unix.go), in one place each.

// oNoFollow: Windows' os.OpenFile has no such flag; a new file is made
// with O_EXCL, which a reparse point at the name also fails.
const oNoFollow = 0

// hangupSignals: Win32-OpenSSH ends its ProxyCommand with
// TerminateProcess, which no handler sees; the proxy then learns of ssh's
// end from its stdin.
var hangupSignals []os.Signal

// detach starts c without a console and in a process group of its own,
// so that ending ssh's console does not end it.
func detach(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP}
}

// pointAtNull lets go of f (stderr handed back to whoever waits for ssh's
// stderr to close): a Windows handle cannot be redirected in place, so it
// is closed and later writes to f fail quietly.
func pointAtNull(f, _ *os.File) {
	_ = windows.SetStdHandle(windows.STD_ERROR_HANDLE, windows.InvalidHandle)
	_ = f.Close()
}

// findSSH returns the OpenSSH client to run: ssh.exe on PATH, else the
// one Windows 10 and 11 install as an optional feature.
func findSSH() (string, error) {
	p, err := exec.LookPath("ssh")
	if err == nil {
		return p, nil
	}
	builtin := filepath.Join(os.Getenv("SystemRoot"), "System32", "OpenSSH", "ssh.exe")
	if _, serr := os.Stat(builtin); serr == nil {
		return builtin, nil
	} else if !errors.Is(serr, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", builtin, serr)
	}
	return "", fmt.Errorf("%w; nor is %s there (add the OpenSSH Client: Settings > System > Optional features)", err, builtin)
}

// startAgentHint is how to start Windows' ssh-agent service (an
// administrator enables it once).
const startAgentHint = "start the OpenSSH Authentication Agent service: `Get-Service ssh-agent | Set-Service -StartupType Manual; Start-Service ssh-agent` in an administrator's PowerShell"
