package keyservice

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/keyproto"
	"github.com/jitssh/jitssh/internal/testutil/runas"
	"github.com/jitssh/jitssh/internal/varlink"
)

// TestMain lets the test binary act as a client run as another user.
func TestMain(m *testing.M) {
	if sock := os.Getenv("KEYSERVICE_TEST_DIAL"); sock != "" {
		c, err := net.Dial("unix", sock)
		if err != nil {
			os.Stdout.WriteString("dial: " + err.Error() + "\n")
			os.Exit(0)
		}
		c.Write([]byte(`{"method":"io.jitssh.Keys.Authorize","parameters":{"user":"root"}}` + "\x00"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 4096)
		n, err := c.Read(b)
		os.Stdout.WriteString("read " + string(b[:n]) + " " + errString(err) + "\n")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// start serves s on a fresh socket (mode 0666, so that only RootOnly keeps
// other users out) and returns its path.
func start(t *testing.T, s *Service) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ks")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	sock := filepath.Join(dir, "keys")
	ln, err := varlink.Listen(sock, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		quiet := slog.New(slog.DiscardHandler)
		(&varlink.Server{Handler: s.Handler(), Log: quiet}).Serve(ctx, RootOnly(ln, quiet))
	}()
	t.Cleanup(func() { cancel(); <-done })
	return sock
}

func TestHandler(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("RootOnly serves root only")
	}
	// Nothing listens on this IMDS: a refusal with a reason, not keys.
	sock := start(t, &Service{Config: authkeys.Config{IMDSEndpoint: "http://127.0.0.1:1", Timeout: time.Second}, Log: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	_, err := keyproto.Ask(sock, "alice", "", 3*time.Second)
	var re *keyproto.RefusedError
	if !errors.As(err, &re) || re.Name != keyproto.ErrRefused {
		t.Errorf("Authorize with IMDS down: %v", err)
	}
	if _, err := keyproto.Ask(sock, "../x", "", 3*time.Second); !errors.As(err, &re) {
		t.Errorf("bad user: %v", err)
	}
	var ve *varlink.ReplyError
	if _, err := varlink.Invoke(ctx, sock, "io.jitssh.Keys.Other", map[string]any{}, false); !errors.As(err, &ve) || ve.Name != varlink.ErrMethodNotFound {
		t.Errorf("unknown method: %v", err)
	}
	if _, err := varlink.Invoke(ctx, sock, keyproto.MethodAuthorize, map[string]any{"user": "a", "extra": 1}, false); !errors.As(err, &ve) || ve.Name != varlink.ErrInvalidParameter {
		t.Errorf("unknown parameter: %v", err)
	}
	if _, err := varlink.Invoke(ctx, sock, keyproto.MethodAuthorize, map[string]any{"user": 1}, false); !errors.As(err, &ve) || ve.Name != varlink.ErrInvalidParameter {
		t.Errorf("bad parameter type: %v", err)
	}
}

// A peer that is not root gets its connection closed without an answer.
func TestRootOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the client as nobody")
	}
	sock := start(t, &Service{Config: authkeys.Config{IMDSEndpoint: "http://127.0.0.1:1", Timeout: time.Second}, Log: slog.New(slog.DiscardHandler)})
	cmd := exec.Command(runas.SelfIn(t, filepath.Dir(sock), "client"))
	cmd.Env = []string{"KEYSERVICE_TEST_DIAL=" + sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: runas.Nobody(t)}
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	cmd.Wait()
	// Closed unread: EOF or, with the request still unread, a reset.
	if line != "read  EOF\n" && !strings.HasPrefix(line, "read  read unix") {
		t.Errorf("client as nobody: %q, want the connection closed unanswered", line)
	}
}
