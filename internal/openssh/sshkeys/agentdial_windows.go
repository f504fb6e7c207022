//go:build windows

package sshkeys

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/windows"
)

// WindowsAgentPipe is where Windows' ssh-agent service (Win32-OpenSSH)
// listens.
const WindowsAgentPipe = `\\.\pipe\openssh-ssh-agent`

// agentSocket is where the agent listens when DialAgent is given none:
// SSH_AUTH_SOCK if set (a named pipe or a unix socket), else the
// ssh-agent service's pipe, which Win32-OpenSSH's ssh uses the same way.
func agentSocket() string {
	if s := os.Getenv("SSH_AUTH_SOCK"); s != "" {
		return s
	}
	return WindowsAgentPipe
}

// dialAgent connects to the agent: a named pipe (\\.\pipe\…), opened for
// overlapped I/O so that the os.File that wraps it has deadlines, or else
// a unix socket (Windows 10 has AF_UNIX).
func dialAgent(socket string, timeout time.Duration) (net.Conn, error) {
	if !strings.HasPrefix(socket, `\\.\pipe\`) && !strings.HasPrefix(socket, `//./pipe/`) {
		return net.DialTimeout("unix", socket, timeout)
	}
	p, err := windows.UTF16PtrFromString(socket)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		// SECURITY_IDENTIFICATION: the agent may learn who connects, not
		// act as this user.
		h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_OVERLAPPED|windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
		if err == nil {
			return pipeConn{File: os.NewFile(uintptr(h), socket)}, nil
		}
		if !errors.Is(err, windows.ERROR_PIPE_BUSY) || time.Now().After(deadline) {
			return nil, fmt.Errorf("open %s: %w", socket, err)
		}
		time.Sleep(20 * time.Millisecond) // every instance busy: another client is being served
	}
}

// pipeConn is a named pipe client as a net.Conn (the agent protocol only
// reads, writes, closes and sets deadlines).
type pipeConn struct{ *os.File }

func (c pipeConn) LocalAddr() net.Addr  { return pipeAddr(c.Name()) }
func (c pipeConn) RemoteAddr() net.Addr { return pipeAddr(c.Name()) }

type pipeAddr string

func (pipeAddr) Network() string  { return "pipe" }
func (a pipeAddr) String() string { return string(a) }
