package jituser

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// KillTimeout bounds KillSessions: how long it keeps signalling before it
// reports the processes it could not end.
const KillTimeout = 10 * time.Second

// KillSessions ends every process running as uid and sshd's privileged
// monitors for name ("sshd: NAME [priv]", which run as root), and returns
// how many processes it found. This is the incident-response step: it ends
// every SSH session and everything the user left running.
//
// One pass over /proc cannot do this: a process that keeps forking and
// exiting (a PID hopper, a fork bomb) has a new PID by the time the pass
// reaches the old one, and a scan may not even see it. So each round
// first sends SIGKILL with kill(-1) from a throw-away thread whose real,
// effective and saved UIDs are uid: the kernel walks every process under
// the task-list lock, which fork also takes, and a fork whose parent has a
// fatal signal pending fails, so no child escapes the round. Then /proc is
// scanned for what is left (processes still dying, the root-owned sshd
// monitors, a process whose effective UID alone is uid), which is
// signalled by PID. Rounds repeat until a scan finds no live process
// (zombies do not count), or KillTimeout.
func KillSessions(uid uint32, name string) (int, error) {
	if uid == 0 {
		return 0, os.ErrPermission
	}
	seen := map[int]bool{}
	// A first look, to say how many there were; it may miss a hopper,
	// which is why the loop below starts with kill(-1) and never trusts a
	// scan alone.
	if _, err := scanKill("/proc", uid, name, seen); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(KillTimeout)
	for {
		if err := killAllAs(uid); err != nil {
			return len(seen), err
		}
		alive, err := scanKill("/proc", uid, name, seen)
		if err != nil {
			return len(seen), err
		}
		if alive == 0 {
			return len(seen), nil
		}
		if time.Now().After(deadline) {
			return len(seen), fmt.Errorf("%d processes of uid %d still alive after %v", alive, uid, KillTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// killAllAs sends SIGKILL to every process uid may signal (kill(2) with
// pid -1), as uid. The credentials change only on a locked OS thread that
// is never unlocked, so the Go runtime destroys it when the goroutine
// returns; no other goroutine ever runs with them. That thread must not be
// the main thread: the runtime never destroys it, and its credentials are
// the process's in /proc and for kill(2) permission checks, so the process
// would be left running as uid. On the main thread, the work moves to a
// new goroutine, which cannot be scheduled on the main thread while this
// one holds it.
func killAllAs(uid uint32) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if syscall.Gettid() == syscall.Getpid() {
			errc <- killAllAs(uid)
			runtime.UnlockOSThread()
			return
		}
		// From here on, never unlocked: the thread dies with this goroutine.
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
			errc <- fmt.Errorf("setresuid %d: %w", uid, e)
			return
		}
		minusOne := -1
		if _, _, e := syscall.RawSyscall(syscall.SYS_KILL, uintptr(minusOne), uintptr(syscall.SIGKILL), 0); e != 0 && e != syscall.ESRCH {
			errc <- fmt.Errorf("kill(-1) as uid %d: %w", uid, e)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// scanKill signals, by PID, every live process of uid (real, effective,
// saved or filesystem) and every sshd session process for name, adds them
// to seen and returns how many it found alive.
func scanKill(procRoot string, uid uint32, name string, seen map[int]bool) (int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	alive := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid <= 1 {
			continue
		}
		dir := filepath.Join(procRoot, e.Name())
		owned, live := statusOf(dir, uid)
		if !live || (!owned && !isMonitorFor(dir, name)) {
			continue
		}
		alive++
		seen[pid] = true
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return alive, fmt.Errorf("kill %d: %w", pid, err)
		}
	}
	return alive, nil
}

// statusOf reads /proc/PID/status: whether any of the process's UIDs (real,
// effective, saved, filesystem) is uid, and whether it is alive (not a
// zombie or dead).
func statusOf(dir string, uid uint32) (owned, live bool) {
	b, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return false, false
	}
	want := strconv.FormatUint(uint64(uid), 10)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "State:":
			live = f[1] != "Z" && f[1] != "X"
		case "Uid:":
			for _, id := range f[1:] {
				owned = owned || id == want
			}
		}
	}
	return owned, live
}

// isMonitorFor reports whether the process is an sshd session process for
// name: its title is "sshd: NAME [priv]", "sshd: NAME@pts/N" or "sshd:
// NAME@notty" (or the same with "sshd-session:", OpenSSH 9.8 and later).
func isMonitorFor(dir, name string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		return false
	}
	title := string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " "))
	for _, prefix := range []string{"sshd: ", "sshd-session: "} {
		if rest, ok := strings.CutPrefix(title, prefix+name); ok && (rest == " [priv]" || strings.HasPrefix(rest, "@")) {
			return true
		}
	}
	return false
}
