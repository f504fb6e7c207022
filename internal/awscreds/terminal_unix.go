//go:build unix

package awscreds

import "os"

// openTerminal opens /dev/tty (pollable: its deadline interrupts a
// pending read), unless this process is in the background of it.
func openTerminal() (Terminal, error) {
	tty, err := os.OpenFile(TTYPath, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if background(tty) {
		tty.Close()
		return nil, ErrBackground
	}
	return tty, nil
}
