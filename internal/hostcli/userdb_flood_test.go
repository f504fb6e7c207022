package hostcli_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/jitssh/jitssh/internal/host/userdb"
	"github.com/jitssh/jitssh/internal/testutil/runas"
	"github.com/jitssh/jitssh/internal/varlink"
)

// Tests of the userdb service under floods by an unprivileged user
// (issue 10): the real service, its real sockets, flood processes running
// as nobody, and real key lookups (jitssh-authkeys-c as sshd runs it) and
// logins (the real sshd, getpwnam through nss-systemd) alongside.

// floodEnv makes this test binary a flood process (floodMain) instead.
const floodEnv = "JITSSH_TEST_FLOOD"

// floodDir holds the copy of this binary that nobody may run; TestMain
// removes it.
var floodDir string

// floodBinary copies this test binary into a directory every user can
// reach (the go tool's build directory is private).
var floodBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "jitssh-flood-")
	if err != nil {
		return "", err
	}
	floodDir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	in, err := os.Open(self)
	if err != nil {
		return "", err
	}
	defer in.Close()
	bin := filepath.Join(dir, "flood.test")
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return bin, out.Close()
})

// floodMain is a flood process: n goroutines doing mode against the
// socket in $JITSSH_FLOOD_SOCKET until stdin closes, then "calls N fails
// M" on stdout. Modes:
//   - lookup: GetUserRecord of a new random name, again and again, as
//     fast as answers come (what `getent passwd RANDOM` in loops does);
//   - conns: connect, send the first $JITSSH_FLOOD_BYTES bytes of a
//     message and never its end, hold the connection until the service
//     closes it, and start over;
//   - idle: connect once and hold the connection, sending nothing.
func floodMain(mode string) int {
	if os.Getuid() == 0 {
		fmt.Fprintln(os.Stderr, "flood: refusing to run as root")
		return 2
	}
	sock, service := os.Getenv("JITSSH_FLOOD_SOCKET"), os.Getenv("JITSSH_FLOOD_SERVICE")
	n, _ := strconv.Atoi(os.Getenv("JITSSH_FLOOD_N"))
	size, _ := strconv.Atoi(os.Getenv("JITSSH_FLOOD_BYTES"))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
	var calls, fails atomic.Int64
	var wg sync.WaitGroup
	partial := []byte(`{"method":"io.systemd.UserDatabase.GetUserRecord","parameters":{"userName":"` + strings.Repeat("a", max(size-80, 0)))
	var idle []net.Conn
	for i := 0; i < n; i++ {
		switch mode {
		case "idle":
			c, err := net.DialTimeout("unix", sock, 2*time.Second)
			if err != nil {
				fails.Add(1)
				continue
			}
			calls.Add(1)
			idle = append(idle, c)
		case "lookup":
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					name := fmt.Sprintf("fl%016x", rand.Uint64())
					cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
					_, err := varlink.Invoke(cctx, sock, "io.systemd.UserDatabase.GetUserRecord", map[string]any{"userName": name, "service": service}, false)
					ccancel()
					calls.Add(1)
					var re *varlink.ReplyError
					if !errors.As(err, &re) {
						fails.Add(1)
					}
				}
			}()
		case "conns":
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					c, err := net.Dial("unix", sock)
					if err != nil {
						fails.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					calls.Add(1)
					stop := context.AfterFunc(ctx, func() { c.Close() })
					c.Write(partial)
					c.Read(make([]byte, 1)) // until the service (or ctx) closes it
					stop()
					c.Close()
					time.Sleep(100 * time.Millisecond)
				}
			}()
		default:
			fmt.Fprintln(os.Stderr, "flood: unknown mode", mode)
			return 2
		}
	}
	fmt.Println("ready")
	<-ctx.Done()
	for _, c := range idle {
		c.Close()
	}
	wg.Wait()
	fmt.Printf("calls %d fails %d\n", calls.Load(), fails.Load())
	return 0
}

type flood struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	once  sync.Once
	stats string
}

// startFlood runs a flood process (floodMain) as nobody with n goroutines.
func startFlood(t testing.TB, mode, socket, service string, n, size int) *flood {
	t.Helper()
	bin, err := floodBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = "/"
	cmd.Env = []string{floodEnv + "=" + mode, "JITSSH_FLOOD_SOCKET=" + socket, "JITSSH_FLOOD_SERVICE=" + service,
		"JITSSH_FLOOD_N=" + strconv.Itoa(n), "JITSSH_FLOOD_BYTES=" + strconv.Itoa(size)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: runas.Nobody(t)}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &flood{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() { f.stop() })
	if line, err := f.out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("flood process: %q, %v", line, err)
	}
	return f
}

// stop ends the flood and returns its "calls N fails M" line.
func (f *flood) stop() string {
	f.once.Do(func() {
		f.stdin.Close()
		line, _ := f.out.ReadString('\n')
		f.stats = strings.TrimSpace(line)
		done := make(chan struct{})
		go func() { f.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			f.cmd.Process.Kill()
			<-done
		}
	})
	return f.stats
}

// keyLookup runs the AuthorizedKeysCommand as sshd does (jitssh-authkeys-c,
// empty environment, "-- USER FINGERPRINT") and reports whether it served
// the client's key, and how long it took.
func (h *jitHost) keyLookup(user, fp string, args ...string) (bool, time.Duration, string) {
	bin, err := buildSafe()
	if err != nil {
		h.t.Fatal(err)
	}
	if len(args) == 0 {
		args = []string{"--socket", h.keysSocket, "--fallback", "none"}
	}
	cmd := exec.Command(filepath.Join(filepath.Dir(bin), "jitssh-authkeys-c"), append(args, "--", user, fp)...)
	cmd.Env = []string{}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	ok := err == nil && strings.Contains(out.String(), h.readLine(h.clientKey+".pub"))
	return ok, d, strings.TrimSpace(errOut.String())
}

// keyLookups runs n key lookups one after the other and returns how many
// failed and their durations.
func (h *jitHost) keyLookups(user, fp string, n int) (failed int, ds []time.Duration, why []string) {
	for i := 0; i < n; i++ {
		ok, d, errOut := h.keyLookup(user, fp)
		ds = append(ds, d)
		if !ok {
			failed++
			why = append(why, errOut)
		}
	}
	return failed, ds, why
}

// startProcess runs the service as its own process (the jitssh-host
// binary), in place of the in-process one, so that its memory and file
// descriptors can be measured and limited.
func (h *jitHost) startProcess() {
	h.t.Helper()
	h.stopService()
	bin, err := buildSafe()
	if err != nil {
		h.t.Fatal(err)
	}
	if b := os.Getenv("JITSSH_BENCH_USERDB_BIN"); b != "" {
		bin = b // bench/userdb-flood.sh: another build, to compare
	}
	cmd := exec.Command(bin, "userdb", "--config", h.config)
	var logs bytes.Buffer
	var logMu sync.Mutex
	cmd.Stderr = lockedWriter{&logMu, &logs}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	h.proc = cmd
	sock := filepath.Join(userdb.Dir, h.service)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err1 := os.Stat(sock)
		_, err2 := os.Stat(h.keysSocket)
		if err1 == nil && err2 == nil {
			break
		}
		select {
		case err := <-exited:
			h.t.Fatalf("userdb exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatal("userdb sockets did not appear")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var exitErr error
	var gone bool
	h.stop = func() {
		if !gone {
			cmd.Process.Signal(syscall.SIGTERM)
			exitErr, gone = <-exited, true
		}
		logMu.Lock()
		if exitErr != nil {
			h.t.Errorf("userdb exited: %v\n%s", exitErr, logs.String())
		}
		logMu.Unlock()
		for _, s := range []string{sock, h.keysSocket} {
			if _, err := os.Lstat(s); !errors.Is(err, os.ErrNotExist) {
				h.t.Errorf("userdb socket %s left behind", s)
				os.Remove(s)
			}
		}
	}
	h.procLogs = func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.String()
	}
	// alive reports whether the process still runs (and what it logged if not).
	h.alive = func() (bool, string) {
		if !gone {
			select {
			case exitErr = <-exited:
				gone = true
			default:
				return true, ""
			}
		}
		logMu.Lock()
		defer logMu.Unlock()
		return false, fmt.Sprintf("%v\n%s", exitErr, logs.String())
	}
}

// procCPU returns the CPU time (user and system) process pid has used.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): state is 3,
	// utime 14, stime 15 (clock ticks, 100 a second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// procStatus returns a field of /proc/PID/status in bytes (VmRSS, VmHWM).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

func auditCount(events []map[string]any, event, source string) int {
	n := 0
	for _, e := range events {
		if e["event"] == event && (source == "*" || e["source"] == source) {
			n++
		}
	}
	return n
}

// TestUserdbLookupFloodAsNobody: while nobody floods the service with
// lookups of made-up names (1,000 at once, IMDS answering in 1–2 ms),
// every key lookup of sshd's AuthorizedKeysCommand and every real login
// (a user already created, and a new one created by sshd's own getpwnam
// through nss-systemd) succeeds, and the audit trail does not grow with
// the flood (issue 10, item 2).
func TestUserdbLookupFloodAsNobody(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)
	h.useClient("jitssh-authkeys-c")
	h.delay.Store(int64(time.Millisecond))
	name := randName("fl")
	h.push(name, adminCaller)
	if out, err := h.login(name, "echo logged-in"); err != nil || !strings.Contains(out, "logged-in") {
		t.Fatalf("login before the flood: %v\n%s", err, out)
	}
	fp := fingerprint(t, h.readLine(h.clientKey+".pub"))
	idleFailed, idle, _ := h.keyLookups(name, fp, 10)
	if idleFailed > 0 {
		t.Fatalf("%d of 10 key lookups failed without a flood", idleFailed)
	}
	auditBefore := h.auditEvents()

	f := startFlood(t, "lookup", filepath.Join(userdb.Dir, h.service), h.service, 1000, 0)
	time.Sleep(time.Second)
	failed, flooded, why := h.keyLookups(name, fp, 30)
	var loginErrs []string
	if out, err := h.login(name, "echo logged-in"); err != nil || !strings.Contains(out, "logged-in") {
		loginErrs = append(loginErrs, fmt.Sprintf("%s (created before): %v\n%s", name, err, out))
	}
	fresh := randName("fl")
	h.push(fresh, adminCaller)
	if out, err := h.login(fresh, "echo logged-in"); err != nil || !strings.Contains(out, "logged-in") {
		loginErrs = append(loginErrs, fmt.Sprintf("%s (first login, created by sshd's getpwnam): %v\n%s", fresh, err, out))
	}
	stats := f.stop()
	t.Logf("flood: %s; key lookups idle p50 %v p99 %v, flooded p50 %v p99 %v", stats, pct(idle, 50), pct(idle, 99), pct(flooded, 50), pct(flooded, 99))
	if failed > 0 {
		t.Errorf("%d of 30 key lookups failed during the flood: %q", failed, why)
	}
	for _, e := range loginErrs {
		t.Errorf("login during the flood failed: %s", e)
	}
	var calls int
	fmt.Sscanf(stats, "calls %d", &calls)
	if calls < 1000 {
		t.Errorf("the flood made only %d lookups (%s)", calls, stats)
	}
	// Refusals of made-up names: a few recorded one by one, the rest in
	// summaries; never one event per name looked up.
	after := h.auditEvents()[len(auditBefore):]
	if n := auditCount(after, "request-refused", "userdb"); n > 40 {
		t.Errorf("%d request-refused audit events from %d lookups of made-up names", n, calls)
	}
}

// TestUserdbConnectionFloodAsNobody: nobody opens 1,000 connections, each
// holding the first 256 KiB of a message that never ends; the service (its
// own process) grows by less than 64 MiB, keeps running, and serves key
// lookups and logins throughout (issue 10, item 3).
func TestUserdbConnectionFloodAsNobody(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)
	h.useClient("jitssh-authkeys-c")
	h.startProcess()
	name := randName("fc")
	h.push(name, adminCaller)
	if out, err := h.login(name, "echo logged-in"); err != nil || !strings.Contains(out, "logged-in") {
		t.Fatalf("login before the flood: %v\n%s", err, out)
	}
	fp := fingerprint(t, h.readLine(h.clientKey+".pub"))
	if failed, _, why := h.keyLookups(name, fp, 5); failed > 0 {
		t.Fatalf("key lookups before the flood: %q", why)
	}
	pid := h.proc.Process.Pid
	base := procStatus(pid, "VmRSS")

	f := startFlood(t, "conns", filepath.Join(userdb.Dir, h.service), h.service, 1000, 256<<10)
	time.Sleep(2 * time.Second)
	failed, ds, why := h.keyLookups(name, fp, 10)
	var loginErr error
	out, err := h.login(name, "echo logged-in")
	if err != nil || !strings.Contains(out, "logged-in") {
		loginErr = fmt.Errorf("%v\n%s", err, out)
	}
	time.Sleep(time.Second)
	peak := procStatus(pid, "VmHWM")
	stats := f.stop()
	t.Logf("flood: %s; RSS %d MiB before, peak %d MiB; key lookups p50 %v p99 %v", stats, base>>20, peak>>20, pct(ds, 50), pct(ds, 99))
	if alive, logs := h.alive(); !alive {
		t.Fatalf("the service exited during the flood: %s", logs)
	}
	if peak-base > 64<<20 {
		t.Errorf("the service grew by %d MiB under 1,000 connections (RSS %d MiB → peak %d MiB), want under 64 MiB", (peak-base)>>20, base>>20, peak>>20)
	}
	if failed > 0 {
		t.Errorf("%d of 10 key lookups failed during the flood: %q", failed, why)
	}
	if loginErr != nil {
		t.Errorf("login during the flood: %v", loginErr)
	}
}

// TestUserdbAcceptErrorsAsNobody: with its file descriptors used up (a low
// RLIMIT_NOFILE and nobody holding connections), accept fails with EMFILE;
// the service neither exits nor stops serving: once the connections are
// gone, lookups, key lookups and logins work again (issue 10, item 3).
func TestUserdbAcceptErrorsAsNobody(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)
	h.useClient("jitssh-authkeys-c")
	h.startProcess()
	name := randName("fe")
	h.push(name, adminCaller)
	if out, err := h.login(name, "echo logged-in"); err != nil || !strings.Contains(out, "logged-in") {
		t.Fatalf("login before: %v\n%s", err, out)
	}
	fp := fingerprint(t, h.readLine(h.clientKey+".pub"))
	pid := h.proc.Process.Pid
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var orig unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &orig); err != nil {
		t.Fatal(err)
	}
	low := unix.Rlimit{Cur: uint64(len(fds) + 4), Max: orig.Max}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &low, nil); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			unix.Prlimit(pid, unix.RLIMIT_NOFILE, &orig, nil)
		}
	}
	defer restore()

	f := startFlood(t, "idle", filepath.Join(userdb.Dir, h.service), h.service, 40, 0)
	time.Sleep(1500 * time.Millisecond) // accept fails with EMFILE, again and again
	if alive, logs := h.alive(); !alive {
		t.Fatalf("the service exited when it ran out of file descriptors: %s", logs)
	}
	stats := f.stop()
	restore()
	t.Logf("flood: %s (RLIMIT_NOFILE %d with %d open)", stats, low.Cur, len(fds))
	if logs := h.procLogs(); !strings.Contains(logs, "too many open files") {
		t.Errorf("the service never ran out of file descriptors, so this proves nothing; its log:\n%s", logs)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := varlink.Invoke(context.Background(), filepath.Join(userdb.Dir, h.service), "io.systemd.UserDatabase.GetUserRecord", map[string]any{"userName": name, "service": h.service}, false)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			alive, logs := h.alive()
			t.Fatalf("no lookup answered after the connections closed: %v (alive %v) %s", err, alive, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ok, _, why := h.keyLookup(name, fp); !ok {
		t.Errorf("key lookup after EMFILE: %s", why)
	}
	if out, err := h.login(name, "echo logged-in"); err != nil || !strings.Contains(out, "logged-in") {
		t.Errorf("login after EMFILE: %v\n%s", err, out)
	}
	if alive, logs := h.alive(); !alive {
		t.Fatalf("the service exited: %s", logs)
	}
}

// TestJITLookupBeforePushThenLogin: `getent passwd NAME` of a name nobody
// pushed a key for yet (by root, and by another user), then the push, then
// at once the login of NAME: it succeeds, with the production
// negative_ttl (issue 10: the 2 s negative cache refused it).
func TestJITLookupBeforePushThenLogin(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)
	h.stopService()
	conf, err := os.ReadFile(h.config)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(h.config, bytes.Replace(conf, []byte("negative_ttl = \"100ms\"\n"), nil, 1), 0o600)
	h.start()
	for _, as := range []string{"root", "nobody"} {
		name := randName("jp")
		look := exec.Command("getent", "passwd", name)
		if as != "root" {
			look = exec.Command("runuser", "-u", as, "--", "getent", "passwd", name)
		}
		if out, err := look.CombinedOutput(); err == nil {
			t.Fatalf("getent passwd %s as %s before the push: %q", name, as, out)
		}
		h.push(name, adminCaller)
		if out, err := h.login(name, "echo logged-in"); err != nil || !strings.Contains(out, "logged-in") {
			t.Errorf("login right after a lookup by %s and the push: %v\n%s", as, err, out)
		}
	}
}

// TestAuthKeysFallsBackWhenServiceStops: with the service stopped (its
// sockets gone), jitssh-authkeys-c hands over to jitssh-authkeys and on to
// jitssh-host authorized-keys, which serves the key.
func TestAuthKeysFallsBackWhenServiceStops(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)
	h.useClient("jitssh-authkeys-c")
	name := randName("fb")
	h.push(name, adminCaller)
	fp := fingerprint(t, h.readLine(h.clientKey+".pub"))
	args := []string{"--socket", h.keysSocket, "--config", h.config}
	if ok, _, why := h.keyLookup(name, fp, args...); !ok {
		t.Fatalf("key lookup with the service: %s", why)
	}
	h.stopService()
	ok, d, why := h.keyLookup(name, fp, args...)
	if !ok {
		t.Errorf("key lookup with the service stopped did not fall back: %s", why)
	}
	if d > 3*time.Second {
		t.Errorf("the fallback took %v: the client waited for a service that was gone", d)
	}
}

// busyAsNobody runs one busy loop per CPU as nobody: the CPU a flood
// process burns, without the flood (the benchmark's control).
func busyAsNobody(b *testing.B) (stop func()) {
	b.Helper()
	nobody := runas.Nobody(b)
	var procs []*exec.Cmd
	stop = func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}
	for i := 0; i < runtime.NumCPU(); i++ {
		p := exec.Command("/bin/sh", "-c", "while :; do :; done")
		p.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
		if err := p.Start(); err != nil {
			stop()
			b.Fatal(err)
		}
		procs = append(procs, p)
	}
	time.Sleep(200 * time.Millisecond)
	return stop
}

// BenchmarkUserdbFlood measures what an unprivileged user's flood does to
// logins (issue 10); bench/userdb-flood.sh runs it:
//
//	go test -run '^$' -bench UserdbFlood -benchtime 200x ./internal/hostcli
//
// The service runs as its own process ($JITSSH_BENCH_USERDB_BIN, another
// jitssh-host build, to compare), IMDS answers in 1–2 ms. Sub-benchmarks:
//   - lookups: b.N key lookups (jitssh-authkeys-c as sshd runs it) and
//     b.N/20 real sshd logins of a created user, each phase in turn: idle;
//     cpu (one busy loop per CPU as nobody: the control); flood (nobody
//     looking up made-up names, 1,000 at once). Metrics: keys-PHASE-ok-%,
//     keys-PHASE-ms-p50/p99, login-PHASE-ok-%, login-PHASE-ms-p99, and
//     keys-flood/idle-p99 (ratio of p99s);
//   - connections: nobody opening 1,000 connections that each send 256 KiB
//     of a message that never ends, for 3 s, while b.N/10 key lookups run:
//     rss-growth-MiB (peak RSS minus RSS before), keys-ok-%.
func BenchmarkUserdbFlood(b *testing.B) {
	requireRootSSHD(b)
	var push func()
	setup := func(b *testing.B) (*jitHost, string, string) {
		h := newJITHost(b)
		// Keys and staples signed once, as EC2 serves them (the sandbox's
		// IMDS signs on every request, which would measure the sandbox).
		pre := &precomputedIMDS{inner: h.imds.Handler()}
		h.imds.SetHandler(pre)
		h.useClient("jitssh-authkeys-c")
		h.startProcess()
		h.delay.Store(int64(time.Millisecond))
		name := randName("bf")
		push = func() { // again before it expires (keys live 60 s)
			if h.world.Now().Add(15 * time.Second).After(h.lastPush) {
				h.push(name, adminCaller)
				pre.forget()
			}
		}
		push()
		if out, err := h.login(name, "true"); err != nil {
			b.Fatalf("first login: %v\n%s", err, out)
		}
		return h, name, fingerprint2(b, h.readLine(h.clientKey+".pub"))
	}
	okPct := func(failed, n int) float64 { return 100 * float64(n-failed) / float64(max(n, 1)) }

	b.Run("lookups", func(b *testing.B) {
		h, name, fp := setup(b)
		load := loadAverage()
		p99 := map[string]time.Duration{}
		b.ResetTimer()
		for _, phase := range []string{"idle", "cpu", "flood"} {
			var stop func()
			switch phase {
			case "cpu":
				stop = busyAsNobody(b)
			case "flood":
				f := startFlood(b, "lookup", filepath.Join(userdb.Dir, h.service), h.service, 1000, 0)
				time.Sleep(time.Second)
				cpu0, start := procCPU(h.proc.Process.Pid), time.Now()
				stop = func() {
					service := procCPU(h.proc.Process.Pid) - cpu0
					b.Logf("flood: %s", f.stop())
					wall := time.Since(start)
					flooder := f.cmd.ProcessState.UserTime() + f.cmd.ProcessState.SystemTime()
					b.ReportMetric(100*float64(service)/float64(wall), "service-cpu-flood-%")
					b.ReportMetric(100*float64(flooder)/float64(wall), "flooder-cpu-%")
				}
			}
			var keys, logins []time.Duration
			keysFailed, loginsFailed := 0, 0
			for i := 0; i < b.N; i++ {
				push()
				ok, d, _ := h.keyLookup(name, fp)
				keys = append(keys, d)
				if !ok {
					keysFailed++
				}
				if i%20 == 0 {
					start := time.Now()
					out, err := h.login(name, "true")
					logins = append(logins, time.Since(start))
					if err != nil {
						loginsFailed++
						b.Logf("%s: login failed: %v\n%s", phase, err, out)
					}
				}
			}
			if stop != nil {
				stop()
			}
			p99[phase] = pct(keys, 99)
			b.ReportMetric(okPct(keysFailed, len(keys)), "keys-"+phase+"-ok-%")
			b.ReportMetric(ms(pct(keys, 50)), "keys-"+phase+"-ms-p50")
			b.ReportMetric(ms(pct(keys, 99)), "keys-"+phase+"-ms-p99")
			b.ReportMetric(okPct(loginsFailed, len(logins)), "login-"+phase+"-ok-%")
			b.ReportMetric(ms(pct(logins, 99)), "login-"+phase+"-ms-p99")
		}
		b.StopTimer()
		b.ReportMetric(load, "load1")
		b.ReportMetric(float64(p99["flood"])/float64(p99["idle"]), "keys-flood/idle-p99")
		b.ReportMetric(float64(p99["cpu"])/float64(p99["idle"]), "keys-cpu/idle-p99")
	})

	b.Run("connections", func(b *testing.B) {
		h, name, fp := setup(b)
		pid := h.proc.Process.Pid
		base := procStatus(pid, "VmRSS")
		b.ResetTimer()
		f := startFlood(b, "conns", filepath.Join(userdb.Dir, h.service), h.service, 1000, 256<<10)
		start := time.Now()
		failed, n := 0, 0
		for i := 0; i < max(b.N/10, 5) || time.Since(start) < 3*time.Second; i++ {
			push()
			ok, _, _ := h.keyLookup(name, fp)
			n++
			if !ok {
				failed++
			}
		}
		peak := procStatus(pid, "VmHWM")
		b.Logf("flood: %s", f.stop())
		b.StopTimer()
		if alive, logs := h.alive(); !alive {
			b.Fatalf("the service exited: %s", logs)
		}
		b.ReportMetric(float64(peak-base)/(1<<20), "rss-growth-MiB")
		b.ReportMetric(float64(base)/(1<<20), "rss-before-MiB")
		b.ReportMetric(okPct(failed, n), "keys-ok-%")
	})
}

// fingerprint2 is fingerprint for benchmarks.
func fingerprint2(b *testing.B, line string) string {
	b.Helper()
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		b.Fatal(err)
	}
	return ssh.FingerprintSHA256(pk)
}
