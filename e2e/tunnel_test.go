package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/fault"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// lockedBuffer is a bytes.Buffer safe for a writing process and a
// reading test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// runningTunnel is a `jitssh tunnel … --output json` process.
type runningTunnel struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan error
	ready  struct {
		LocalAddress string `json:"local_address"`
		LocalPort    int    `json:"local_port"`
		InstanceID   string `json:"instance_id"`
		RemoteHost   string `json:"remote_host"`
		RemotePort   int    `json:"remote_port"`
		SessionID    string `json:"session_id"`
	}
}

func startTunnel(t *testing.T, e *env, args ...string) *runningTunnel {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "jitssh"), append(append([]string{"tunnel"}, args...), "--output", "json")...)
	cmd.Env = e.vars
	rt := &runningTunnel{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = rt.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- l
		io.Copy(io.Discard, stdout)
		rt.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
	})
	select {
	case l := <-lines:
		if err := json.Unmarshal([]byte(l), &rt.ready); err != nil || rt.ready.LocalPort == 0 {
			t.Fatalf("tunnel printed %q on stdout (%v); stderr:\n%s", l, err, rt.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("tunnel not ready after 20s; stderr:\n%s", rt.stderr.String())
	}
	if !waitFor(5*time.Second, func() bool { return strings.Contains(rt.stderr.String(), "Forwarding "+rt.ready.LocalAddress) }) {
		t.Fatalf("stderr does not announce the local address:\n%s", rt.stderr.String())
	}
	return rt
}

// stop sends Ctrl-C (SIGINT) and waits for a clean exit.
func (rt *runningTunnel) stop(t *testing.T) {
	t.Helper()
	rt.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-rt.done:
		if err != nil {
			t.Fatalf("tunnel exited with %v after Ctrl-C; stderr:\n%s", err, rt.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("tunnel still running 10s after Ctrl-C; stderr:\n%s", rt.stderr.String())
	}
}

// cloudTrailCount counts the sandbox's CloudTrail records of eventName
// (successful calls only) whose line contains substr.
func (e *env) cloudTrailCount(eventName, substr string) int {
	e.t.Helper()
	b, err := os.ReadFile(e.sb.CloudTrail)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		var ev struct {
			EventName string `json:"eventName"`
			ErrorCode string `json:"errorCode"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.EventName == eventName && ev.ErrorCode == "" && strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// echoThrough sends msg over a new connection to addr and checks it comes back.
func echoThrough(addr string, msg []byte) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	werr := make(chan error, 1)
	go func() { _, err := c.Write(msg); werr <- err }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read echo: %w", err)
	}
	if err := <-werr; err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo of %d bytes differs", len(msg))
	}
	return nil
}

// TestTunnelMultiplexesConnections forwards a local port to the echo
// service (port 7) of web-1 by Name tag: many concurrent connections of
// binary data share one SSM session, and Ctrl-C ends the tunnel and the
// session cleanly.
func TestTunnelMultiplexesConnections(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	in := e.sb.Instances[0]
	rt := startTunnel(t, e, in.Name, "7")
	if rt.ready.InstanceID != in.ID || rt.ready.RemotePort != 7 || !strings.HasPrefix(rt.ready.LocalAddress, "127.0.0.1:") {
		t.Fatalf("ready line %+v", rt.ready)
	}
	start := time.Now()
	var wg sync.WaitGroup
	const conns = 12
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte(i), 0, '\n', '\r', 0xff}, 40000) // 200 kB
			if err := echoThrough(rt.ready.LocalAddress, msg); err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d concurrent connections × 200 kB echoed in %s", conns, time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		t.Fatalf("stderr:\n%s", rt.stderr.String())
	}
	// One session for all of them.
	if n := e.cloudTrailCount("StartSession", ""); n != 1 {
		t.Fatalf("%d SSM sessions for one tunnel, want 1", n)
	}
	sess, ok := e.sb.World.Session(rt.ready.SessionID)
	if !ok || sess.DocumentName != "AWS-StartPortForwardingSession" {
		t.Fatalf("session %s: %+v", rt.ready.SessionID, sess)
	}
	rt.stop(t)
	select {
	case <-sess.Done():
	default:
		t.Fatal("Ctrl-C left the SSM session running (no TerminateSession)")
	}
	if !strings.Contains(rt.stderr.String(), "Tunnel closed after "+strconv.Itoa(conns)+" connections") {
		t.Fatalf("no closing summary on stderr:\n%s", rt.stderr.String())
	}
	if _, err := net.DialTimeout("tcp", rt.ready.LocalAddress, time.Second); err == nil {
		t.Fatal("the local port still accepts connections after Ctrl-C")
	}
}

// TestTunnelToRemoteHostAndRefusedPort reaches another instance's sshd
// through web-1 (AWS-StartPortForwardingSessionToRemoteHost, as for RDS)
// and checks that a port nothing listens on fails each connection with a
// clear warning while the tunnel stays up.
func TestTunnelToRemoteHostAndRefusedPort(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	via, dst := e.sb.Instances[0], e.sb.Instances[1]
	rt := startTunnel(t, e, via.ID, "22", "--remote-host", dst.PrivateIP)
	c, err := net.DialTimeout("tcp", rt.ready.LocalAddress, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Fatalf("banner through the remote-host tunnel = %q, %v; stderr:\n%s", banner, err, rt.stderr.String())
	}
	if s, _ := e.sb.World.Session(rt.ready.SessionID); s == nil || s.DocumentName != "AWS-StartPortForwardingSessionToRemoteHost" || s.Parameters["host"][0] != dst.PrivateIP {
		t.Fatalf("session %+v", s)
	}
	rt.stop(t)

	refused := startTunnel(t, e, via.ID, "8080")
	for i := 0; i < 2; i++ {
		c, err := net.DialTimeout("tcp", refused.ready.LocalAddress, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: the tunnel stopped listening: %v\n%s", i, err, refused.stderr.String())
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(make([]byte, 1))
		c.Close()
		if n != 0 || err == nil {
			t.Fatalf("read through a tunnel to a closed port returned %d, %v", n, err)
		}
	}
	want := "is anything listening on localhost:8080 as seen from " + via.ID
	if !waitFor(5*time.Second, func() bool { return strings.Count(refused.stderr.String(), want) == 2 }) {
		t.Fatalf("stderr does not explain both refused connections (%q):\n%s", want, refused.stderr.String())
	}
	select {
	case err := <-refused.done:
		t.Fatalf("refused connections ended the tunnel: %v\n%s", err, refused.stderr.String())
	default:
	}
	refused.stop(t)
}

// TestTunnelSurvivesServiceCloses keeps a tunnel open while the sandbox
// closes the data channel's websocket every 300 ms (AWS does it about
// hourly): connections made across the closes all work, because the
// session is resumed.
func TestTunnelSurvivesServiceCloses(t *testing.T) {
	e := newEnv(t, sshd.Embedded, func(c *sandbox.Config) {
		c.Faults = fault.Config{CloseAfter: fault.Duration(300 * time.Millisecond)}
	})
	rt := startTunnel(t, e, e.sb.Instances[0].ID, "7")
	for i := 0; i < 8; i++ {
		if err := echoThrough(rt.ready.LocalAddress, bytes.Repeat([]byte{byte(i), 0xfe}, 5000)); err != nil {
			t.Fatalf("echo %d: %v\n%s", i, err, rt.stderr.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if _, resumes := e.sb.FaultStats(); resumes < 3 {
		t.Fatalf("only %d resumes in 2 s of 300 ms service closes", resumes)
	}
	rt.stop(t)
}

// TestSSHThroughTunnel runs the real ssh to 127.0.0.1:LOCALPORT through a
// tunnel to port 22, with a key pushed by EC2 Instance Connect and the
// host key checked against the pin jitssh learned.
func TestSSHThroughTunnel(t *testing.T) {
	e := newEnv(t, bestMode(t))
	in := e.sb.Instances[0]
	// Learn and pin the host key (and check jitssh ssh works at all).
	if out, err := e.run("jitssh", "ssh", in.ID, "--", "true"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	keyDir := t.TempDir()
	key := filepath.Join(keyDir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	user := currentUser(t)
	api := apiClient(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := api.SendSSHPublicKey(ctx, in.ID, user, strings.TrimSpace(string(pub))); err != nil {
		t.Fatal(err)
	}
	rt := startTunnel(t, e, in.ID, "22")
	pins := filepath.Join(e.home, ".config", "jitssh", "known_hosts")
	cmd := exec.CommandContext(ctx, "ssh", "-F", "none", "-p", strconv.Itoa(rt.ready.LocalPort),
		"-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile="+pins, "-o", "HostKeyAlias="+in.ID, "-o", "StrictHostKeyChecking=yes",
		"-l", user, "127.0.0.1", "echo", "through the tunnel on", "$(hostname)")
	cmd.Env = e.vars
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ssh through the tunnel: %v\n%s\ntunnel stderr:\n%s", err, out, rt.stderr.String())
	}
	if got, want := strings.TrimSpace(string(out)), "through the tunnel on "+in.Hostname; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	rt.stop(t)
}

// TestTunnelSeveralPorts forwards two ports in one command, ssh -L style:
// the echo service of web-1 and, through web-1, web-2's SSH server. Both
// work at once over two SSM sessions, and Ctrl-C ends both. A bad
// forwarding or a local port in use fails the command before any session
// starts or any port listens.
func TestTunnelSeveralPorts(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	via, dst := e.sb.Instances[0], e.sb.Instances[1]
	cmd := exec.Command(filepath.Join(binDir, "jitssh"), "tunnel", via.Name, "0:7", "0:"+dst.PrivateIP+":22", "--output", "json")
	cmd.Env = e.vars
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	type ready struct {
		LocalAddress string `json:"local_address"`
		RemoteHost   string `json:"remote_host"`
		RemotePort   int    `json:"remote_port"`
		SessionID    string `json:"session_id"`
	}
	readies := make(chan []ready, 1)
	go func() {
		r := bufio.NewReader(stdout)
		var got []ready
		for range 2 {
			l, err := r.ReadString('\n')
			var x ready
			if err != nil || json.Unmarshal([]byte(l), &x) != nil {
				break
			}
			got = append(got, x)
		}
		readies <- got
		io.Copy(io.Discard, r)
	}()
	var rs []ready
	select {
	case rs = <-readies:
	case <-time.After(20 * time.Second):
		t.Fatalf("not ready; stderr:\n%s", stderr.String())
	}
	if len(rs) != 2 || rs[0].RemotePort != 7 || rs[0].RemoteHost != "" || rs[1].RemotePort != 22 || rs[1].RemoteHost != dst.PrivateIP || rs[0].SessionID == rs[1].SessionID {
		t.Fatalf("ready lines %+v; stderr:\n%s", rs, stderr.String())
	}
	// Both listen once ready is said (stderr says so too).
	for _, r := range rs {
		if !waitFor(5*time.Second, func() bool { return strings.Contains(stderr.String(), "Forwarding "+r.LocalAddress+" to ") }) {
			t.Fatalf("stderr does not announce %s:\n%s", r.LocalAddress, stderr.String())
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs <- echoThrough(rs[0].LocalAddress, bytes.Repeat([]byte("two ports "), 10000))
	}()
	go func() {
		defer wg.Done()
		c, err := net.DialTimeout("tcp", rs[1].LocalAddress, 5*time.Second)
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		banner, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && !strings.HasPrefix(banner, "SSH-2.0-") {
			err = fmt.Errorf("banner %q", banner)
		}
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("%v; stderr:\n%s", err, stderr.String())
		}
	}
	var sessions []*world.Session
	for _, r := range rs {
		s, ok := e.sb.World.Session(r.SessionID)
		if !ok {
			t.Fatalf("no session %s", r.SessionID)
		}
		sessions = append(sessions, s)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tunnel after Ctrl-C: %v\n%s", err, stderr.String())
	}
	for _, s := range sessions {
		select {
		case <-s.Done():
		default:
			t.Fatalf("Ctrl-C left session %s running", s.ID)
		}
	}

	// Nothing starts when one forwarding is bad or its port is taken.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	before := e.cloudTrailCount("StartSession", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"0:7", "8080:web:99999"}, `forwarding "8080:web:99999": port "99999"`},
		{[]string{"0:7", "8080:ho st:22"}, `forwarding "8080:ho st:22": host "ho st"`},
		{[]string{"0:7", fmt.Sprintf("%d:22", takenPort)}, fmt.Sprintf("listen on 127.0.0.1 port %d", takenPort)},
		{[]string{"0:7", "0:22", "--local-port", "9999"}, "--local-port and --remote-host go with a single PORT"},
	} {
		_, stderr, code := runJitssh(t, e.home, append([]string{"tunnel", via.Name}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("tunnel %v: exit %d, stderr %q; want %q", c.args, code, stderr, c.want)
		}
	}
	if n := e.cloudTrailCount("StartSession", ""); n != before {
		t.Fatalf("%d sessions started by failing tunnel commands", n-before)
	}
}
