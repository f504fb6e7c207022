// Package sshd is what listens on "port 22" of a simulated instance in the
// sandbox: one SSH server per instance, opened once per connection.
//
// Two implementations sit behind the same Server:
//
//   - OpenSSH: the real /usr/sbin/sshd run as `sshd -i` per connection, its
//     stdin and stdout being the connection, with a generated sshd_config
//     whose AuthorizedKeysCommand is the instance-side jitssh-host. This is
//     the faithful mode; it needs root, because sshd must switch users and
//     insists on root-owned AuthorizedKeysCommand paths.
//   - Embedded: an x/crypto/ssh server in the sandbox process (public-key
//     auth through Config.Authorize, exec, shell without a pty, env, the
//     sftp subsystem, local port forwarding to loopback), for machines
//     without sshd or without root.
//
// When running as root on Linux where UTS namespaces work, each sshd (or
// each embedded command) runs in its own UTS namespace with the instance's
// hostname, so `hostname` over ssh prints the simulated name;
// SimulatedHostnames says whether that is the case. Nothing pretends
// otherwise: without it, `hostname` prints the machine's real name.
package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// DefaultSSHDPath is where OpenSSH mode looks for sshd.
const DefaultSSHDPath = "/usr/sbin/sshd"

// Mode selects the SSH server implementation.
type Mode int

const (
	// Auto is OpenSSH if /usr/sbin/sshd exists and the process runs as
	// root, Embedded otherwise.
	Auto Mode = iota
	// OpenSSH runs the real sshd per connection.
	OpenSSH
	// Embedded runs an x/crypto/ssh server in process.
	Embedded
)

func (m Mode) String() string {
	switch m {
	case Auto:
		return "auto"
	case OpenSSH:
		return "openssh"
	case Embedded:
		return "embedded"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "auto", "openssh" or "embedded".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return Auto, nil
	case "openssh", "sshd":
		return OpenSSH, nil
	case "embedded":
		return Embedded, nil
	}
	return Auto, fmt.Errorf("unknown SSH server mode %q (want auto, openssh or embedded)", s)
}

// ResolveAuto returns the mode Auto stands for on this machine: OpenSSH iff
// /usr/sbin/sshd exists and the effective uid is 0.
func ResolveAuto() Mode {
	if os.Geteuid() != 0 {
		return Embedded
	}
	if fi, err := os.Stat(DefaultSSHDPath); err != nil || fi.IsDir() {
		return Embedded
	}
	return OpenSSH
}

// SimulatedHostnames reports whether servers of the given mode (Auto is
// resolved first) will make `hostname` print the instance's simulated
// hostname, rather than this machine's real one. Both modes need root and
// working UTS namespaces; the answer comes from actually trying.
func SimulatedHostnames(mode Mode) bool {
	_ = mode // both modes use the same mechanism
	return utsProbe() == nil
}

// Config describes one simulated instance's SSH server.
type Config struct {
	// InstanceID names the instance in logs and generated files.
	InstanceID string
	// Hostname is what `hostname` prints over ssh when hostnames can be
	// simulated. Defaults to InstanceID.
	Hostname string
	// StateDir holds the host key, sshd_config and sshd.log. Created if
	// missing. The host key is generated once and reused from here.
	StateDir string
	// Mode selects the implementation; Auto by default.
	Mode Mode
	// AuthorizedKeysCommand (OpenSSH mode) is the argv sshd runs to find a
	// user's keys, e.g. {"/run/jitssh-sandbox/x/jitssh-host",
	// "authorized-keys", "--config", "/…/host.toml", "%u", "%f"}. Every
	// argument is subject to sshd's % token expansion. The binary and all
	// its parent directories must be root-owned and not writable by group
	// or others (see InstallSafeBinary).
	AuthorizedKeysCommand []string
	// AuthorizedKeysFile (OpenSSH mode, instead of AuthorizedKeysCommand)
	// is sshd's AuthorizedKeysFile, relative to the user's home: keys come
	// from the users' own files, with StrictModes (a managed instance).
	AuthorizedKeysFile string
	// Enter, when set, runs on the OS thread that starts every process of
	// the server (sshd, and the embedded server's commands), before it
	// starts it; the process inherits what it changed, e.g. a mount
	// namespace with the instance's own /etc/passwd (package passwdns).
	Enter func() error
	// LookupUser (Embedded mode, as root), when set, replaces
	// os/user.Lookup for the logging-in user: the instance's own accounts
	// (package passwdns) rather than the machine's.
	LookupUser func(name string) (*user.User, error)
	// Authorize (Embedded mode) returns the authorized_keys lines for a
	// user, given the SHA256 fingerprint of the key being tried, like an
	// AuthorizedKeysCommand with %u %f.
	Authorize func(ctx context.Context, user, fingerprint string) ([]string, error)
	// Logger receives server events; discarded if nil.
	Logger *slog.Logger
	// RealHostname turns hostname simulation off even where it works, so
	// `hostname` prints the machine's name.
	RealHostname bool
	// SSHDPath overrides DefaultSSHDPath (OpenSSH mode).
	SSHDPath string
	// Forward (Embedded mode), when set, serves every direct-tcpip
	// channel (ssh -J, -W, -L) by calling it with the requested host and
	// port instead of dialling loopback: a bastion's view of its VPC,
	// routed by the sandbox.
	Forward func(ctx context.Context, host string, port int) (Conn, error)
	// DisableForwarding (OpenSSH mode) turns sshd's port forwarding off:
	// for an sshd that runs on the machine's own network (no network
	// namespace of its own entered through Enter).
	DisableForwarding bool
}

// Conn is one SSH connection to the server, as seen from the client side:
// bytes written are what the client sends.
type Conn interface {
	io.ReadWriteCloser
	// CloseWrite signals end of input to the server (half close).
	CloseWrite() error
}

// Server is a simulated instance's SSH server.
type Server struct {
	cfg         Config
	mode        Mode
	log         *slog.Logger
	signer      ssh.Signer
	simHostname bool
	configPath  string
	logPath     string
	keyPath     string
	sshConfig   *ssh.ServerConfig // embedded mode
	logMu       sync.Mutex        // serialises writes to logPath (embedded mode)
	ctx         context.Context   // ends at Close
	cancel      context.CancelFunc
	mu          sync.Mutex
	closed      bool
	live        map[*serverConn]struct{}
	wg          sync.WaitGroup
	usePAM      bool
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// New prepares the server: state directory, host key (generated on first
// use, then reused), and in OpenSSH mode the sshd_config, checked with
// `sshd -t`.
func New(cfg Config) (*Server, error) {
	if cfg.InstanceID == "" {
		return nil, errors.New("sshd: InstanceID is required")
	}
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.InstanceID
	}
	if len(cfg.Hostname) > 64 || !hostnameRE.MatchString(cfg.Hostname) {
		return nil, fmt.Errorf("sshd %s: invalid hostname %q", cfg.InstanceID, cfg.Hostname)
	}
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("sshd %s: StateDir is required", cfg.InstanceID)
	}
	if cfg.SSHDPath == "" {
		cfg.SSHDPath = DefaultSSHDPath
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mode := cfg.Mode
	if mode == Auto {
		if cfg.SSHDPath != DefaultSSHDPath {
			mode = resolveWith(cfg.SSHDPath)
		} else {
			mode = ResolveAuto()
		}
	}
	s := &Server{
		cfg:        cfg,
		mode:       mode,
		log:        log,
		configPath: filepath.Join(cfg.StateDir, "sshd_config"),
		logPath:    filepath.Join(cfg.StateDir, "sshd.log"),
		keyPath:    filepath.Join(cfg.StateDir, "ssh_host_ed25519_key"),
		live:       map[*serverConn]struct{}{},
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("sshd %s: create state directory: %w", cfg.InstanceID, err)
	}
	signer, err := loadOrCreateHostKey(s.keyPath)
	if err != nil {
		return nil, fmt.Errorf("sshd %s: %w", cfg.InstanceID, err)
	}
	s.signer = signer
	if !cfg.RealHostname {
		if err := utsProbe(); err != nil {
			log.Info("hostnames not simulated: `hostname` over ssh prints this machine's name", "reason", err)
		} else {
			s.simHostname = true
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	switch mode {
	case OpenSSH:
		if err := s.prepareOpenSSH(); err != nil {
			s.cancel()
			return nil, fmt.Errorf("sshd %s: %w", cfg.InstanceID, err)
		}
	case Embedded:
		if cfg.Authorize == nil {
			s.cancel()
			return nil, fmt.Errorf("sshd %s: embedded mode needs an Authorize function", cfg.InstanceID)
		}
		s.prepareEmbedded()
	default:
		s.cancel()
		return nil, fmt.Errorf("sshd %s: unknown mode %v", cfg.InstanceID, mode)
	}
	log.Info("SSH server ready", "mode", mode.String(),
		"host_key", ssh.FingerprintSHA256(signer.PublicKey()), "simulated_hostname", s.simHostname)
	return s, nil
}

func resolveWith(sshdPath string) Mode {
	if os.Geteuid() != 0 {
		return Embedded
	}
	if fi, err := os.Stat(sshdPath); err != nil || fi.IsDir() {
		return Embedded
	}
	return OpenSSH
}

// loadOrCreateHostKey reads the ed25519 host key at path, or generates it
// (OpenSSH format, 0600, with a .pub beside it).
func loadOrCreateHostKey(path string) (ssh.Signer, error) {
	if data, err := os.ReadFile(path); err == nil {
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("read host key %s: %w", path, err)
		}
		return signer, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read host key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate host key: %w", err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "jitssh-sandbox host key")
	if err != nil {
		return nil, fmt.Errorf("marshal host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(blk), 0o600); err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("write host key: %w", err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		return nil, fmt.Errorf("write host public key: %w", err)
	}
	return signer, nil
}

// startIn starts cmd with the instance's hostname (when simulated) and
// after Config.Enter.
func (s *Server) startIn(cmd *exec.Cmd) error {
	return startIn(s.hostnameFor(), s.cfg.Enter, cmd.Start)
}

// hostnameFor returns the hostname to give new processes, or "" to leave
// them in the machine's UTS namespace.
func (s *Server) hostnameFor() string {
	if s.simHostname {
		return s.cfg.Hostname
	}
	return ""
}

// Mode returns the implementation in use (never Auto).
func (s *Server) Mode() Mode { return s.mode }

// HostKey returns the server's ed25519 host public key, for known_hosts.
func (s *Server) HostKey() ssh.PublicKey { return s.signer.PublicKey() }

// LogPath returns the file where sshd's log lines (including "Accepted
// publickey for USER … SHA256:…") are appended. Embedded mode writes its
// own lines in the same format there.
func (s *Server) LogPath() string { return s.logPath }

// ConfigPath returns the generated sshd_config (OpenSSH mode).
func (s *Server) ConfigPath() string { return s.configPath }

// SimulatesHostname reports whether `hostname` over ssh prints
// Config.Hostname (true) or the machine's real name (false).
func (s *Server) SimulatesHostname() bool { return s.simHostname }

// Open starts one SSH connection: in OpenSSH mode one `sshd -i` process, in
// Embedded mode one server goroutine. ctx bounds only the start; the
// connection lives until the Conn or the Server is closed.
func (s *Server) Open(ctx context.Context) (Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open SSH connection to %s: %w", s.cfg.InstanceID, err)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("open SSH connection to %s: server closed", s.cfg.InstanceID)
	}
	client, server, err := socketPair()
	if err != nil {
		return nil, fmt.Errorf("open SSH connection to %s: %w", s.cfg.InstanceID, err)
	}
	sc := &serverConn{UnixConn: client, srv: s}
	switch s.mode {
	case OpenSSH:
		err = s.startSSHD(sc, server)
	default:
		err = s.startEmbedded(sc, server)
	}
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("open SSH connection to %s: %w", s.cfg.InstanceID, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sc.Close()
		return nil, fmt.Errorf("open SSH connection to %s: server closed", s.cfg.InstanceID)
	}
	s.live[sc] = struct{}{}
	s.mu.Unlock()
	return sc, nil
}

// Close ends every open connection and stops the server.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]*serverConn, 0, len(s.live))
	for c := range s.live {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
	return nil
}

// serverConn is the client end of one connection.
type serverConn struct {
	*net.UnixConn
	srv      *Server
	once     sync.Once
	onClose  func() // stops the server side (kills sshd)
	closeErr error
}

func (c *serverConn) Close() error {
	c.once.Do(func() {
		c.closeErr = c.UnixConn.Close()
		if c.onClose != nil {
			c.onClose()
		}
		c.srv.mu.Lock()
		delete(c.srv.live, c)
		c.srv.mu.Unlock()
	})
	return c.closeErr
}

// appendLog writes one line to LogPath (embedded mode's sshd-style log).
func (s *Server) appendLog(line string) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	f, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		s.log.Warn("cannot write sshd log", "path", s.logPath, "err", err)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}
