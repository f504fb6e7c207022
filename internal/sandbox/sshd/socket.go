package sshd

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// socketPair returns a connected pair of unix stream sockets: the client
// end as a *net.UnixConn (with CloseWrite), the server end as a file to
// hand to sshd as stdin/stdout or to wrap for the embedded server.
func socketPair() (*net.UnixConn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	cf := os.NewFile(uintptr(fds[0]), "ssh-client")
	sf := os.NewFile(uintptr(fds[1]), "ssh-server")
	c, err := net.FileConn(cf)
	cf.Close()
	if err != nil {
		sf.Close()
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return c.(*net.UnixConn), sf, nil
}

// fileConn wraps the server end for the embedded server.
func fileConn(f *os.File) (net.Conn, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("wrap socket: %w", err)
	}
	return c, nil
}
