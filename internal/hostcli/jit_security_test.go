package hostcli_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/userdb"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/runas"
)

// TestJITUsersKillRemovePIDHopper: processes of a real JIT user that keep
// forking and exiting (their PID changes every few milliseconds) survive
// neither `users kill` nor `users remove`, which would otherwise leave
// them running under the retired UID.
func TestJITUsersKillRemovePIDHopper(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)
	name := randName("hop")
	h.push(name, adminCaller)
	if _, err := getent("passwd", name); err != nil {
		t.Fatalf("getent passwd %s: %v", name, err)
	}
	uid := h.users()[name]
	if uid == 0 {
		t.Fatalf("%s not created", name)
	}
	runas.KillAllAtCleanup(t, uid)

	beat := runas.StartHoppers(t, uid, 4)
	if code, out, errOut := run("users", "kill", "--config", h.config, name); code != 0 || !strings.Contains(out, "killed") {
		t.Fatalf("users kill: exit %d, %q, %q", code, out, errOut)
	}
	if runas.Beating(beat, time.Second) {
		t.Fatalf("PID hoppers of %s (uid %d) survived users kill", name, uid)
	}

	beat = runas.StartHoppers(t, uid, 4)
	if code, out, errOut := run("users", "remove", "--config", h.config, name); code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("users remove: exit %d, %q, %q", code, out, errOut)
	}
	if runas.Beating(beat, time.Second) {
		t.Fatalf("PID hoppers of %s survived users remove, running under the retired uid %d", name, uid)
	}
	if _, ok := h.users()[name]; ok {
		t.Errorf("%s still in the state after remove", name)
	}
}

// TestJITBlockList: a blocked name gets no key from either
// AuthorizedKeysCommand path and is never created, not even after `users
// remove` while its pushed key is still valid; every step is audited;
// unblock restores it with its UID.
func TestJITBlockList(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)

	// Blocked before its first login: never created.
	a := randName("blk")
	h.push(a, adminCaller)
	if code, out, errOut := run("users", "block", "--config", h.config, a); code != 0 || out != "blocked "+a+"\n" {
		t.Fatalf("users block: exit %d, %q, %q", code, out, errOut)
	}
	if out, err := h.login(a, "true"); err == nil {
		t.Errorf("blocked %s logged in:\n%s", a, out)
	}
	if out, err := getent("passwd", a); err == nil {
		t.Errorf("blocked %s created: %q", a, out)
	}

	// An existing user: blocked, its key is refused by io.jitssh.Keys and
	// by `jitssh-host authorized-keys`; removed, the still-valid key does
	// not bring it back.
	b := randName("blk")
	h.push(b, adminCaller)
	if out, err := h.login(b, "true"); err != nil {
		t.Fatalf("login %s: %v\n%s", b, err, out)
	}
	uid := h.users()[b]
	if code, _, errOut := run("users", "block", "--config", h.config, b); code != 0 {
		t.Fatalf("users block %s: exit %d, %q", b, code, errOut)
	}
	if out, err := h.login(b, "true"); err == nil {
		t.Errorf("blocked %s logged in:\n%s", b, out)
	}
	if code, out, errOut := run("authorized-keys", "--config", h.config, "--", b); code == 0 || out != "" || !strings.Contains(errOut, "block list") || !strings.Contains(errOut, "(jitssh-host users unblock "+b+")") {
		t.Errorf("authorized-keys for blocked %s: exit %d, %q, %q", b, code, out, errOut)
	}
	if code, _, errOut := run("users", "remove", "--config", h.config, b); code != 0 {
		t.Fatalf("users remove %s: exit %d, %q", b, code, errOut)
	}
	time.Sleep(200 * time.Millisecond) // past negative_ttl
	if out, err := getent("passwd", b); err == nil {
		t.Errorf("removed, blocked %s re-created by a lookup: %q", b, out)
	}
	if code, out, _ := run("users", "blocked", "--config", h.config); code != 0 || !strings.Contains(out, a+"\n") || !strings.Contains(out, b+"\n") {
		t.Errorf("users blocked: exit %d, %q", code, out)
	}

	// Unblocked: back, with its retired UID.
	if code, out, errOut := run("users", "unblock", "--config", h.config, b); code != 0 || out != "unblocked "+b+"\n" {
		t.Fatalf("users unblock: exit %d, %q, %q", code, out, errOut)
	}
	time.Sleep(200 * time.Millisecond)
	if out, err := h.login(b, "id -u"); err != nil || !strings.Contains(out, fmt.Sprint(uid)) {
		t.Errorf("unblocked %s: %v, %q; want uid %d", b, err, out, uid)
	}

	var blocked, unblocked, keyRefused, createRefused bool
	for _, e := range h.auditEvents() {
		switch {
		case e["event"] == "user-blocked" && e["os_user"] == a && e["source"] == "cli":
			blocked = true
		case e["event"] == "user-unblocked" && e["os_user"] == b:
			unblocked = true
		case e["event"] == "request-refused" && e["os_user"] == b && e["reason"] == "blocked":
			keyRefused = true
		case e["event"] == "user-refused" && e["os_user"] == a && e["reason"] == "blocked":
			createRefused = true
		}
	}
	if !blocked || !unblocked || !keyRefused || !createRefused {
		t.Errorf("audit: blocked %v, unblocked %v, key refused %v, creation refused %v", blocked, unblocked, keyRefused, createRefused)
	}
}

// TestJITGroupsBoundToLoginKey: one OS user, keys pushed by two IAM
// callers (an Admin role granted sudo and adm, a read-only role granted
// nothing). Through the real sshd, jitssh-authkeys (%u %f) and
// nss-systemd's initgroups, a login with the read-only key never gets sudo,
// not right after the Admin's login and not while the two race; the
// Admin's login gets sudo when no other role logged in within the window.
func TestJITGroupsBoundToLoginKey(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)
	name := randName("grp")
	readerKey := filepath.Join(h.dir, "id_reader")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", readerKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	const readerCaller = "arn:aws:sts::123456789012:assumed-role/ReadOnly/bob"
	h.push(name, adminCaller)

	loginWith := func(key string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := h.sshCmd(ctx, name, "echo groups: $(id -Gn)")
		for i, a := range cmd.Args {
			if a == h.clientKey {
				cmd.Args[i] = key
			}
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	groups := func(out string) string {
		for _, l := range strings.Split(out, "\n") {
			if g, ok := strings.CutPrefix(l, "groups: "); ok {
				return g
			}
		}
		return "(no groups line)"
	}
	hasSudo := func(g string) bool { return strings.Contains(" "+g+" ", " sudo ") }

	out, err := loginWith(h.clientKey)
	if err != nil || !hasSudo(groups(out)) {
		t.Fatalf("Admin login: %v, groups %q; want sudo\n%s", err, groups(out), out)
	}
	// The leak: the read-only role pushes its key and logs in right after
	// the Admin's login (before, only the Admin's key was valid).
	h.world.PushKey(world.PushedKey{InstanceID: instanceID, OSUser: name, PublicKey: h.readLine(readerKey + ".pub"), Caller: readerCaller, RequestID: "req-reader"})
	out, err = loginWith(readerKey)
	if err != nil {
		t.Fatalf("read-only login: %v\n%s", err, out)
	}
	if g := groups(out); hasSudo(g) || strings.Contains(g, "adm") {
		t.Errorf("read-only login right after the Admin's got %q", g)
	}
	// nss-systemd from outside, through the service, agrees.
	if idOut, err := exec.Command("id", "-Gn", name).Output(); err != nil || hasSudo(strings.TrimSpace(string(idOut))) {
		t.Errorf("id -Gn %s = %q, %v", name, idOut, err)
	}

	// Racing logins of both roles: no read-only session has sudo.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var leaks []string
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := h.clientKey
			if i%2 == 1 {
				key = readerKey
			}
			out, err := loginWith(key)
			if err != nil {
				mu.Lock()
				leaks = append(leaks, fmt.Sprintf("login %d failed: %v", i, err))
				mu.Unlock()
				return
			}
			if key == readerKey && hasSudo(groups(out)) {
				mu.Lock()
				leaks = append(leaks, fmt.Sprintf("read-only login %d got %q", i, groups(out)))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, l := range leaks {
		t.Error(l)
	}

	// After the window (groups_window = 5s) with no other role, the Admin
	// gets sudo again.
	time.Sleep(5500 * time.Millisecond)
	if out, err := loginWith(h.clientKey); err != nil || !hasSudo(groups(out)) {
		t.Errorf("Admin login after the window: %v, groups %q; want sudo", err, groups(out))
	}
}

// TestJITCrashSafety kills the real userdb service with SIGKILL at every
// step of a user's creation (home staging, skeleton copy, hand-over,
// rename into place; state temporary file, fsync, rename), then restarts
// it: the user is created and works, its home is its own, and nothing
// temporary is left. The same for the block list's writer.
func TestJITCrashSafety(t *testing.T) {
	requireRootSSHD(t)
	bin, err := buildSafe()
	if err != nil {
		t.Fatal(err)
	}
	h := newJITHost(t)
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	// crash runs jitssh-host args with the crash hook at step; for the
	// userdb service, lookup is the name looked up once it listens.
	crash := func(step, lookup string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(env, "JITSSH_TEST_CRASH_AT="+step)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if args[0] == "userdb" {
			// Wait for the socket, then look the user up: the service
			// kills itself at step.
			sock := filepath.Join(userdb.Dir, h.service)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
					c.Close()
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("%s: the userdb service did not start: %s", step, stderr.String())
				}
			}
			getent("passwd", lookup)
		}
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%s: the process did not crash", step)
		}
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("%s: the process ended with %v, not SIGKILL at the step: %s", step, cmd.ProcessState, stderr.String())
		}
	}
	noLeftovers := func(step string) {
		t.Helper()
		for _, dir := range []string{h.homes, filepath.Dir(h.state), h.dir} {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".jitssh-new-") || strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("after a crash at %s: %s left in %s", step, e.Name(), dir)
				}
			}
		}
	}

	steps := []string{"home-staging-made", "home-skel-copied", "home-chowned", "home-renamed",
		"write-temp-created", "write-temp-synced", "write-renamed"}
	for _, step := range steps {
		name := randName("cr")
		h.push(name, adminCaller)
		h.stopService()
		crash(step, name, "userdb", "--config", h.config)
		h.start()
		pw, err := getent("passwd", name)
		if err != nil {
			t.Errorf("after a crash at %s: getent passwd %s: %v", step, name, err)
			continue
		}
		uid := h.users()[name]
		if !strings.Contains(pw, fmt.Sprintf(":%d:%d:", uid, uid)) {
			t.Errorf("after a crash at %s: %q, state uid %d", step, pw, uid)
		}
		home := filepath.Join(h.homes, name)
		fi, err := os.Stat(home)
		if err != nil {
			t.Errorf("after a crash at %s: %v", step, err)
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != uid || fi.Mode().Perm() != 0o700 {
			t.Errorf("after a crash at %s: home owned by %d:%d mode %v, want %d", step, st.Uid, st.Gid, fi.Mode().Perm(), uid)
		}
		if out, err := h.login(name, "touch ~/written && ls -A ~ && id -u"); err != nil || !strings.Contains(out, "written") || !strings.Contains(out, fmt.Sprint(uid)) {
			t.Errorf("after a crash at %s: login: %v\n%s", step, err, out)
		}
		noLeftovers(step)
	}

	// The block list's writer.
	for _, step := range []string{"write-temp-created", "write-temp-synced", "write-renamed"} {
		name := randName("bl")
		crash(step, "", "users", "block", "--config", h.config, name)
		code, out, errOut := run("users", "blocked", "--config", h.config)
		if code != 0 {
			t.Errorf("after a crash at %s: users blocked: exit %d, %q", step, code, errOut)
		}
		if onList := strings.Contains(out, name+"\n"); onList != (step == "write-renamed") {
			t.Errorf("after a crash at %s: %s on the list = %v", step, name, onList)
		}
		if code, _, errOut := run("users", "block", "--config", h.config, randName("bl")); code != 0 {
			t.Errorf("after a crash at %s: users block: exit %d, %q", step, code, errOut)
		}
		noLeftovers(step)
	}
}
