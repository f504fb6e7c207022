// Package connect is the client's use case: it resolves a target, authorizes
// an ephemeral key with EC2 Instance Connect, opens an SSM tunnel to the
// instance's sshd, makes sure the instance's host key is pinned (learning it
// over the AWS-authenticated tunnel the first time), and splices the tunnel
// to the ssh client's ProxyCommand pipes. Independent steps run
// concurrently.
package connect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/target"
)

// API is the subset of AWS calls the client makes (implemented by
// *awsapi.Client).
type API interface {
	DescribeInstances(ctx context.Context, ids []string, filters map[string][]string) ([]awsapi.Instance, error)
	SendSSHPublicKey(ctx context.Context, instanceID, osUser, pubKey string) (string, error)
	StartSession(ctx context.Context, target, document string, params map[string][]string, reason string) (*awsapi.Session, error)
	TerminateSession(ctx context.Context, id string) error
	ResumeSession(ctx context.Context, id string) (*awsapi.Session, error)
}

// SSHDocument is the SSM document that tunnels to a port of the instance.
const SSHDocument = "AWS-StartSSHSession"

// Lookup adapts an API to target.Lookup.
type Lookup struct{ API API }

// InstancesByID implements target.Lookup.
func (l Lookup) InstancesByID(ctx context.Context, id string) ([]target.Instance, error) {
	found, err := l.API.DescribeInstances(ctx, []string{id}, nil)
	var ae *awsapi.APIError
	if errors.As(err, &ae) && ae.Code == "InvalidInstanceID.NotFound" {
		return nil, nil
	}
	return toTargets(found), err
}

// InstancesByName implements target.Lookup.
func (l Lookup) InstancesByName(ctx context.Context, name string) ([]target.Instance, error) {
	found, err := l.API.DescribeInstances(ctx, nil, map[string][]string{
		"tag:Name":            {name},
		"instance-state-name": {"pending", "running", "stopping", "stopped"},
	})
	return toTargets(found), err
}

func toTargets(in []awsapi.Instance) []target.Instance {
	out := make([]target.Instance, len(in))
	for i, x := range in {
		out[i] = target.Instance{ID: x.ID, Name: x.Name, State: x.State}
	}
	return out
}

// Tunnel is an open SSM session speaking to a port on the instance.
type Tunnel struct {
	*datachannel.Session
	SessionID  string
	InstanceID string
	api        API
}

// OpenTunnel starts an AWS-StartSSHSession session to port on the instance
// and completes the data-channel handshake.
func OpenTunnel(ctx context.Context, api API, instanceID string, port int, reason string) (*Tunnel, error) {
	sess, err := api.StartSession(ctx, instanceID, SSHDocument, map[string][]string{"portNumber": {strconv.Itoa(port)}}, reason)
	if err != nil {
		return nil, err
	}
	dc, err := datachannel.Dial(ctx, sess.StreamURL, sess.Token, datachannel.DialOptions{
		Session: datachannel.Config{Keepalive: 30 * time.Second},
		// AWS closes data channels about hourly, and networks drop: resume
		// the same session rather than lose the SSH connection.
		Resume: func(ctx context.Context) (string, string, error) {
			r, err := api.ResumeSession(ctx, sess.ID)
			if err != nil {
				return "", "", err
			}
			return r.StreamURL, r.Token, nil
		},
	})
	if err != nil {
		terminate(api, sess.ID)
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	if _, err := dc.ClientHandshake(ctx); err != nil {
		dc.Close()
		terminate(api, sess.ID)
		return nil, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	return &Tunnel{Session: dc, SessionID: sess.ID, InstanceID: instanceID, api: api}, nil
}

// Shutdown ends the tunnel politely: it waits (bounded) for the agent to
// acknowledge what was sent, tells it to terminate, and ends the session.
func (t *Tunnel) Shutdown(ctx context.Context) {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if t.Flush(fctx) == nil {
		_ = t.SendFlag(datachannel.FlagTerminateSession)
		_ = t.Flush(fctx)
	}
	cancel()
	t.Close()
	terminate(t.api, t.SessionID)
}

func terminate(api API, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = api.TerminateSession(ctx, id)
}

// Conn presents a Tunnel as a net.Conn (for x/crypto/ssh).
func (t *Tunnel) Conn() net.Conn { return &tunnelConn{t} }

type tunnelConn struct{ t *Tunnel }

func (c *tunnelConn) Read(p []byte) (int, error)       { return c.t.Read(p) }
func (c *tunnelConn) Write(p []byte) (int, error)      { return c.t.Write(p) }
func (c *tunnelConn) Close() error                     { c.t.Shutdown(context.Background()); return nil }
func (c *tunnelConn) LocalAddr() net.Addr              { return ssmAddr("local") }
func (c *tunnelConn) RemoteAddr() net.Addr             { return ssmAddr(c.t.InstanceID) }
func (c *tunnelConn) SetDeadline(time.Time) error      { return nil }
func (c *tunnelConn) SetReadDeadline(time.Time) error  { return nil }
func (c *tunnelConn) SetWriteDeadline(time.Time) error { return nil }

type ssmAddr string

func (a ssmAddr) Network() string { return "ssm" }
func (a ssmAddr) String() string  { return string(a) }

// ProxyOptions configures Proxy.
type ProxyOptions struct {
	API     API
	Target  string // %h: instance id, mi- id or Name tag
	User    string // %r
	Port    int    // %p
	KeyFile string // where ssh expects the private key (IdentityFile)
	Pins    *knownhosts.Store
	Reason  string
	Logger  *slog.Logger
}

// Proxy is `jitssh proxy`: it connects and then copies stdin to the tunnel
// and the tunnel to stdout until either side ends. Nothing but SSH bytes is
// ever written to stdout.
func Proxy(ctx context.Context, o ProxyOptions, stdin io.Reader, stdout io.Writer) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := target.ValidUser(o.User); err != nil {
		return err
	}
	spec, err := target.Parse(o.Target)
	if err != nil {
		return err
	}
	inst, err := target.Resolve(ctx, Lookup{o.API}, spec)
	if err != nil {
		return err
	}
	key, release, err := keyForFile(o.KeyFile)
	if err != nil {
		return err
	}
	defer release()

	var (
		wg                        sync.WaitGroup
		pushErr, tunErr, learnErr error
		tun                       *Tunnel
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(2)
	go func() {
		defer wg.Done()
		var reqID string
		reqID, pushErr = o.API.SendSSHPublicKey(ctx, inst.ID, o.User, key.AuthorizedKey())
		if pushErr == nil {
			log.Info("pushed ephemeral key", "instance", inst.ID, "user", o.User, "fingerprint", key.Fingerprint(), "request_id", reqID)
		} else {
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		tun, tunErr = OpenTunnel(ctx, o.API, inst.ID, o.Port, o.Reason)
		if tunErr != nil {
			cancel()
		}
	}()
	if o.Pins != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			learnErr = ensurePinned(ctx, o, inst.ID, log)
			if learnErr != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(pushErr, tunErr, learnErr); err != nil {
		if tun != nil {
			tun.Shutdown(context.Background())
		}
		return firstReal(pushErr, tunErr, learnErr)
	}
	log.Info("tunnel open", "instance", inst.ID, "session", tun.SessionID, "user", o.User)
	return splice(ctx, tun, stdin, stdout)
}

// firstReal returns the first error that is not a cancellation caused by
// another step failing.
func firstReal(errs ...error) error {
	for _, e := range errs {
		if e != nil && !errors.Is(e, context.Canceled) {
			return e
		}
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func ensurePinned(ctx context.Context, o ProxyOptions, instanceID string, log *slog.Logger) error {
	pinned, err := o.Pins.Lookup(instanceID)
	if err != nil {
		return fmt.Errorf("read host-key pins: %w", err)
	}
	if len(pinned) > 0 {
		return nil
	}
	t, err := OpenTunnel(ctx, o.API, instanceID, o.Port, o.Reason)
	if err != nil {
		return fmt.Errorf("learn host key of %s: %w", instanceID, err)
	}
	keys, err := knownhosts.Learn(ctx, t.Conn(), o.User)
	if err != nil {
		return fmt.Errorf("learn host key of %s over SSM: %w", instanceID, err)
	}
	if err := o.Pins.Pin(instanceID, keys); err != nil {
		return err
	}
	log.Info("pinned host key learned over SSM", "instance", instanceID, "type", keys[0].Type())
	return nil
}

// splice copies both ways. When the ssh client closes our stdin, the tunnel
// is shut down after the agent acknowledged everything; when the session
// ends remotely (channel_closed), stdout is done and we return.
func splice(ctx context.Context, tun *Tunnel, stdin io.Reader, stdout io.Writer) error {
	outDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(stdout, tun)
		outDone <- err
	}()
	inDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(tun, stdin)
		inDone <- err
	}()
	select {
	case err := <-outDone:
		// Remote end closed (or the tunnel failed).
		tun.Shutdown(context.Background())
		if err != nil && !errors.Is(err, syscall.EPIPE) {
			return fmt.Errorf("session %s: %w", tun.SessionID, err)
		}
		return nil
	case err := <-inDone:
		tun.Shutdown(context.Background())
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		return nil
	case <-ctx.Done():
		tun.Shutdown(context.Background())
		return ctx.Err()
	}
}

// keyForFile returns the key at path if one is there (ssh may already have
// read its public half), or generates and writes a new one. The returned
// func removes the file when no other jitssh process is using it.
func keyForFile(path string) (*sshkeys.Key, func(), error) {
	if path == "" {
		return nil, nil, errors.New("no identity file path: pass --identity-file (the ssh config block does)")
	}
	lock, err := lockShared(path + ".lock")
	if err != nil {
		return nil, nil, err
	}
	k, _, err := sshkeys.LoadOrCreate(path, "jitssh-ephemeral")
	if err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("ephemeral key %s: %w", path, err)
	}
	return k, func() { releaseKey(path, lock) }, nil
}

func lockShared(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open key lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock key file: %w", err)
	}
	return f, nil
}

// releaseKey deletes the key file if this is the last process holding it.
func releaseKey(path string, lock *os.File) {
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		os.Remove(path) // the lock file stays: removing it would race new lockers
	}
	lock.Close()
}
