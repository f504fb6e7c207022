package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/placekey"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/passwdns"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// A managed (hybrid, mi-…) instance has no IMDS (it is not in EC2, so EC2
// Instance Connect keys never reach it); jitssh places keys on it with
// the key-placement script (package placekey) through SSM SendCommand.
//
// When the sandbox runs as root (and mount namespaces work), the instance
// has its own account database (package passwdns): the machine's
// accounts, every home moved under the instance's state directory, seen
// through a private /etc/passwd, /etc/group and /etc/shadow by everything
// the instance runs. SendCommand then runs the recognised script for
// real, as root, exactly as the SSM agent would (`sh -c`), and the SSH
// server authorizes from the real ~/.ssh/authorized_keys it wrote: the
// real sshd (AuthorizedKeysFile, StrictModes, expiry-time) in OpenSSH
// mode, the embedded server reading the same file otherwise. Without root
// the script is only parsed and the key kept in the world's placed keys,
// which the embedded server honours (docs/sandbox.md).

// placementTimeout bounds one run of the key-placement script (SSM's
// minimum executionTimeout).
const placementTimeout = 30 * time.Second

func (sb *Sandbox) startManaged(in world.Instance, dir string, mode sshd.Mode) (InstanceInfo, error) {
	scfg := sshd.Config{
		InstanceID: in.ID,
		Hostname:   in.Hostname,
		StateDir:   dir,
		Mode:       sshd.Embedded,
		Logger:     sb.log.With("component", "sshd", "instance", in.ID),
		Authorize:  sb.placedKeyAuthorizer(in.ID),
	}
	info := InstanceInfo{
		ID: in.ID, Name: in.Name(), Hostname: in.Hostname, State: in.State,
		PrivateIP: in.PrivateIP, Managed: true,
	}
	if why := passwdns.Usable(); why != nil {
		sb.log.Warn("the managed instance only parses the key-placement script and keeps keys in the sandbox (no real accounts without root)",
			"instance", in.ID, "reason", why)
	} else {
		db, err := sb.instanceAccounts(dir)
		if err != nil {
			return InstanceInfo{}, fmt.Errorf("accounts of %s: %w", in.ID, err)
		}
		sb.accounts[in.ID] = db
		info.Homes = filepath.Dir(db.Home("root"))
		scfg.Enter = db.Enter
		// As for EC2 instances: what runs on it reaches only what the
		// sandbox routes, never the machine's network (instanceNet).
		if ns, err := sb.instanceNet(in, "", nil); err != nil {
			sb.log.Warn("no network namespace for the managed instance: sshd's port forwarding is turned off", "instance", in.ID, "err", err)
			scfg.DisableForwarding = true
		} else {
			sb.netns[in.ID] = ns
			scfg.Enter = chainEnter(db.Enter, ns.Enter)
		}
		if mode == sshd.OpenSSH {
			scfg.Mode, scfg.Authorize, scfg.AuthorizedKeysFile = sshd.OpenSSH, nil, ".ssh/authorized_keys"
		} else {
			scfg.Authorize, scfg.LookupUser = fileAuthorizer(db), db.Lookup
		}
	}
	srv, err := sshd.New(scfg)
	if err != nil {
		return InstanceInfo{}, err
	}
	sb.hosts[in.ID] = srv
	info.SSHServer, info.SSHDLog = srv.Mode().String(), srv.LogPath()
	addr, err := sb.listenSSH(in.ID, srv)
	if err != nil {
		return InstanceInfo{}, err
	}
	info.SSHAddr = addr
	return info, nil
}

// instanceAccounts makes an instance's own account database under dir:
// the machine's accounts plus RootUser, with homes for root and the
// default identity's user.
func (sb *Sandbox) instanceAccounts(dir string) (*passwdns.DB, error) {
	// The users must reach their homes: under the state directory when
	// everything above it lets them through, else in a fresh directory
	// of the system's temporary one, removed at Close.
	homes := ""
	if !passwdns.Traversable(dir) {
		h, err := os.MkdirTemp("", "jitssh-sandbox-homes-")
		if err != nil {
			return nil, err
		}
		sb.cleanups = append(sb.cleanups, func() { os.RemoveAll(h) })
		if err := os.Chmod(h, 0o711); err != nil {
			return nil, err
		}
		homes = h
	}
	var own []passwdns.Account
	if !passwdns.HostHas(RootUser) {
		own = append(own, passwdns.Account{Name: RootUser, Shell: "/bin/bash"})
	}
	db, err := passwdns.New(filepath.Join(dir, "accounts"), homes, own)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"root", LocalUser()} {
		if db.Has(name) {
			if err := db.MakeHome(name); err != nil {
				return nil, err
			}
		}
	}
	return db, nil
}

// runPlacement is the simulated SSM agent running AWS-RunShellScript with
// the key-placement script on a managed instance: `sh -c` of exactly the
// script placekey.Script writes for p (which Parse recognised), as root,
// in the instance's account database.
func (sb *Sandbox) runPlacement(id string, p placekey.Placement) (apis.ScriptRun, bool) {
	db := sb.accounts[id]
	if db == nil {
		return apis.ScriptRun{}, false
	}
	fail := func(err error) (apis.ScriptRun, bool) {
		return apis.ScriptRun{Stderr: "jitssh-sandbox: " + err.Error() + "\n", Code: 1}, true
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(p.Key))
	if err != nil {
		return fail(err)
	}
	cmds, err := placekey.Script(p.User, pub, p.Expires)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), placementTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", strings.Join(cmds, "\n"))
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := db.Start(cmd.Start); err != nil {
		return fail(fmt.Errorf("start the script: %w", err))
	}
	err = cmd.Wait()
	run := apis.ScriptRun{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		run.Code, run.Stderr = 1, run.Stderr+fmt.Sprintf("jitssh-sandbox: the script did not end within %v and was killed\n", placementTimeout)
	case errors.As(err, &ee):
		run.Code = max(ee.ExitCode(), 1)
	case err != nil:
		return fail(err)
	}
	sb.log.Info("key-placement script ran", "instance", id, "user", p.User, "exit", run.Code,
		"elapsed", time.Since(start).Round(time.Millisecond), "stderr", strings.TrimSpace(run.Stderr))
	return run, true
}

// fileAuthorizer answers the embedded server's key lookups from the
// user's real ~/.ssh/authorized_keys in db, as sshd would: the file must
// be a regular file (not a link) owned by the user or root and not
// writable by others, and lines past their expiry-time are left out.
func fileAuthorizer(db *passwdns.DB) func(ctx context.Context, user, fingerprint string) ([]string, error) {
	return func(ctx context.Context, user, fingerprint string) ([]string, error) {
		uid, _, ok := db.IDs(user)
		if !ok {
			return nil, fmt.Errorf("no user %s on the instance", user)
		}
		path := filepath.Join(db.Home(user), ".ssh", "authorized_keys")
		f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		} else if err != nil {
			return nil, fmt.Errorf("authorized keys of %s: %w", user, err)
		}
		defer f.Close()
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			return nil, err
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFREG || int(st.Uid) != uid && st.Uid != 0 || st.Mode&0o022 != 0 {
			return nil, fmt.Errorf("bad ownership or modes for %s", path)
		}
		b, err := io.ReadAll(io.LimitReader(f, 1<<20))
		if err != nil {
			return nil, err
		}
		return unexpiredKeys(b, time.Now()), nil
	}
}

// unexpiredKeys returns the authorized_keys lines of b that are not past
// their expiry-time at now, without that option. Like sshd it compares
// whole seconds: a key is honoured through the second its expiry-time
// names.
func unexpiredKeys(b []byte, now time.Time) []string {
	var lines []string
	for len(b) > 0 {
		pub, comment, opts, rest, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			break
		}
		b = rest
		var keep []string
		live := true
		for _, o := range opts {
			if !strings.HasPrefix(strings.ToLower(o), "expiry-time") {
				keep = append(keep, o)
				continue
			}
			// Only expiry-time="<time>" counts; anything else like it
			// makes the line unusable, as sshd refuses a bad option.
			val, ok := strings.CutPrefix(strings.ToLower(o), `expiry-time="`)
			val, ok2 := strings.CutSuffix(val, `"`)
			t, ok3 := expiryTime(strings.ToUpper(val))
			ok = ok && ok2 && ok3
			live = live && ok && t.Unix() >= now.Unix() // as sshd: whole seconds
		}
		if !live {
			continue
		}
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + comment
		if len(keep) > 0 {
			line = strings.Join(keep, ",") + " " + line
		}
		lines = append(lines, line)
	}
	return lines
}

// expiryTime parses OpenSSH's expiry-time: YYYYMMDD[HHMM[SS]], UTC with a
// trailing Z, local time without.
func expiryTime(s string) (time.Time, bool) {
	loc := time.Local
	if z, ok := strings.CutSuffix(s, "Z"); ok {
		s, loc = z, time.UTC
	}
	layout := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}[len(s)]
	if layout == "" {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(layout, s, loc)
	return t, err == nil
}

// placedKeyAuthorizer answers the embedded server's key lookups from the
// world's placed keys (a managed instance without real accounts).
func (sb *Sandbox) placedKeyAuthorizer(id string) func(ctx context.Context, user, fingerprint string) ([]string, error) {
	return func(ctx context.Context, user, fingerprint string) ([]string, error) {
		keys := sb.worldOf(id).PlacedKeys(id, user)
		lines := make([]string, len(keys))
		for i, k := range keys {
			lines[i] = k.PublicKey
		}
		sb.log.Info("authorized keys of a managed instance", "instance", id, "user", user, "fingerprint", fingerprint, "keys", len(lines))
		return lines, nil
	}
}
