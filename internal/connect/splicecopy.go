package connect

import (
	"github.com/jitssh/jitssh/internal/transport"
	"io"
	"syscall"
)

// spliceBuffer is the size of copyConn's buffer.
const spliceBuffer = 256 << 10

// copyConn copies src to dst for splice, one side of which is c. A
// connection with a file descriptor (direct TCP) is copied with io.Copy,
// which lets the kernel move the bytes (splice(2)). Any other connection
// (a data channel, a websocket) is copied through a large buffer, hiding
// the files' own 32 KiB paths: one read of stdin then becomes one batch of
// data-channel messages, sent under one lock, and whatever the tunnel has
// received goes to stdout in one write.
func copyConn(dst io.Writer, src io.Reader, c transport.Conn) (int64, error) {
	if _, ok := c.(syscall.Conn); ok {
		return io.Copy(dst, src)
	}
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, spliceBuffer))
}
