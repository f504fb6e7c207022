package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// stampedReader keeps what a pty shows with the time each part arrived.
type stampedReader struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	first  map[string]time.Time // first time the buffer contained each watched string
	watch  []string
	closed chan struct{}
}

func newStampedReader(watch ...string) *stampedReader {
	return &stampedReader{first: map[string]time.Time{}, watch: watch, closed: make(chan struct{})}
}

func (s *stampedReader) run(r io.Reader) {
	defer close(s.closed)
	b := make([]byte, 4096)
	for {
		n, err := r.Read(b)
		s.mu.Lock()
		s.buf.Write(b[:n])
		for _, w := range s.watch {
			if _, ok := s.first[w]; !ok && bytes.Contains(s.buf.Bytes(), []byte(w)) {
				s.first[w] = time.Now()
			}
		}
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *stampedReader) at(w string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.first[w]
	return t, ok
}

func (s *stampedReader) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// With 200 ms on every API call, `jitssh ssh web-1 -- …` on a terminal
// shows what it is doing within a second, on one line that is erased
// before ssh's own output; the remote command's output is unharmed.
// Without a terminal (stderr a pipe), nothing of it is written.
func TestProgressOnATerminalUnderLatency(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	if err := e.sb.SetLatency(map[string]string{"*": "200ms"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "ssh", "web-1", "--", "echo", "REMOTE-DONE")
	cmd.Env = e.vars
	start := time.Now()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	term := newStampedReader("jitssh: web-1: ", "REMOTE-DONE")
	go term.run(ptmx)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("jitssh ssh: %v\n%q", err, term.String())
	}
	select {
	case <-term.closed:
	case <-time.After(5 * time.Second):
	}
	shown, ok := term.at("jitssh: web-1: ")
	if !ok {
		t.Fatalf("no progress on the terminal; it shows:\n%q", term.String())
	}
	d := shown.Sub(start)
	t.Logf("first progress on the terminal %v after start", d.Round(time.Millisecond))
	if d > time.Second {
		t.Errorf("first progress after %v, want within 1s", d)
	}
	done, ok := term.at("REMOTE-DONE")
	if !ok || done.Before(shown) {
		t.Fatalf("remote output missing or before the progress; terminal:\n%q", term.String())
	}
	// Everything drawn is erased before the remote output: the last
	// progress text is followed by an erase, and the output line is clean.
	out := term.String()
	last := strings.LastIndex(out, "jitssh: ")
	rest := out[last:]
	erase := strings.Index(rest, "\r\x1b[K")
	if erase < 0 || erase > strings.Index(rest, "REMOTE-DONE") {
		t.Errorf("progress line not erased before the remote output:\n%q", out)
	}
	if !strings.Contains(out, "\r\x1b[KREMOTE-DONE") && !strings.Contains(out, "\nREMOTE-DONE") && !strings.HasPrefix(strings.TrimLeft(rest[erase+4:], "\r\n"), "REMOTE-DONE") {
		t.Errorf("remote output not on a clean line:\n%q", out)
	}

	// Not a terminal: no progress at all.
	stdout, stderr, err := e.run3(nil, "jitssh", "ssh", "web-1", "--", "echo", "REMOTE-DONE")
	if err != nil || strings.TrimSpace(stdout) != "REMOTE-DONE" {
		t.Fatalf("without a terminal: %v %q\n%s", err, stdout, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr is not a terminal, yet jitssh wrote to it:\n%q", stderr)
	}
}

// `jitssh ssh -v` logs the steps of the proxy ssh starts, which does the
// work (the connection, the transport), not only its own.
func TestVerboseReachesTheProxy(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	_, stderr, err := e.run3(nil, "jitssh", "ssh", "-v", "web-1", "--", "true")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{`msg="transport chosen"`, "msg=connected", `msg="ssh stream ended"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("-v did not reach the proxy: no %s in\n%s", want, stderr)
		}
	}
}

// A login refused after the key push (legacy-1's image has no EC2
// Instance Connect) is explained: the user the key was pushed for and the
// likely causes, after ssh's bare "Permission denied". Through `jitssh
// ssh` in both server modes; through plain ssh (the config block) when
// the server is OpenSSH, whose traffic shows the refusal. A login that
// works gets no such text.
func TestRefusedLoginExplained(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		user := currentUser(t)
		_, stderr, err := e.run3(nil, "jitssh", "ssh", "legacy-1", "--", "true")
		if err == nil {
			t.Fatal("logged in to an instance without EC2 Instance Connect")
		}
		for _, want := range []string{"Permission denied", "the login was refused", `for OS user "` + user + `"`, "i-0a1b2c3d4e5f00008 (legacy-1)", "lacks EC2 Instance Connect"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("jitssh ssh legacy-1: stderr lacks %q:\n%s", want, stderr)
			}
		}
		if _, stderr, err := e.run3(nil, "jitssh", "ssh", "web-1", "--", "true"); err != nil || stderr != "" {
			t.Errorf("jitssh ssh web-1 -- true: %v, stderr %q (want nothing)", err, stderr)
		}
		if e.sb.Instances[0].SSHServer != sshd.OpenSSH.String() {
			return
		}
		_, stderr, err = e.run3(nil, "ssh", "-F", e.sshCf, "i-0a1b2c3d4e5f00008", "true")
		if err == nil || !strings.Contains(stderr, "the login was refused") || !strings.Contains(stderr, `for OS user "`+user+`"`) {
			t.Errorf("plain ssh to legacy-1: %v, stderr lacks the explanation:\n%s", err, stderr)
		}
		if _, stderr, err := e.run3(nil, "ssh", "-F", e.sshCf, e.sb.Instances[0].ID, "true"); err != nil || strings.Contains(stderr, "jitssh") {
			t.Errorf("plain ssh to web-1: %v, stderr %q", err, stderr)
		}
	})
}

// An instance stopped under a live session: ssh says only that the
// connection closed; jitssh says the instance stopped.
func TestStoppedMidSessionExplained(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	db1 := infoByName(t, e.sb, "db-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "ssh", "db-1", "--", "echo UP; sleep 30")
	cmd.Env = e.vars
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "UP" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("session did not start: %q\n%s", line, stderr.String())
	}
	if _, err := e.sb.SetInstanceState(db1.ID, "stopped"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = cmd.Wait()
	if err == nil {
		t.Fatal("the session survived the instance stopping")
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("jitssh ssh took %v to end after the instance stopped", d)
	}
	if want := "ssm connection to " + db1.ID + " (db-1) ended after"; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "because the instance is now stopped") {
		t.Errorf("stderr does not say the instance stopped:\n%s", stderr.String())
	}
}

// `--via` to a target its jump host cannot reach (here: in another VPC)
// fails within 30 s, saying the jump host could not connect to it. (A jump
// host whose connect hangs instead is cut off by the forward deadline:
// connect.TestBastionUnreachableTargetTimesOut.)
func TestViaUnreachableTargetFailsSayingSo(t *testing.T) {
	e := newEnv(t, sshd.Embedded, func(c *sandbox.Config) {
		c.Instances = sandbox.DefaultInstances()
		other := c.Instances[2] // db-1: private, agent online
		other.ID, other.PrivateIP, other.PrivateDNS = "i-0a1b2c3d4e5f000aa", "10.9.0.5", "ip-10-9-0-5.ec2.internal"
		other.VpcID, other.SubnetID = "vpc-0a1b2c3d4e5f6ffff", "subnet-0a1b2c3d4e5f6ffff"
		other.Tags = map[string]string{"Name": "elsewhere-1"}
		c.Instances = append(c.Instances, other)
	})
	start := time.Now()
	_, stderr, err := e.run3(nil, "jitssh", "ssh", "--via", "bastion-1", "elsewhere-1", "--", "true")
	if err == nil {
		t.Fatal("reached a target in another VPC through bastion-1")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v, want under 30s", d)
	}
	if !strings.Contains(stderr, "jump host i-0a1b2c3d4e5f00004 could not connect to 10.9.0.5:22 (i-0a1b2c3d4e5f000aa)") {
		t.Errorf("stderr does not say the jump host could not reach the target:\n%s", stderr)
	}
}

// The proxy catches ssh's SIGHUP to explain, but must still end with ssh:
// whoever reads the stderr they share (a pipe, $(…), a test) waits for
// every holder. A polite SSM shutdown after ssh has gone (up to 5 s for
// acknowledgements nobody sends any more) must not keep it.
func TestProxyEndsWithSSH(t *testing.T) {
	e := managedEnv(t, sshd.Embedded) // the managed instance's key needs ssm:SendCommand
	for _, c := range []struct{ tr, target string }{{"ssm", "web-1"}, {"direct", "web-1"}, {"ssm", builtinMI}} {
		tr := c.tr + " to " + c.target
		start := time.Now()
		_, stderr, err := e.run3(nil, "jitssh", "ssh", "--transport", c.tr, c.target, "--", "true")
		if err != nil {
			t.Fatalf("%s: %v\n%s", tr, err, stderr)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("%s: `jitssh ssh … true` with stderr on a pipe took %v: the proxy outlived ssh", tr, d)
		}
	}
}
