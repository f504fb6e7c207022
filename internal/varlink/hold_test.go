package varlink

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/testutil/runas"
)

// holdClientEnv makes the test binary the over-the-cap client of
// TestServerHoldsOverCapConnections (run as nobody).
const holdClientEnv = "JITSSH_VARLINK_HOLD_CLIENT"

func TestMain(m *testing.M) {
	if sock := os.Getenv(holdClientEnv); sock != "" {
		os.Exit(holdClient(sock))
	}
	os.Exit(m.Run())
}

// holdClient opens one connection (within the cap of one), then three
// more over it, and prints how long the server took to close the second
// and the fourth: "held=MS closed=MS".
func holdClient(sock string) int {
	var conns []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("unix", sock)
		if err != nil {
			fmt.Println("dial:", err)
			return 1
		}
		conns = append(conns, c)
		if i == 0 {
			time.Sleep(200 * time.Millisecond) // admitted before the others arrive
		}
	}
	start := time.Now()
	wait := func(c net.Conn) time.Duration {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 1))
		return time.Since(start)
	}
	closed := wait(conns[3])
	held := wait(conns[1])
	fmt.Printf("held=%d closed=%d\n", held.Milliseconds(), closed.Milliseconds())
	return 0
}

// A peer other than root over its connection cap is held, unanswered, for
// HoldOver (so that a process looping on connect waits instead of
// spinning against the service, issue 10), at most MaxHeld at once;
// beyond that, and for root always, the connection is closed at once.
func TestServerHoldsOverCapConnections(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as nobody")
	}
	dir := runas.SharedDir(t, "varlink-hold")
	sock := filepath.Join(dir, "io.test")
	ln, err := Listen(sock, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: echo, MaxConns: 10, MaxConnsPerPeer: 1, MaxRootConns: 1, HoldOver: 800 * time.Millisecond, MaxHeld: 2}
	serveWith(t, s, func(own net.Listener) net.Listener { own.Close(); return ln })

	cmd := exec.Command(runas.SelfIn(t, dir, "client"))
	cmd.Env = []string{holdClientEnv + "=" + sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: runas.Nobody(t)}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as nobody: %v\n%s", err, out)
	}
	var held, closed int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "held=%d closed=%d", &held, &closed); err != nil {
		t.Fatalf("client said %q", out)
	}
	if held < 500 {
		t.Errorf("a connection over the cap was closed after %d ms, want it held for about 800 ms", held)
	}
	if closed > 400 {
		t.Errorf("a connection over the cap with MaxHeld already held waited %d ms, want it closed at once", closed)
	}

	// Root over its cap: closed at once, never held.
	a, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	time.Sleep(100 * time.Millisecond)
	b, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	start := time.Now()
	if !closedByServer(b) || time.Since(start) > 400*time.Millisecond {
		t.Errorf("root's connection over its cap not closed at once (%v)", time.Since(start))
	}
}
