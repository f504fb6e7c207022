package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestShellWithPipes types commands into `jitssh shell` through a pipe:
// the remote shell runs them (on the instance: its hostname), stdin's end
// ends the session, and the SSM session used the shell document.
func TestShellWithPipes(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	in := e.sb.Instances[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "shell", in.Name)
	cmd.Env = e.vars
	cmd.Stdin = strings.NewReader("echo hi from $(hostname)\necho $((6*7))\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("jitssh shell: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	// The pty echoes the typed lines too; the shell's output lines are the
	// ones without the command text.
	if !regexp.MustCompile(`(?m)(^|[$#] )hi from `+regexp.QuoteMeta(in.Hostname)+`\r?$`).MatchString(out) || !regexp.MustCompile(`(?m)(^|[$#] )42\r?$`).MatchString(out) {
		t.Fatalf("shell output lacks the commands' results (hostname %s):\n%q", in.Hostname, out)
	}
	if n := e.cloudTrailCount("StartSession", "SSM-SessionManagerRunShell"); n != 1 {
		t.Fatalf("%d StartSession calls with the shell document, want 1", n)
	}
	if n := e.cloudTrailCount("TerminateSession", ""); n != 1 {
		t.Fatalf("%d TerminateSession calls, want 1", n)
	}
	// An unknown target fails before starting anything.
	if out, err := e.run("jitssh", "shell", "no-such-name"); err == nil || !strings.Contains(string(out), "no-such-name") {
		t.Fatalf("shell to an unknown target: %v\n%s", err, out)
	}
}

// ptyReader collects what a pty shows, for expecting text in it.
type ptyReader struct {
	mu  sync.Mutex
	buf bytes.Buffer
	at  int // consumed up to here
}

func (p *ptyReader) run(r io.Reader) {
	b := make([]byte, 4096)
	for {
		n, err := r.Read(b)
		p.mu.Lock()
		p.buf.Write(b[:n])
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// expect waits for re in the output after what was consumed, and consumes
// up to the end of the match.
func (p *ptyReader) expect(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var m []int
	var s string
	ok := waitFor(10*time.Second, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		s = p.buf.String()[p.at:]
		m = rx.FindStringSubmatchIndex(s)
		return m != nil
	})
	if !ok {
		t.Fatalf("no %q on the terminal; it shows:\n%q", re, s)
	}
	p.mu.Lock()
	p.at += m[1]
	p.mu.Unlock()
	var groups []string
	for i := 0; i+1 < len(m); i += 2 {
		groups = append(groups, s[m[i]:m[i+1]])
	}
	return groups
}

// TestShellOnATerminal drives `jitssh shell` on a pty, as a user's
// terminal: the remote prompt appears, the remote pty has the local
// terminal's size and follows a resize (SIGWINCH), keys pass through raw
// (Ctrl-C interrupts the remote command, not jitssh), and exiting the
// remote shell ends jitssh with status 0.
func TestShellOnATerminal(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	in := e.sb.Instances[1]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "shell", in.ID)
	cmd.Env = e.vars
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 101, Rows: 31})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	term := &ptyReader{}
	go term.run(ptmx)
	typ := func(s string) {
		if _, err := io.WriteString(ptmx, s); err != nil {
			t.Fatal(err)
		}
	}
	term.expect(t, `Shell on \S+ \(`+in.ID+`\)`)
	term.expect(t, `[$#] $`) // the remote shell's prompt
	typ("stty size; hostname\r")
	if g := term.expect(t, `(?m)^(\d+) (\d+)\r?\n(\S+)\r?\n`); g[1] != "31" || g[2] != "101" || g[3] != in.Hostname {
		t.Fatalf("remote pty: %s rows × %s cols on %s, want 31 × 101 on %s", g[1], g[2], g[3], in.Hostname)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 132, Rows: 43}); err != nil {
		t.Fatal(err)
	}
	// The resize travels as a Size message; poll until the remote pty has it.
	ok := false
	for i := 0; i < 20 && !ok; i++ {
		typ("stty size\r")
		// Typed-ahead input is echoed before the prompt, so the output can
		// follow the prompt on its line ("# 43 132").
		g := term.expect(t, `(?m)(?:^|[$#] )(\d+ \d+)\r?\n`)
		ok = g[1] == "43 132"
		if !ok {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !ok {
		t.Fatal("the remote pty did not follow the local resize")
	}
	// Ctrl-C reaches the remote shell (raw mode): it interrupts sleep.
	start := time.Now()
	typ("sleep 30\r")
	time.Sleep(300 * time.Millisecond)
	typ("\x03")
	term.expect(t, `[$#] $`)
	typ("echo still here\r")
	term.expect(t, `(?m)^still here\r?\n`)
	if time.Since(start) > 10*time.Second {
		t.Fatal("Ctrl-C did not interrupt the remote sleep")
	}
	typ("exit\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("jitssh shell after exit: %v", err)
	}
}

// TestShellEscapeEndsFrozenSession: on a terminal, a remote shell that no
// longer reacts to anything (its pty in raw mode without echo, running a
// sleep that ignores input: Ctrl-C and Ctrl-D do nothing) ends on Enter
// "~." with a message and exit 255, and the local terminal is restored;
// "~?" lists the escapes and "~~" types one "~". With --escape-char none,
// "~." goes to the remote shell.
func TestShellEscapeEndsFrozenSession(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	in := e.sb.Instances[1]
	start := func(args ...string) (*exec.Cmd, *os.File, *ptyReader, func(string)) {
		cmd := exec.Command(filepath.Join(binDir, "jitssh"), append([]string{"shell", in.ID}, args...)...)
		cmd.Env = e.vars
		ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); ptmx.Close() })
		term := &ptyReader{}
		go term.run(ptmx)
		typ := func(s string) {
			if _, err := io.WriteString(ptmx, s); err != nil {
				t.Fatal(err)
			}
		}
		return cmd, ptmx, term, typ
	}
	cmd, ptmx, term, typ := start()
	before, err := unix.IoctlGetTermios(int(ptmx.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	sid := term.expect(t, `SSM session (\S+)\)\. Exit the shell to end the session \(or type ~\. after Enter\)`)[1]
	term.expect(t, `[$#] $`)
	typ("~?")
	term.expect(t, `~\.   - end the session`)
	typ("~~")
	term.expect(t, `(?m)^~$|[$#] ~$`) // the remote shell got one ~
	typ("\x03")                       // discard the line
	term.expect(t, `[$#] $`)
	typ("stty raw -echo; echo frozen; exec sleep 600\r")
	term.expect(t, `frozen`)
	typ("\x03\x04hello\r")
	time.Sleep(300 * time.Millisecond)
	typ("~.")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 255 {
			t.Fatalf("jitssh shell after ~.: %v, want exit 255", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("~. did not end the session")
	}
	term.expect(t, `jitssh: session \S+ to `+in.ID+` ended with ~\.`)
	after, err := unix.IoctlGetTermios(int(ptmx.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Fatalf("terminal not restored: lflag %#x iflag %#x oflag %#x, was %#x %#x %#x", after.Lflag, after.Iflag, after.Oflag, before.Lflag, before.Iflag, before.Oflag)
	}
	if sess, ok := e.sb.World.Session(sid); !ok {
		t.Fatalf("no session %s", sid)
	} else {
		select {
		case <-sess.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("SSM session %s still open after ~.", sid)
		}
	}

	// Escapes off: ~. reaches the remote shell.
	cmd, _, term, typ = start("--escape-char", "none")
	term.expect(t, `Exit the shell to end the session\.`)
	term.expect(t, `[$#] $`)
	typ("~.")
	term.expect(t, `~\.`)
	typ("\x03")
	term.expect(t, `[$#] $`)
	typ("echo still-on\r")
	term.expect(t, `(?m)^still-on\r?\n`)
	typ("exit\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("jitssh shell --escape-char none after exit: %v", err)
	}
	if _, stderr, code := runJitssh(t, e.home, "shell", "--escape-char", "~~", in.ID); code != 2 || !strings.Contains(stderr, "--escape-char") {
		t.Fatalf("bad --escape-char: exit %d: %s", code, stderr)
	}
}
