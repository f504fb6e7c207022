package connect

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is what growPipes asks for: Linux's default limit for an
// unprivileged process (/proc/sys/fs/pipe-max-size).
const pipeSize = 1 << 20

// growPipes enlarges pipes from the default 64 KiB. Splice uses it for
// ssh's ProxyCommand stdin pipe, so that ssh can hand over a whole window
// of data in one write, as it does to a TCP socket, instead of waking up
// for every 64 KiB drained and growing (and freeing again) its output
// buffer in between: measured, ssh spent three to four times the CPU per
// MiB of a direct connection sending through a default-sized pipe. The
// stdout pipe is left alone: enlarged, downloads got slower (ssh then
// reads far more per call than a socket gives it). Anything that is not a
// pipe, or a refusal, is left as it is.
func growPipes(rw ...any) {
	for _, x := range rw {
		f, ok := x.(*os.File)
		if !ok {
			continue
		}
		rc, err := f.SyscallConn() // not f.Fd(), which would make f blocking
		if err != nil {
			continue
		}
		// Not a pipe, or over the limit: the pipe keeps its size.
		_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
	}
}
