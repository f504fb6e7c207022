package jituser

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// KillSessions sends SIGKILL to every process running as uid (real or
// effective) and to sshd's privileged monitors for name ("sshd: NAME [priv]",
// which run as root), and returns how many it signalled. This is the
// incident-response step: it ends every SSH session and everything the
// user left running. It reads /proc; procRoot "" means /proc.
func KillSessions(procRoot string, uid uint32, name string) (int, error) {
	if procRoot == "" {
		procRoot = "/proc"
	}
	if uid == 0 {
		return 0, os.ErrPermission
	}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	killed := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid <= 1 {
			continue
		}
		dir := filepath.Join(procRoot, e.Name())
		if !ownedBy(dir, uid) && !isMonitorFor(dir, name) {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed++
		}
	}
	return killed, nil
}

// ownedBy reads the Uid: line of /proc/PID/status (real, effective, saved,
// filesystem).
func ownedBy(dir string, uid uint32) bool {
	b, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "Uid:" {
			want := strconv.FormatUint(uint64(uid), 10)
			return f[1] == want || f[2] == want
		}
	}
	return false
}

// isMonitorFor reports whether the process is an sshd session process for
// name: its title is "sshd: NAME [priv]", "sshd: NAME@pts/N" or "sshd:
// NAME@notty".
func isMonitorFor(dir, name string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return false
	}
	title := string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " "))
	rest, ok := strings.CutPrefix(title, "sshd: "+name)
	return ok && (rest == " [priv]" || strings.HasPrefix(rest, "@"))
}
