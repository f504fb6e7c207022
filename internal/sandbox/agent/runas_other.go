//go:build !unix

package agent

import "os/exec"

// runAs refuses: the sandbox switches users only on unix.
func runAs(cmd *exec.Cmd, name string) error {
	return agentErrorf("Unable to start shell: the sandbox runs a shell as RunAs user %s only on unix", name)
}
