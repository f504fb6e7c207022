package hostcli_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/eickey"
	"github.com/jitssh/jitssh/internal/host/userdb"
	"github.com/jitssh/jitssh/internal/hostcli"
	"github.com/jitssh/jitssh/internal/sandbox/signer"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/imdsfixture"
	"github.com/jitssh/jitssh/internal/varlink"
)

const adminCaller = "arn:aws:sts::123456789012:assumed-role/Admin/alice"

// requireRoot fails under JITSSH_REQUIRE_SSHD=1 (CI) and skips elsewhere.
func requireRootSSHD(t testing.TB) {
	t.Helper()
	skip := func(why string) {
		t.Helper()
		if os.Getenv("JITSSH_REQUIRE_SSHD") == "1" {
			t.Fatalf("JITSSH_REQUIRE_SSHD=1 but %s", why)
		}
		t.Skip(why)
	}
	if testing.Short() {
		t.Skip("runs sshd, getent and the userdb service")
	}
	if os.Getenv("JITSSH_REQUIRE_SSHD") != "1" && os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		skip("no /usr/sbin/sshd")
	}
	for _, c := range []string{"ssh", "ssh-keygen", "getent"} {
		if _, err := exec.LookPath(c); err != nil {
			skip("no " + c)
		}
	}
	if os.Geteuid() != 0 {
		skip("sshd -i and the userdb socket need root")
	}
	if b, err := os.ReadFile("/etc/nsswitch.conf"); err != nil || !strings.Contains(string(b), "systemd") {
		skip("nss-systemd is not in /etc/nsswitch.conf")
	}
}

// TestMain removes the directory buildSafe made.
// It also runs this binary as a flood process (floodMain) when asked to.
func TestMain(m *testing.M) {
	if mode := os.Getenv(floodEnv); mode != "" {
		os.Exit(floodMain(mode))
	}
	code := m.Run()
	if safeDir != "" {
		os.RemoveAll(safeDir)
	}
	if floodDir != "" {
		os.RemoveAll(floodDir)
	}
	os.Exit(code)
}

// safeDir is set once, by buildSafe, before any test reads it.
var safeDir string

// buildSafe builds jitssh-host and jitssh-authkeys into a root-owned
// directory sshd accepts, and returns the path of jitssh-host.
var buildSafe = sync.OnceValues(func() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(cache, "jitssh-host-jit-")
	if err != nil {
		return "", err
	}
	safeDir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "jitssh-host")
	if out, err := exec.Command("go", "build", "-o", dir+"/", "github.com/jitssh/jitssh/cmd/jitssh-host", "github.com/jitssh/jitssh/cmd/jitssh-authkeys").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	// jitssh-authkeys-c too, when there is a C compiler (useClient).
	if cc, err := exec.LookPath("cc"); err == nil {
		if out, err := exec.Command(cc, "-std=c99", "-O2", "-static", "-Wall", "-Wextra", "-Werror", "-o", filepath.Join(dir, "jitssh-authkeys-c"), "../../cmd/jitssh-authkeys-c/authkeys.c").CombinedOutput(); err != nil {
			return "", fmt.Errorf("cc: %v\n%s", err, out)
		}
	}
	return bin, nil
})

// jitHost is one simulated instance with its IMDS, the real sshd (one
// `sshd -i` per login, through ProxyCommand) and the userdb service
// answering glibc through a socket of its own in /run/systemd/userdb.
type jitHost struct {
	t     testing.TB
	world *world.World
	imds  *imdsfixture.IMDS

	dir, config, audit, state, homes, service string
	blockFile                                 string
	keysSocket                                string
	clientKey, knownHosts, sshdConfig         string

	stop     func()
	lastPush time.Time // expiry of the last key pushed
	// delay, when set, delays every IMDS answer by delay plus up to delay
	// more: EC2's IMDS answers in 1–2 ms.
	delay atomic.Int64
	// proc is the service when it runs as its own process (startProcess),
	// alive whether it still runs.
	proc     *exec.Cmd
	alive    func() (bool, string)
	procLogs func() string
	logs     func() string // the in-process service's log so far
}

func randName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func newJITHost(t testing.TB, roots ...*signer.Signer) *jitHost {
	t.Helper()
	bin, err := buildSafe()
	if err != nil {
		t.Fatal(err)
	}
	h := &jitHost{t: t, dir: t.TempDir()}
	h.imds = imdsfixture.New(t, imdsfixture.Options{Region: region, Instance: world.Instance{ID: instanceID},
		Intercept: func(http.ResponseWriter, *http.Request) bool {
			if d := time.Duration(h.delay.Load()); d > 0 {
				time.Sleep(d + time.Duration(mrand.Int64N(int64(d))))
			}
			return false
		}})
	h.world = h.imds.World
	rootsFile := h.imds.WriteRoots(t, filepath.Join(h.dir, "roots.pem"), roots...)
	// Homes must be reachable by the users: not under a 0700 test dir.
	h.homes, err = os.MkdirTemp("", "jitssh-homes-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(h.homes, 0o755)
	t.Cleanup(func() { os.RemoveAll(h.homes) })
	h.service = randName("io.jitssh.test-")
	// The service's io.jitssh.Keys socket, which sshd's
	// AuthorizedKeysCommand (jitssh-authkeys) asks; short for sun_path.
	keysDir, err := os.MkdirTemp("", "jk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(keysDir) })
	h.keysSocket = filepath.Join(keysDir, "keys")
	h.audit = filepath.Join(h.dir, "audit.jsonl")
	h.blockFile = filepath.Join(h.dir, "blocked")
	h.state = filepath.Join(h.dir, "state", "users.json")
	h.config = filepath.Join(h.dir, "host.toml")
	conf := fmt.Sprintf(`imds_endpoint = %q
trusted_roots = %q
audit_file = %q
syslog = false
timeout = "2s"
keys_socket = %q
block_file = %q

[jit]
service = %q
state_file = %q
home_base = %q
uid_min = 3000000
uid_max = 3999999
negative_ttl = "100ms"
groups_window = "5s"

[[jit.groups]]
caller = "arn:aws:sts::*:assumed-role/Admin/*"
groups = ["sudo", "adm"]
`, h.imds.URL, rootsFile, h.audit, h.keysSocket, h.blockFile, h.service, h.state, h.homes)
	if err := os.WriteFile(h.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	h.clientKey = filepath.Join(h.dir, "id_ed25519")
	hostKey := filepath.Join(h.dir, "host_ed25519")
	for _, k := range []string{h.clientKey, hostKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	h.knownHosts = filepath.Join(h.dir, "known_hosts")
	os.WriteFile(h.knownHosts, []byte("jitssh-test "+h.readLine(hostKey+".pub")+"\n"), 0o600)
	h.sshdConfig = filepath.Join(h.dir, "sshd_config")
	sshdConf := strings.Join([]string{
		"HostKey " + hostKey,
		"AuthorizedKeysFile none",
		"AuthorizedKeysCommand " + filepath.Join(filepath.Dir(bin), "jitssh-authkeys") + " --socket " + h.keysSocket + " --fallback none -- %u %f",
		"AuthorizedKeysCommandUser root",
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM yes",
		"PidFile none",
		"PrintMotd no",
		"LogLevel VERBOSE",
	}, "\n") + "\n"
	os.WriteFile(h.sshdConfig, []byte(sshdConf), 0o600)
	os.MkdirAll("/run/sshd", 0o755)
	h.start()
	t.Cleanup(h.stopService)
	return h
}

// useClient makes sshd's AuthorizedKeysCommand the named client
// (jitssh-authkeys or jitssh-authkeys-c) from the next login on: every
// login runs its own `sshd -i`, which reads the configuration afresh.
func (h *jitHost) useClient(name string) {
	h.t.Helper()
	bin, err := buildSafe()
	if err != nil {
		h.t.Fatal(err)
	}
	client := filepath.Join(filepath.Dir(bin), name)
	if _, err := os.Stat(client); err != nil {
		skip := h.t.Skip
		if os.Getenv("JITSSH_REQUIRE_SSHD") == "1" {
			skip = h.t.Fatal
		}
		skip(name + " was not built (no C compiler, cc: install gcc and libc6-dev): " + err.Error())
	}
	b, err := os.ReadFile(h.sshdConfig)
	if err != nil {
		h.t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "AuthorizedKeysCommand ") {
			l = "AuthorizedKeysCommand " + client + " --socket " + h.keysSocket + " --fallback none -- %u %f"
		}
		lines = append(lines, l)
	}
	if err := os.WriteFile(h.sshdConfig, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *jitHost) setSigner(s *signer.Signer) {
	h.imds.SetSigner(s)
}

func (h *jitHost) setOverride(path, body string) {
	switch body {
	case "":
		h.imds.Override(path, nil)
	case "404":
		h.imds.NotFound(path)
	default:
		h.imds.Serve(path, body)
	}
}

func (h *jitHost) readLine(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// start runs `jitssh-host userdb` in this process, so that its socket goes
// away with the test even when it fails.
func (h *jitHost) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var logs bytes.Buffer
	var logMu sync.Mutex
	go func() {
		done <- hostcli.Main(ctx, []string{"userdb", "--config", h.config}, discardWriter{}, lockedWriter{&logMu, &logs})
	}()
	sock := filepath.Join(userdb.Dir, h.service)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Connect, not stat: a crashed service leaves its socket file.
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			c.Close()
			break
		}
		select {
		case code := <-done:
			h.t.Fatalf("userdb exited with %d:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatal("userdb socket did not appear")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.logs = func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.String()
	}
	h.stop = func() {
		cancel()
		if code := <-done; code != 0 {
			logMu.Lock()
			h.t.Errorf("userdb exited with %d:\n%s", code, logs.String())
			logMu.Unlock()
		}
		for _, sock := range []string{sock, h.keysSocket} {
			if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
				h.t.Errorf("userdb socket %s left behind", sock)
				os.Remove(sock)
			}
		}
	}
}

func (h *jitHost) stopService() {
	if h.stop != nil {
		h.stop()
		h.stop = nil
	}
}

type discardWriter struct{}

func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (h *jitHost) push(user, caller string) {
	h.lastPush = h.world.Now().Add(time.Minute)
	h.world.PushKey(world.PushedKey{InstanceID: instanceID, OSUser: user, PublicKey: h.readLine(h.clientKey + ".pub"), Caller: caller, RequestID: "req-" + user})
}

func (h *jitHost) sshCmd(ctx context.Context, user string, command ...string) *exec.Cmd {
	args := []string{"-F", "/dev/null", "-i", h.clientKey, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + h.knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "ProxyCommand=/usr/sbin/sshd -i -e -f " + h.sshdConfig, "-l", user, "jitssh-test", "--"}
	return exec.CommandContext(ctx, "ssh", append(args, command...)...)
}

func (h *jitHost) login(user string, command ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := h.sshCmd(ctx, user, command...).CombinedOutput()
	return string(out), err
}

// getent runs glibc's getent; nss-systemd asks every userdb socket.
func getent(db, key string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "getent", db, key).Output()
	return strings.TrimSpace(string(out)), err
}

func (h *jitHost) users() map[string]uint32 {
	h.t.Helper()
	b, err := os.ReadFile(h.state)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]uint32{}
	}
	if err != nil {
		h.t.Fatal(err)
	}
	var st struct {
		Users map[string]struct{ UID uint32 } `json:"users"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		h.t.Fatal(err)
	}
	out := map[string]uint32{}
	for n, u := range st.Users {
		out[n] = u.UID
	}
	return out
}

func (h *jitHost) auditEvents() []map[string]any {
	f, err := os.Open(h.audit)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestJITUserRealSSHD is the acceptance test of just-in-time users: the
// real sshd with jitssh-host authorized-keys and the userdb service, glibc
// through nss-systemd, and nothing in /etc/passwd.
func TestJITUserRealSSHD(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)
	name := randName("jit")
	if _, err := getent("passwd", name); err == nil {
		t.Fatalf("%s exists before the test", name)
	}

	// No key: no login, no user.
	if out, err := h.login(name, "true"); err == nil {
		t.Fatalf("login without a key succeeded:\n%s", out)
	}
	if out, err := getent("passwd", name); err == nil {
		t.Fatalf("getent passwd %s without a key = %q", name, out)
	}

	// After a key push by an Admin caller: login, home, groups.
	h.push(name, adminCaller)
	start := time.Now()
	out, err := h.login(name, "id; pwd; ls -A; echo logged-in")
	if err != nil || !strings.Contains(out, "logged-in") {
		t.Fatalf("login after the key push: %v\n%s", err, out)
	}
	t.Logf("first login (user creation) took %v", time.Since(start))
	uid := h.users()[name]
	if uid < 3000000 || uid > 3999999 {
		t.Fatalf("state has uid %d for %s", uid, name)
	}
	home := filepath.Join(h.homes, name)
	for _, want := range []string{
		fmt.Sprintf("uid=%d(%s) gid=%d(%s) groups=%d(%s)", uid, name, uid, name, uid, name),
		"4(adm)", "27(sudo)", "\n" + home + "\n", ".bashrc",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("session output lacks %q:\n%s", want, out)
		}
	}
	fi, err := os.Stat(home)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != uid || fi.Mode().Perm() != 0o700 {
		t.Errorf("home %s: owner %d:%d mode %v", home, st.Uid, st.Gid, fi.Mode().Perm())
	}
	if pw, err := getent("passwd", name); err != nil || pw != fmt.Sprintf("%s:x:%d:%d:jitssh %s:%s:/bin/bash", name, uid, uid, name, home) {
		t.Errorf("getent passwd %s = %q, %v", name, pw, err)
	}
	if gr, err := getent("group", name); err != nil || !strings.HasPrefix(gr, fmt.Sprintf("%s:x:%d:", name, uid)) {
		t.Errorf("getent group %s = %q, %v", name, gr, err)
	}
	if pw, err := getent("passwd", fmt.Sprint(uid)); err != nil || !strings.HasPrefix(pw, name+":") {
		t.Errorf("getent passwd %d = %q, %v", uid, pw, err)
	}

	// A second login keeps the UID; so does a restart of the service.
	// It goes through jitssh-authkeys-c, the same client in C (the first
	// went through jitssh-authkeys): the key is served, and a user without
	// one is still refused.
	h.useClient("jitssh-authkeys-c")
	if out, err := h.login(name, "id -u"); err != nil || !strings.Contains(out, fmt.Sprintf("\n%d\n", uid)) {
		t.Errorf("second login, through jitssh-authkeys-c: %v, id -u = %q, want %d", err, out, uid)
	}
	if out, err := h.login(randName("jit"), "true"); err == nil {
		t.Errorf("login without a key through jitssh-authkeys-c succeeded:\n%s", out)
	}
	h.useClient("jitssh-authkeys")
	h.stopService()
	if _, err := getent("passwd", name); err == nil {
		t.Errorf("%s still resolves with the service stopped", name)
	}
	h.start()
	if pw, err := getent("passwd", name); err != nil || !strings.Contains(pw, fmt.Sprintf(":%d:%d:", uid, uid)) {
		t.Errorf("after restart: getent passwd %s = %q, %v", name, pw, err)
	}

	// The audit trail joins the user creation to the caller.
	var created bool
	for _, e := range h.auditEvents() {
		if e["event"] == "user-created" && e["os_user"] == name && e["caller"] == adminCaller && e["uid"] == float64(uid) {
			created = true
		}
	}
	if !created {
		t.Errorf("no user-created audit event for %s: %v", name, h.auditEvents())
	}

	// Incident response: kill ends a running session; remove deletes the user.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess := h.sshCmd(ctx, name, "echo started; sleep 25")
	stdout, _ := sess.StdoutPipe()
	if err := sess.Start(); err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "started\n" {
		t.Fatalf("session did not start: %q", line)
	}
	killStart := time.Now()
	if code, out, errOut := run("users", "kill", "--config", h.config, name); code != 0 || !strings.Contains(out, "killed") {
		t.Errorf("users kill: exit %d, %q, %q", code, out, errOut)
	}
	sess.Wait()
	if d := time.Since(killStart); d > 10*time.Second {
		t.Errorf("session ended %v after users kill", d)
	}
	if code, out, errOut := run("users", "list", "--config", h.config, "--output", "json"); code != 0 || !strings.Contains(out, `"name": "`+name+`"`) {
		t.Errorf("users list: exit %d, %q, %q", code, out, errOut)
	}
	if code, _, errOut := run("users", "remove", "--config", h.config, name); code != 0 {
		t.Errorf("users remove: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("home still there after remove: %v", err)
	}
	if _, ok := h.users()[name]; ok {
		t.Errorf("%s still in the state after remove", name)
	}
}

// TestJITNeverCreated: root, an existing system user and malformed names
// are never created, even with a valid key published for them.
func TestJITNeverCreated(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)
	names := []string{"root", "daemon", "sshd", "nobody", "../x", "a b", strings.Repeat("a", 300), "ROOT", "Root", "-x", "-oProxyCommand=x", "a/b", "x..y",
		// Group names that grant power on common images (the deny list).
		"admin", "sudo", "wheel", "adm", "docker", "lxd", "systemd-journal"}
	for _, n := range names {
		h.push(n, adminCaller)
	}
	sock := filepath.Join(userdb.Dir, h.service)
	for _, n := range names {
		_, err := varlink.Invoke(context.Background(), sock, "io.systemd.UserDatabase.GetUserRecord", map[string]any{"userName": n, "service": h.service}, false)
		var re *varlink.ReplyError
		if !errors.As(err, &re) || re.Name != userdb.ErrNoRecordFound {
			t.Errorf("GetUserRecord(%q) = %v, want NoRecordFound", n, err)
		}
		if n != "root" && n != "daemon" && n != "sshd" && n != "nobody" {
			if out, err := getent("passwd", n); err == nil {
				t.Errorf("getent passwd %q = %q", n, out)
			}
		}
	}
	if u := h.users(); len(u) != 0 {
		t.Errorf("users created: %v", u)
	}
	if entries, _ := os.ReadDir(h.homes); len(entries) != 0 {
		t.Errorf("homes created: %v", entries)
	}
	// A name with a key for another name only is not created either.
	other := randName("jit")
	if out, err := h.login(other, "true"); err == nil {
		t.Errorf("login as %s with no key of its own:\n%s", other, out)
	}
}

// TestJITConcurrentFirstLookups: 50 concurrent getent processes for 10 new
// names create exactly 10 users with distinct UIDs.
func TestJITConcurrentFirstLookups(t *testing.T) {
	requireRootSSHD(t)
	h := newJITHost(t)
	var names []string
	for i := 0; i < 10; i++ {
		n := randName("jc")
		names = append(names, n)
		h.push(n, "arn:aws:sts::123456789012:assumed-role/Developer/x")
	}
	var wg sync.WaitGroup
	results := make([]string, 50)
	errs := make([]error, 50)
	start := time.Now()
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = getent("passwd", names[i%10])
		}()
	}
	wg.Wait()
	t.Logf("50 concurrent first lookups of 10 names took %v", time.Since(start))
	for i, err := range errs {
		if err != nil {
			t.Errorf("getent passwd %s: %v", names[i%10], err)
		}
	}
	users := h.users()
	uids := map[uint32]bool{}
	for _, n := range names {
		uid, ok := users[n]
		if !ok {
			t.Errorf("%s not created", n)
		}
		uids[uid] = true
	}
	if len(users) != 10 || len(uids) != 10 {
		t.Errorf("%d users with %d distinct UIDs, want 10 and 10: %v", len(users), len(uids), users)
	}
	for i, r := range results {
		if want := fmt.Sprintf("%s:x:%d:", names[i%10], users[names[i%10]]); !strings.HasPrefix(r, want) {
			t.Errorf("lookup %d = %q, want prefix %q", i, r, want)
		}
	}
}

// TestJITAdversarialIMDS: every forged or broken IMDS answer is refused
// with a specific audit reason, by the userdb service for a new name and by
// the AuthorizedKeysCommand for an existing user, and the real sshd login
// fails both times.
func TestJITAdversarialIMDS(t *testing.T) {
	requireRootSSHD(t)
	wrongCN, err := signer.NewFromConfig(signer.Config{Region: region, CommonName: "managed-ssh-signer." + region + ".amazonaws.com.evil.example"})
	if err != nil {
		t.Fatal(err)
	}
	untrusted, err := signer.New(region)
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := signer.New(region)
	if err != nil {
		t.Fatal(err)
	}
	revoked.Revoke(revoked.Leaf())
	// A trusted chain the userdb service has not verified (and cached) yet.
	fresh, err := signer.New(region)
	if err != nil {
		t.Fatal(err)
	}
	h := newJITHost(t, wrongCN, revoked, fresh) // "untrusted" is not among the roots
	good, _ := sharedSigner()
	pub := h.readLine(h.clientKey + ".pub")

	blob := func(s *signer.Signer, edit func(*eickey.Draft)) string {
		d := eickey.Draft{Expires: time.Now().Add(time.Minute), Instance: instanceID, Caller: adminCaller, Request: "req-x", KeyLine: pub}
		if edit != nil {
			edit(&d)
		}
		en, err := eickey.Sign(d, s.SignEntry)
		if err != nil {
			t.Fatal(err)
		}
		return string(eickey.Format([]eickey.Entry{en}))
	}
	otherKey := func() string {
		k := filepath.Join(t.TempDir(), "k")
		exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).Run()
		return h.readLine(k + ".pub")
	}()
	tests := []struct {
		name   string
		signer *signer.Signer
		keys   string // active-keys body; "" = the signer's own signing of a push
		ocsp   bool   // hide every OCSP response
		reason string
	}{
		// The attacker swaps their own key into an entry signed for another.
		{name: "tampered key", keys: strings.Replace(blob(good, func(d *eickey.Draft) { d.KeyLine = otherKey }), otherKey, pub, 1), reason: "bad-signature"},
		{name: "tampered metadata", keys: strings.Replace(blob(good, nil), "Admin/alice", "Admin/mallory", 1), reason: "bad-signature"},
		{name: "wrong instance", keys: blob(good, func(d *eickey.Draft) { d.Instance = "i-0fedcba9876543210" }), reason: "wrong-instance"},
		{name: "expired", keys: blob(good, func(d *eickey.Draft) { d.Expires = time.Now().Add(-time.Minute) }), reason: "expired"},
		{name: "wrong CN", signer: wrongCN, reason: "signer-cn-mismatch"},
		{name: "untrusted root", signer: untrusted, reason: "untrusted-signer"},
		{name: "missing OCSP", signer: fresh, ocsp: true, reason: "ocsp-failed"},
		{name: "revoked", signer: revoked, reason: "signer-revoked"},
		{name: "truncated", keys: blob(good, nil)[:len(blob(good, nil))-60], reason: "malformed"},
		// Over what is read from IMDS at all (authkeys.MaxIMDSBody, 8 MiB;
		// a blob between 4 and 8 MiB has its first 4 MiB judged).
		{name: "oversized", keys: strings.Repeat(pub+"\n", (9<<20)/len(pub)), reason: "bad-key-blob"},
		{name: "oversized within the read limit", keys: strings.Repeat(pub+"\n", (5<<20)/len(pub)), reason: "not-verified-over-limit"},
		{name: "garbage", keys: "\x00\xff\xfe garbage\n#Timestamp=nope\n", reason: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			if tt.signer != nil {
				s = tt.signer
			}
			h.setSigner(s)
			defer h.setSigner(good)
			if tt.ocsp {
				for name := range mustOCSP(t, s) {
					h.setOverride("managed-ssh-keys/signer-ocsp/"+name, "404")
					defer h.setOverride("managed-ssh-keys/signer-ocsp/"+name, "")
				}
			}
			for _, user := range []string{randName("adv"), "root"} {
				if tt.keys != "" {
					path := "managed-ssh-keys/active-keys/" + user + "/"
					h.setOverride(path, tt.keys)
					defer h.setOverride(path, "")
				} else {
					h.push(user, adminCaller)
				}
				before := len(h.auditEvents())
				if out, err := h.login(user, "echo logged-in"); err == nil || strings.Contains(out, "logged-in") {
					t.Errorf("%s: login succeeded:\n%s", user, out)
				}
				wantSource := "userdb"
				if user == "root" {
					wantSource = ""
				}
				var reasons []string
				found := false
				for _, e := range h.auditEvents()[before:] {
					src, _ := e["source"].(string)
					reasons = append(reasons, fmt.Sprintf("%s/%v/%v", src, e["event"], e["reason"]))
					if src == wantSource && e["reason"] == tt.reason && e["os_user"] == user {
						found = true
					}
				}
				if !found {
					t.Errorf("%s: no audit event with source %q and reason %q; got %v", user, wantSource, tt.reason, reasons)
				}
				if user != "root" {
					if _, ok := h.users()[user]; ok {
						t.Errorf("%s was created", user)
					}
				}
			}
		})
	}
}

func mustOCSP(t *testing.T, s *signer.Signer) map[string][]byte {
	t.Helper()
	m, err := s.OCSP()
	if err != nil {
		t.Fatal(err)
	}
	return m
}
