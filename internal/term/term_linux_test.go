package term

import (
	"os"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

func TestRawModeAndSizeOnAPty(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	fd := int(tty.Fd())
	if !IsTerminal(fd) {
		t.Fatal("a pty is not reported as a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(int(f.Fd())) {
		t.Fatal("a regular file is reported as a terminal")
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 132, Rows: 43}); err != nil {
		t.Fatal(err)
	}
	if c, r, err := Size(fd); err != nil || c != 132 || r != 43 {
		t.Fatalf("Size = %d x %d, %v; want 132 x 43", c, r, err)
	}
	before, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	restore, err := MakeRaw(fd)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	if raw.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 || raw.Oflag&unix.OPOST != 0 {
		t.Fatalf("raw mode still echoes, edits lines, raises signals or post-processes: %+v", raw)
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	after, _ := unix.IoctlGetTermios(fd, unix.TCGETS)
	if *after != *before {
		t.Fatalf("restore did not bring back the settings:\n%+v\n%+v", after, before)
	}
}
