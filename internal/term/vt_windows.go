//go:build windows

package term

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// EnableVT turns on the console output's virtual-terminal processing
// (ENABLE_VIRTUAL_TERMINAL_PROCESSING, and DISABLE_NEWLINE_AUTO_RETURN
// where the console has it), so the escape sequences of the remote
// shell and of the picker move the cursor and colour text instead of
// being printed, and returns the function that restores the previous
// mode. fd is the console's output handle.
func EnableVT(fd int) (restore func() error, err error) {
	h := windows.Handle(fd)
	var old uint32
	if err := windows.GetConsoleMode(h, &old); err != nil {
		return nil, fmt.Errorf("read console mode: %w", err)
	}
	mode := old | windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING | windows.DISABLE_NEWLINE_AUTO_RETURN
	if err := windows.SetConsoleMode(h, mode); err != nil {
		// Consoles before Windows 10 1809 refuse DISABLE_NEWLINE_AUTO_RETURN.
		mode = old | windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING
		if err := windows.SetConsoleMode(h, mode); err != nil {
			return nil, fmt.Errorf("turn on the console's virtual-terminal mode (Windows 10 or later needed): %w", err)
		}
	}
	return func() error {
		if err := windows.SetConsoleMode(h, old); err != nil {
			return fmt.Errorf("restore console mode: %w", err)
		}
		return nil
	}, nil
}
