//go:build !linux

package agent

import (
	"os"
	"os/exec"

	"github.com/creack/pty"

	"github.com/jitssh/jitssh/internal/sandbox/netns"
)

// startPty starts cmd on a new pty; hostnames are not simulated outside
// Linux.
func startPty(cmd *exec.Cmd, ts *termSize, _ string, _ *netns.NS) (*os.File, error) {
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		return nil, err
	}
	_ = pty.Setsize(f, ts.attach(f))
	return f, nil
}
