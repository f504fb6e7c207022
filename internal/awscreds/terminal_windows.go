//go:build windows

package awscreds

import (
	"errors"
	"os"
)

// console is the Windows console: input from CONIN$ (whose handle takes
// no deadline: a deadlineReader gives it one), output to CONOUT$.
type console struct {
	deadlineReader
	in, out *os.File
}

func (c *console) Write(p []byte) (int, error) { return c.out.Write(p) }

func (c *console) Close() error { return errors.Join(c.in.Close(), c.out.Close()) }

// openTerminal opens the console: there is no controlling terminal
// device on Windows, and no background process groups.
func openTerminal() (Terminal, error) {
	in, err := os.OpenFile("CONIN$", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	out, err := os.OpenFile("CONOUT$", os.O_RDWR, 0)
	if err != nil {
		in.Close()
		return nil, err
	}
	return &console{deadlineReader: deadlineReader{r: in}, in: in, out: out}, nil
}
