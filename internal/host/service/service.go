// Package service composes the just-in-time user daemon (`jitssh-host
// userdb`): the host configuration, the JIT user manager (jituser) with
// one IMDS client per kind of caller (authkeys), the io.systemd.UserDatabase
// service (userdb) and the io.jitssh.Keys service (keyservice) on their
// varlink sockets with their connection caps, the hourly expiry, and the
// audit trail; and the administrator's operations on the JIT users (list,
// remove, kill, block, unblock). The command line (internal/hostcli) only
// parses flags and calls it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/host/cwship"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/keyservice"
	"github.com/jitssh/jitssh/internal/host/userdb"
	"github.com/jitssh/jitssh/internal/varlink"
)

// Options configure Run.
type Options struct {
	// ConfigPath is the host configuration file ("" for the default, if
	// it exists).
	ConfigPath string
	// SocketDir is the directory of the userdb socket (userdb.Dir in
	// production: nss-systemd reads only that).
	SocketDir string
	// Log receives the service's log.
	Log *slog.Logger
}

// serverResult is how one of the service's varlink servers stopped.
type serverResult struct {
	name string
	err  error
}

// Run serves just-in-time users on the userdb socket and, if keys_socket
// is set, io.jitssh.Keys, until ctx ends (nil) or a server stops for good
// (an error naming it; systemd restarts the service).
func Run(ctx context.Context, o Options) error {
	log := o.Log
	hc, err := hostconfig.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	m, err := open(hc, log, true)
	if err != nil {
		return err
	}
	defer m.Close()
	sock := filepath.Join(o.SocketDir, hc.JIT.Service)
	ln, err := varlink.Listen(sock, 0o666)
	if err != nil {
		return err
	}
	log.Info("userdb: serving just-in-time users", "socket", sock, "uid_range", fmt.Sprintf("%d-%d", hc.JIT.UIDMin, hc.JIT.UIDMax), "state", hc.JIT.StateFile)
	caps := processCaps()
	log.Info("userdb: connection caps", "root", caps.root, "per_uid", caps.perPeer, "non_root", caps.users, "keys", caps.keys, "held", caps.held)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Each server closes its listener (removing its socket) when it stops;
	// the first to stop for good stops the other, and the service exits
	// with an error for systemd to restart it. Until then jitssh-authkeys
	// finds no socket and falls back to verifying by itself.
	done := make(chan serverResult, 2)
	servers := 1
	if hc.KeysSocket != "" {
		if err := startKeys(ctx, m, caps, log, done); err != nil {
			ln.Close()
			return err
		}
		servers++
	}
	go expireLoop(ctx, m, log)
	if hc.CloudWatch.Enabled() {
		// The shipper only reads the spool the audit writers append to:
		// logins never wait for CloudWatch Logs (docs/instance.md).
		go func() {
			if err := cwship.Run(ctx, hc, log); err != nil {
				log.Error("cloudwatch: shipping stopped; events stay in the spool until the service restarts", "err", err)
			}
		}()
	}
	svc := &userdb.Service{Name: hc.JIT.Service, Dir: m, Log: log}
	go func() {
		err := (&varlink.Server{
			Handler: svc.Handler(), Log: log,
			MaxRequest: maxRequest, MessageTimeout: messageTimeout, IdleTimeout: idleTimeout,
			MaxRootConns: caps.root, MaxConns: caps.users, MaxConnsPerPeer: caps.perPeer,
			HoldOver: holdOver, MaxHeld: caps.held,
		}).Serve(ctx, ln)
		done <- serverResult{"userdb", err}
	}()
	return wait(ctx, cancel, done, servers, log)
}

// startKeys serves io.jitssh.Keys for jitssh-authkeys on keys_socket:
// root only (mode 0600 and SO_PEERCRED), in a directory only root can
// write.
func startKeys(ctx context.Context, m *Manager, caps connCaps, log *slog.Logger, done chan<- serverResult) error {
	path := m.Config.KeysSocket
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	kln, err := varlink.Listen(path, 0o600)
	if err != nil {
		return err
	}
	ks := &keyservice.Service{Config: m.keys, Log: log, Served: m.NoteLogin}
	log.Info("userdb: serving io.jitssh.Keys for jitssh-authkeys", "socket", path)
	go func() {
		err := (&varlink.Server{
			Handler: ks.Handler(), Log: log,
			MaxRequest: maxRequest, MessageTimeout: messageTimeout, IdleTimeout: idleTimeout,
			MaxRootConns: caps.keys, MaxConns: 1, MaxConnsPerPeer: 1,
		}).Serve(ctx, keyservice.RootOnly(kln, log))
		done <- serverResult{"io.jitssh.Keys", err}
	}()
	return nil
}

// expireLoop removes expired users at once and then every expiryInterval
// until ctx ends.
func expireLoop(ctx context.Context, m *Manager, log *slog.Logger) {
	t := time.NewTicker(expiryInterval)
	defer t.Stop()
	for {
		if removed, err := m.Expire(); err != nil {
			log.Error("userdb: expiry", "err", err)
		} else if len(removed) > 0 {
			log.Info("userdb: expired users removed", "users", removed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// wait waits for the servers to stop: the first to stop stops the
// others. It returns nil if they stopped because ctx ended, else an error
// naming each that failed.
func wait(ctx context.Context, cancel context.CancelFunc, done <-chan serverResult, servers int, log *slog.Logger) error {
	var failed []string
	for i := 0; i < servers; i++ {
		r := <-done
		if r.err == nil && ctx.Err() == nil {
			r.err = errors.New("stopped")
		}
		if r.err != nil {
			log.Error("userdb: "+r.name+" server stopped; stopping the service (jitssh-authkeys falls back to verifying by itself)", "err", r.err)
			failed = append(failed, r.name+": "+r.err.Error())
		}
		cancel()
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	log.Info("userdb: stopped")
	return nil
}
