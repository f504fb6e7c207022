package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/sandbox/netns"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// ShellDocument is Session Manager's default document (a Standard_Stream
// session): the instance's shell under a pty, with no handshake.
const ShellDocument = "SSM-SessionManagerRunShell"

// termSize holds the latest terminal size a client sent (Size messages
// may arrive before the pty exists) and applies it to the pty once there.
type termSize struct {
	mu         sync.Mutex
	cols, rows uint16
	pty        *os.File
}

func (t *termSize) set(cols, rows uint32) {
	if cols == 0 || rows == 0 || cols > 0xffff || rows > 0xffff {
		return // as the agent: nonsense sizes are ignored
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cols, t.rows = uint16(cols), uint16(rows)
	if t.pty != nil {
		_ = pty.Setsize(t.pty, &pty.Winsize{Cols: t.cols, Rows: t.rows})
	}
}

// attach starts applying sizes to f and returns the size to start with.
func (t *termSize) attach(f *os.File) *pty.Winsize {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pty = f
	if t.cols == 0 {
		return &pty.Winsize{Cols: 80, Rows: 24}
	}
	return &pty.Winsize{Cols: t.cols, Rows: t.rows}
}

// shellCommand is what the agent runs, as AWS's agent does on Linux: sh
// in a pty, starting in /usr/bin (where SSM shells famously start). The
// sandbox runs it as its own user (AWS's runs it as ssm-user).
func shellCommand() *exec.Cmd {
	cmd := exec.Command("sh")
	cmd.Dir = "/"
	if st, err := os.Stat("/usr/bin"); err == nil && st.IsDir() {
		cmd.Dir = "/usr/bin"
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = "/"
	}
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"TERM=xterm-256color",
		"LANG=C.UTF-8",
	}
	return cmd
}

// SessionTypeShell is the session type of shell sessions.
const SessionTypeShell = "Standard_Stream"

// runShell serves a Standard_Stream session: no handshake (the agent
// simply starts sending output) unless the preferences name a KMS key
// (then the KMS handshake first, and the stream is encrypted), the
// client's Output messages go to the pty, Size messages resize it, and
// when the shell exits its output is drained and the service sends
// channel_closed. Like AWS's agent it sends no ExitCode message for this
// session type. The shell runs as the Run As user, if any, and is given
// the shell profile first.
func (h *Handler) runShell(ctx context.Context, sess *world.Session, dc *datachannel.Session, ts *termSize, log *slog.Logger) error {
	in, ok := h.world(sess.ID).Instance(sess.Target)
	if !ok || in.Virtual {
		return fmt.Errorf("instance %s has no host to run a shell on", sess.Target)
	}
	if err := h.encryptShell(ctx, sess, dc); err != nil {
		return err
	}
	cmd := shellCommand()
	if u := h.Preferences.runAsUser(sess); u != "" {
		if err := runAs(cmd, u); err != nil {
			return err
		}
	}
	var ns *netns.NS
	if h.Netns != nil {
		ns = h.Netns(in.ID)
	}
	ptmx, err := startPty(cmd, ts, hostnameFor(in), ns)
	if err != nil {
		return fmt.Errorf("start shell: %w", err)
	}
	defer ptmx.Close()
	log.Debug("shell started", "pid", cmd.Process.Pid)
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	go func() { // client -> pty, after the shell profile
		if p := h.Preferences.ShellProfile; p != "" {
			if _, err := io.WriteString(ptmx, p+"\n"); err != nil {
				return
			}
		}
		_, _ = io.Copy(ptmx, h.input(dc))
	}()
	outDone := make(chan error, 1)
	go func() { // pty -> client; EIO once the shell and its children exit
		outDone <- h.pump(dc, ptmx)
	}()
	select {
	case err := <-outDone:
		if err != nil && !errors.Is(err, io.EOF) && !isEIO(err) {
			log.Debug("pty read ended", "err", err)
		}
	case <-sess.Done():
	case <-dc.Done():
	}
	// The session is over: make sure the shell is too.
	select {
	case <-exited:
	default:
		_ = cmd.Process.Kill()
		<-exited
	}
	select {
	case <-dc.Done():
		return nil // the client went away
	default:
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_ = dc.Flush(fctx)
	cancel()
	return dc.SendChannelClosed(sess.ID, sess.Target, h.endOutput(sess.ID))
}

// encryptShell runs the KMS handshake of a shell session when the
// preferences name a key (AWS's agent does a handshake for shells only
// then): the session is encrypted once it returns. Its failure is the
// session's, with AWS's agent's wording.
func (h *Handler) encryptShell(ctx context.Context, sess *world.Session, dc *datachannel.Session) error {
	keyID := h.Preferences.KMSKeyID
	if keyID == "" {
		return nil
	}
	if h.DecryptKey == nil {
		return agentErrorf("Encountered error while initiating handshake. Initializing BlockCipher failed: the sandbox has no KMS")
	}
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	kms := &datachannel.AgentKMS{KeyID: keyID, Decrypt: func(ctx context.Context, keyID string, blob []byte, challenge string) ([]byte, error) {
		return h.DecryptKey(ctx, sess, keyID, blob, challenge)
	}}
	if _, err := dc.AgentHandshakeWith(hctx, Version, SessionTypeShell, nil, kms); err != nil {
		return agentErrorf("Encountered error while initiating handshake. %w", err)
	}
	return nil
}

// hostnameFor returns the simulated hostname to give the shell, or "" to
// leave the machine's own: only root can make a UTS namespace, and the
// sandbox sets an instance's Hostname to the real one where it cannot.
func hostnameFor(in world.Instance) string {
	real, _ := os.Hostname()
	if os.Geteuid() != 0 || in.Hostname == "" || in.Hostname == real {
		return ""
	}
	return in.Hostname
}

func isEIO(err error) bool { return errors.Is(err, syscall.EIO) }
