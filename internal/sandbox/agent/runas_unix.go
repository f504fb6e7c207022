//go:build unix

package agent

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// runAs makes cmd run as the named user: its uid, gid and groups, HOME,
// USER and LOGNAME, as AWS's agent starts a Run As shell. The sandbox
// can only switch users as root; otherwise a user other than its own is
// refused with the reason (AWS's agent refuses a missing user alike).
func runAs(cmd *exec.Cmd, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return agentErrorf("Unable to start shell: failed to start pty since RunAs user %s does not exist", name)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return agentErrorf("Unable to start shell: RunAs user %s has a non-numeric uid or gid", name)
	}
	env := []string{"HOME=" + u.HomeDir, "USER=" + name, "LOGNAME=" + name}
	if uint64(os.Geteuid()) != uid {
		if os.Geteuid() != 0 {
			return agentErrorf("Unable to start shell: the sandbox runs a shell as RunAs user %s only when it runs as root", name)
		}
		var groups []uint32
		if ids, err := u.GroupIds(); err == nil {
			for _, g := range ids {
				if n, err := strconv.ParseUint(g, 10, 32); err == nil {
					groups = append(groups, uint32(n))
				}
			}
		}
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}
	}
	cmd.Env = append(withoutEnv(cmd.Env, "HOME", "USER", "LOGNAME"), env...)
	return nil
}
