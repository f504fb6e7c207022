package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jitssh/jitssh/internal/host/install"
	"github.com/jitssh/jitssh/internal/host/userdb"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Just-in-time user modes (Config.JIT), for instances with jit = true.
const (
	// JITOff starts no userdb service (the library's default).
	JITOff = ""
	// JITAuto starts one when the sandbox runs as root with OpenSSH sshd
	// and nss-systemd, and otherwise logs why not (jitssh-sandbox up's
	// default).
	JITAuto = "auto"
	// JITOn starts one or fails.
	JITOn = "on"
)

// jitUnusable says why just-in-time users cannot work for an instance
// served by mode, or "" when they can.
func jitUnusable(mode sshd.Mode, in world.Instance) string {
	switch {
	case mode != sshd.OpenSSH || in.Bastion:
		return "the instance runs the embedded SSH server, not OpenSSH sshd"
	case os.Geteuid() != 0:
		return "the sandbox does not run as root (the userdb socket, homes and sshd need it)"
	}
	if p := install.CheckNSS("/"); len(p) > 0 {
		return p[0].What
	}
	return ""
}

// jitService is one simulated instance's `jitssh-host userdb`: its own
// userdb socket name (never io.jitssh, so a real installation is left
// alone), state and homes under the instance's state directory.
type jitService struct {
	name, state, homes string
	groups             []string
	// keysDir holds the service's own io.jitssh.Keys socket (short, for
	// sun_path; never the real installation's): sshd's `jitssh-host
	// authorized-keys` asks it, so the keys served for a login are the ones
	// the user's supplementary groups are bound to.
	keysDir string
}

// newJIT returns the instance's userdb service settings, nil when none is
// to run.
func (sb *Sandbox) newJIT(mode string, sshMode sshd.Mode, in world.Instance, stateDir, dir string) (*jitService, error) {
	if !in.JIT || mode == JITOff {
		return nil, nil
	}
	if mode != JITAuto && mode != JITOn {
		return nil, fmt.Errorf("JIT mode %q: want %q, %q or %q", mode, JITOff, JITAuto, JITOn)
	}
	if why := jitUnusable(sshMode, in); why != "" {
		if mode == JITOn {
			return nil, fmt.Errorf("just-in-time users on %s: %s", in.ID, why)
		}
		sb.log.Warn("just-in-time users are off", "instance", in.ID, "reason", why)
		return nil, nil
	}
	// The users must reach their homes: let others traverse (not list)
	// the state directory.
	if fi, err := os.Stat(stateDir); err == nil && fi.Mode().Perm()&0o001 == 0 {
		if err := os.Chmod(stateDir, fi.Mode().Perm()|0o001); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 4)
	rand.Read(b)
	keysDir, err := os.MkdirTemp("", "jitssh-sbk-")
	if err != nil {
		return nil, err
	}
	return &jitService{
		name:    "io.jitssh.sandbox-" + hex.EncodeToString(b),
		state:   filepath.Join(dir, "jit", "users.json"),
		homes:   filepath.Join(dir, "homes"),
		groups:  in.JITGroups,
		keysDir: keysDir,
	}, nil
}

// conf is the host.toml text of the service, appended to the instance's.
func (j *jitService) conf() string {
	if j == nil {
		// No service: never the real installation's key socket.
		return "keys_socket = \"\"\n"
	}
	var b strings.Builder
	// sshd runs jitssh-host authorized-keys, which asks this service's own
	// key socket (never the real installation's).
	fmt.Fprintf(&b, "keys_socket = %q\n\n[jit]\nservice = %q\nstate_file = %q\nhome_base = %q\n", filepath.Join(j.keysDir, "keys"), j.name, j.state, j.homes)
	if len(j.groups) > 0 {
		fmt.Fprintf(&b, "\n[[jit.groups]]\ncaller = \"*\"\ngroups = [")
		for i, g := range j.groups {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", g)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// jitProc is a running userdb service of an instance.
type jitProc struct {
	j                      *jitService
	hostBin, hostConf, dir string
	cmd                    *exec.Cmd
	exited                 chan struct{}
}

// startJIT runs `hostBin userdb --config hostConf` until the sandbox
// closes, then removes its socket, state and homes.
func (sb *Sandbox) startJIT(instanceID string, j *jitService, hostBin, hostConf, dir string) error {
	if err := os.MkdirAll(j.homes, 0o755); err != nil {
		return err
	}
	p := &jitProc{j: j, hostBin: hostBin, hostConf: hostConf, dir: dir}
	if err := p.start(sb); err != nil {
		return err
	}
	sb.jitMu.Lock()
	if sb.jitProcs == nil {
		sb.jitProcs = map[string]*jitProc{}
	}
	sb.jitProcs[instanceID] = p
	sb.jitMu.Unlock()
	sb.cleanups = append(sb.cleanups, func() {
		sb.jitMu.Lock()
		defer sb.jitMu.Unlock()
		p.stop()
		os.Remove(filepath.Join(userdb.Dir, j.name)) // only if it was left behind
		os.RemoveAll(j.homes)
		os.RemoveAll(filepath.Dir(j.state))
		os.RemoveAll(j.keysDir)
	})
	return nil
}

// RestartHostService stops the userdb service (`jitssh-host userdb`) of
// a JIT instance with SIGTERM, as systemd does, and starts it again: what
// a restart of the daemon does to the instance (its CloudWatch Logs
// shipper resumes from its spool).
func (sb *Sandbox) RestartHostService(instanceID string) error {
	sb.jitMu.Lock()
	defer sb.jitMu.Unlock()
	p, ok := sb.jitProcs[instanceID]
	if !ok {
		return fmt.Errorf("instance %s runs no userdb service", instanceID)
	}
	p.stop()
	return p.start(sb)
}

func (p *jitProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// start starts the service and waits for its socket.
func (p *jitProc) start(sb *Sandbox) error {
	logPath := filepath.Join(p.dir, "userdb.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.hostBin, "userdb", "--config", p.hostConf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start jitssh-host userdb: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	p.cmd, p.exited = cmd, exited
	sock := filepath.Join(userdb.Dir, p.j.name)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			sb.log.Info("just-in-time users", "service", sock, "homes", p.j.homes, "log", logPath)
			return nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("jitssh-host userdb exited: %s", strings.TrimSpace(string(b)))
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("jitssh-host userdb: no socket after 10s (log: " + logPath + ")")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
