package sshd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Embedded-mode limits, like sshd's defaults.
const (
	loginGraceTime   = 30 * time.Second
	authorizeTimeout = 10 * time.Second
)

// Permissions.Extensions keys set by the public-key callback.
const (
	extFingerprint = "jitssh-fingerprint"
	extKeyType     = "jitssh-key-type"
	extUID         = "jitssh-uid"
	extGID         = "jitssh-gid"
	extGroups      = "jitssh-groups"
	extHome        = "jitssh-home"
	extNoPortFwd   = "jitssh-no-port-forwarding"
)

func (s *Server) prepareEmbedded() {
	cfg := &ssh.ServerConfig{
		ServerVersion:     "SSH-2.0-jitssh_sandbox_embedded",
		PublicKeyCallback: s.checkPublicKey,
		MaxAuthTries:      6,
	}
	cfg.AddHostKey(s.signer)
	s.sshConfig = cfg
}

// peer renders a connection's remote address as sshd does ("from ADDR port
// N"); a socketpair has none, which sshd -i reports as UNKNOWN port 65535.
func peer(addr net.Addr) string {
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		return fmt.Sprintf("%s port %d", ap.Addr(), ap.Port())
	}
	return "UNKNOWN port 65535"
}

// sshdKeyType renders a key type as sshd logs it (ED25519, RSA, ECDSA).
func sshdKeyType(t string) string {
	switch {
	case t == ssh.KeyAlgoED25519:
		return "ED25519"
	case t == ssh.KeyAlgoRSA:
		return "RSA"
	case strings.HasPrefix(t, "ecdsa-sha2-"):
		return "ECDSA"
	case t == ssh.KeyAlgoSKED25519:
		return "ED25519-SK"
	case t == ssh.KeyAlgoSKECDSA256:
		return "ECDSA-SK"
	}
	return strings.ToUpper(t)
}

// allowedKeyOptions are authorized_keys options the embedded server can
// honour (it has no pty, X11 or agent forwarding to restrict). A line with
// any other option is skipped: failing closed beats ignoring a restriction
// such as command= or from=.
var allowedKeyOptions = map[string]bool{
	"no-pty": true, "no-x11-forwarding": true, "no-agent-forwarding": true,
	"no-port-forwarding": true, "restrict": true,
}

func (s *Server) checkPublicKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	name := meta.User()
	fp := ssh.FingerprintSHA256(key)
	ext := map[string]string{extFingerprint: fp, extKeyType: sshdKeyType(key.Type())}
	if os.Geteuid() == 0 {
		lookup := user.Lookup
		if s.cfg.LookupUser != nil {
			lookup = s.cfg.LookupUser
		}
		u, err := lookup(name)
		if err != nil {
			s.appendLog(fmt.Sprintf("Invalid user %s from %s", name, peer(meta.RemoteAddr())))
			return nil, fmt.Errorf("invalid user %s", name)
		}
		ext[extUID], ext[extGID], ext[extHome] = u.Uid, u.Gid, u.HomeDir
		if gids, err := u.GroupIds(); err == nil {
			ext[extGroups] = strings.Join(gids, ",")
		}
	}
	ctx, cancel := context.WithTimeout(s.ctx, authorizeTimeout)
	defer cancel()
	lines, err := s.cfg.Authorize(ctx, name, fp)
	if err != nil {
		s.log.Info("authorize failed", "user", name, "fingerprint", fp, "err", err)
		return nil, fmt.Errorf("authorize %s: %w", name, err)
	}
	want := key.Marshal()
	for _, line := range lines {
		pub, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			s.log.Warn("unparsable authorized_keys line from Authorize", "user", name, "err", err)
			continue
		}
		if !bytes.Equal(pub.Marshal(), want) {
			continue
		}
		usable := true
		for _, o := range opts {
			optName, _, _ := strings.Cut(strings.ToLower(o), "=")
			if !allowedKeyOptions[optName] {
				s.log.Warn("authorized_keys option not supported by the embedded server; key refused", "user", name, "option", o)
				usable = false
			}
			if optName == "no-port-forwarding" || optName == "restrict" {
				ext[extNoPortFwd] = "1"
			}
		}
		if usable {
			return &ssh.Permissions{Extensions: ext}, nil
		}
	}
	s.log.Debug("key not authorized", "user", name, "fingerprint", fp)
	return nil, fmt.Errorf("key %s not authorized for %s", fp, name)
}

func (s *Server) startEmbedded(_ *serverConn, sock *os.File) error {
	conn, err := fileConn(sock)
	if err != nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serveEmbedded(conn)
	}()
	return nil
}

func (s *Server) serveEmbedded(conn net.Conn) {
	defer conn.Close()
	stop := context.AfterFunc(s.ctx, func() { conn.Close() })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(loginGraceTime))
	sconn, chans, reqs, err := ssh.NewServerConn(conn, s.sshConfig)
	if err != nil {
		s.log.Debug("handshake failed", "err", err)
		return
	}
	defer sconn.Close()
	_ = conn.SetDeadline(time.Time{})
	ext := sconn.Permissions.Extensions
	line := fmt.Sprintf("Accepted publickey for %s from %s ssh2: %s %s", sconn.User(), peer(sconn.RemoteAddr()), ext[extKeyType], ext[extFingerprint])
	s.appendLog(line)
	s.log.Info(line, "user", sconn.User(), "fingerprint", ext[extFingerprint])

	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, chReqs, err := nc.Accept()
			if err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serveSession(sconn, ch, chReqs)
			}()
		case "direct-tcpip":
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serveDirectTCPIP(sconn, nc)
			}()
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "unsupported channel type")
		}
	}
	wg.Wait()
}

// session is one "session" channel.
type session struct {
	s      *Server
	conn   *ssh.ServerConn
	ch     ssh.Channel
	env    []string
	mu     sync.Mutex
	cmd    *exec.Cmd // running program, for signals
	begun  bool
	exited bool
}

func (s *Server) serveSession(conn *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	ss := &session{s: s, conn: conn, ch: ch}
	defer ch.Close()
	for req := range reqs {
		ok := false
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil && acceptEnv(kv.Name) {
				ss.env = append(ss.env, kv.Name+"="+kv.Value)
				ok = true
			}
		case "exec":
			var p struct{ Command string }
			if ssh.Unmarshal(req.Payload, &p) == nil && ss.begin() {
				ok = true
				go ss.run([]string{"/bin/sh", "-c", p.Command}, "/bin/sh")
			}
		case "shell":
			if ss.begin() {
				ok = true
				go ss.run([]string{"-sh"}, "/bin/sh")
			}
		case "subsystem":
			var p struct{ Name string }
			if ssh.Unmarshal(req.Payload, &p) == nil && p.Name == "sftp" && ss.begin() {
				ok = true
				go ss.sftp()
			}
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(req.Payload, &p) == nil {
				ok = ss.signal(p.Signal)
			}
		}
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
	}
	// The client closed the channel: hang up on whatever still runs, as
	// a closed terminal would.
	ss.mu.Lock()
	if ss.cmd != nil && ss.cmd.Process != nil && !ss.exited {
		_ = syscall.Kill(-ss.cmd.Process.Pid, syscall.SIGHUP)
	}
	ss.mu.Unlock()
}

// acceptEnv mirrors the generated sshd_config's "AcceptEnv LANG LC_*".
func acceptEnv(name string) bool {
	return name == "LANG" || strings.HasPrefix(name, "LC_")
}

// begin marks the session as running a program; only one per session.
func (ss *session) begin() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.begun {
		return false
	}
	ss.begun = true
	return true
}

func (ss *session) environ(home string) []string {
	name := ss.conn.User()
	env := []string{
		"USER=" + name, "LOGNAME=" + name, "HOME=" + home, "SHELL=/bin/sh",
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/games",
		"SSH_CONNECTION=UNKNOWN 65535 UNKNOWN 65535",
	}
	if ext := ss.conn.Permissions.Extensions; ext[extUID] == "0" {
		env[4] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return append(env, ss.env...)
}

// identity returns the credential and home directory to run programs
// with: the logged-in user's when running as root; otherwise the sandbox's
// own (the only identity an unprivileged process has).
func (ss *session) identity() (*syscall.Credential, string) {
	ext := ss.conn.Permissions.Extensions
	if ext[extUID] == "" {
		home, _ := os.UserHomeDir()
		if home == "" {
			home = "/"
		}
		return nil, home
	}
	uid, _ := strconv.ParseUint(ext[extUID], 10, 32)
	gid, _ := strconv.ParseUint(ext[extGID], 10, 32)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	for _, g := range strings.Split(ext[extGroups], ",") {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(n))
		}
	}
	home := ext[extHome]
	if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
		home = "/"
	}
	return cred, home
}

// run executes argv (argv[0] is the name the program sees, path the file)
// with the channel as stdin/stdout/stderr, then reports the exit status and
// closes the channel.
func (ss *session) run(argv []string, path string) {
	cred, home := ss.identity()
	cmd := &exec.Cmd{Path: path, Args: argv, Env: ss.environ(home), Dir: home}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	cmd.Stdout = ss.ch
	cmd.Stderr = ss.ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		ss.finish(255, "", err)
		return
	}
	ss.mu.Lock()
	ss.cmd = cmd
	err = ss.s.startIn(cmd)
	ss.mu.Unlock()
	if err != nil {
		fmt.Fprintf(ss.ch.Stderr(), "jitssh-sandbox: cannot run %s: %v\r\n", path, err)
		ss.finish(127, "", err)
		return
	}
	// Copy stdin until the client's EOF; not waited for, so that a
	// command that ignores its input still finishes.
	go func() {
		_, _ = io.Copy(stdin, ss.ch)
		stdin.Close()
	}()
	err = cmd.Wait()
	ss.mu.Lock()
	ss.exited = true
	ss.mu.Unlock()
	status, sig := 0, ""
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = signalName(ws.Signal())
		} else {
			status = exitErr.ExitCode()
		}
	default:
		status = 255
	}
	ss.finish(status, sig, nil)
}

// finish sends exit-status (or exit-signal) and closes the channel.
func (ss *session) finish(status int, sig string, err error) {
	if err != nil {
		ss.s.log.Info("session program failed", "user", ss.conn.User(), "err", err)
	}
	_ = ss.ch.CloseWrite()
	if sig != "" {
		_, _ = ss.ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Message    string
			Lang       string
		}{Signal: sig}))
	} else {
		_, _ = ss.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
	}
	ss.ch.Close()
}

var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE, "HUP": syscall.SIGHUP,
	"ILL": syscall.SIGILL, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE,
	"QUIT": syscall.SIGQUIT, "SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

func signalName(sig syscall.Signal) string {
	for name, s := range signals {
		if s == sig {
			return name
		}
	}
	return "KILL"
}

func (ss *session) signal(name string) bool {
	sig, ok := signals[name]
	if !ok {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.cmd == nil || ss.cmd.Process == nil || ss.exited {
		return false
	}
	return ss.cmd.Process.Signal(sig) == nil
}

// sftp serves the sftp subsystem in process (github.com/pkg/sftp), which
// OpenSSH 9's scp uses by default. It runs with the sandbox process's own
// identity: when root serves another user, files it creates are owned by
// root (a known difference from sshd's internal-sftp).
func (ss *session) sftp() {
	_, home := ss.identity()
	srv, err := sftp.NewServer(ss.ch, sftp.WithServerWorkingDirectory(home))
	if err != nil {
		ss.finish(1, "", err)
		return
	}
	// Serve returns at the client's EOF; srv.Close would close the
	// channel before the exit status is sent, so finish does it.
	err = srv.Serve()
	if errors.Is(err, io.EOF) {
		err = nil
	}
	status := 0
	if err != nil {
		status = 1
	}
	ss.finish(status, "", err)
}

// serveDirectTCPIP implements local port forwarding (ssh -L, ProxyJump),
// limited to the instance's own loopback: the sandbox never connects
// anywhere else.
func (s *Server) serveDirectTCPIP(conn *ssh.ServerConn, nc ssh.NewChannel) {
	if conn.Permissions.Extensions[extNoPortFwd] != "" {
		_ = nc.Reject(ssh.Prohibited, "port forwarding is disabled for this key")
		return
	}
	var p struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil || p.Port == 0 || p.Port > 65535 {
		_ = nc.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	var target io.ReadWriteCloser
	if s.cfg.Forward != nil {
		c, err := s.cfg.Forward(ctx, p.Host, int(p.Port))
		if err != nil {
			s.appendLog(fmt.Sprintf("error: connect_to %s port %d: failed: %v", p.Host, p.Port, err))
			_ = nc.Reject(ssh.ConnectionFailed, err.Error())
			return
		}
		target = c
	} else {
		host := p.Host
		if host == "localhost" {
			host = "127.0.0.1"
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.IsLoopback() {
			_ = nc.Reject(ssh.Prohibited, "the sandbox forwards only to loopback addresses")
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, uint16(p.Port)).String())
		if err != nil {
			_ = nc.Reject(ssh.ConnectionFailed, err.Error())
			return
		}
		target = c
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		target.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(target, ch)
		if cw, ok := target.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(ch, target)
		_ = ch.CloseWrite()
		done <- struct{}{}
	}()
	<-done
	<-done
	ch.Close()
	target.Close()
}
