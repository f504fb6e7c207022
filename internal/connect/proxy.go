package connect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/instances"
	"github.com/jitssh/jitssh/internal/keyfile"
	"github.com/jitssh/jitssh/internal/keypush"
	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/progress"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

// ProxyOptions configures Proxy.
type ProxyOptions struct {
	API    API
	Target targets.Spec
	// Host is the name ssh was given (%h); after resolving it, Proxy
	// records it with the instance id for `jitssh known-hosts lookup`.
	Host string
	User string // %r
	Port int    // %p
	// Transport names how to reach the instance (transport.Names); ""
	// means auto.
	Transport string
	// Via, if set, is the jump host of the bastion transport (its User,
	// if any, is the login there; else User).
	Via *targets.Spec
	// KeyFile is where ssh expects the ephemeral private key
	// (IdentityFile): reused if present, written if not. Its push record
	// (KeyFile + ".pushed") is kept there too.
	KeyFile string
	// PublicKey, if set, is the user's own public key (authorized_keys
	// line) to push instead of an ephemeral key; KeyFile is then only
	// the place of the push record.
	PublicKey string
	// Resolved, if set, is Target already resolved by the caller (`jitssh
	// ssh` hands it over, see targets.FromHint): used instead of asking EC2
	// again when Target is that very instance id, else ignored. It saves
	// a round trip and grants nothing.
	Resolved *targets.Instance
	Pins     *knownhosts.Store
	Reason   string
	Tunnel   transport.TunnelConfig
	// ExplainHostKey, if set (with Pins), receives an explanation when
	// the server presents a host key other than the pinned one; the
	// key is read from the key exchange as it passes (hostKeyWatch).
	// ssh refuses such a key by itself (the pin store is its
	// UserKnownHostsFile), so `jitssh ssh` sets this instead of having
	// ssh run `jitssh known-hosts lookup` (a whole process) to explain.
	ExplainHostKey io.Writer
	// KeepKey, if set, is told when this proxy, the last one using
	// KeyFile, leaves it for reuse until its push window closes (at
	// until); it arranges for the key set to be removed then (`jitssh
	// proxy` starts a reaper, see keyfile.Reap). If nil, the key is removed
	// when the last proxy using it ends.
	KeepKey func(keyFile string, until time.Time)
	// MaxTunnelDuration caps EICE tunnels (seconds; 0: the service's 3600).
	MaxTunnelDuration int
	// Dialer, if set, makes the transports (ssm, eice, direct) Proxy
	// dials, and the jump host's; nil is jitssh's own (transport.Kit from
	// API, Reason, Tunnel, MaxTunnelDuration and Timeouts).
	Dialer transport.Dialer
	// Timeouts bound every network step (see Timeouts); zero fields take
	// the defaults.
	Timeouts transport.Timeouts
	// Progress, if set, shows the steps on the terminal; it is cleared
	// when sshd's first byte arrives (ssh owns the terminal from then
	// on) or when Proxy returns.
	Progress *progress.Line
	// Explain, if set, receives jitssh's account of a connection that
	// ended badly after the key was pushed (a login refused right after
	// the key exchange, an instance that stopped under the session):
	// ssh itself only reports "Permission denied" or "Broken pipe".
	Explain func(Explanation)
	// SSHGone, if set, is closed when ssh is gone: ssh sends its
	// ProxyCommand SIGHUP as it exits, which the proxy catches so as to
	// end (and explain) on its own terms rather than die mid-sentence.
	SSHGone <-chan struct{}
	// Detach, if set, is called once ssh is gone and jitssh has said what
	// it had to say: it lets go of the stderr shared with ssh (whoever
	// reads ssh's stderr from a pipe waits for every holder), before the
	// tunnel's polite shutdown.
	Detach func()
	Logger *slog.Logger
	// Warn, if set, receives what failed without stopping the connection:
	// one source of instances while resolving (instances.Lookup.Warn), SSM when
	// auto chooses a transport without the agent's status. Nil: such a
	// failure while resolving is an error.
	Warn func(error)
}

func (o ProxyOptions) lookup() instances.Lookup { return instances.Lookup{API: o.API, Warn: o.Warn} }

// Proxy is `jitssh proxy`: it connects and then copies stdin to the
// connection and the connection to stdout until either side ends. Nothing
// but SSH bytes is ever written to stdout.
//
// The steps, in order: check the options (the one place the login user,
// the transport and the jump host are validated); take the key file;
// resolve the target and the jump host; get the key's halves; then, at
// the same time, push the key(s) (EC2 Instance Connect; for a managed,
// mi-, instance the key-placement command through SSM Run Command),
// choose the transport and dial, and make sure the instance's host key is
// pinned (learned over SSM or EICE, never over direct or bastion); last,
// relay the SSH stream. An EC2 instance id over ssm is not looked up
// first: its lookup runs alongside the pushing and dialling, and its
// error, if any, is the one returned. A target resolved by the caller
// (ProxyOptions.Resolved) is not looked up at all.
func Proxy(ctx context.Context, o ProxyOptions, stdin io.Reader, stdout io.Writer) error {
	p, err := newProxy(o)
	if err != nil {
		return err
	}
	defer p.Progress.Clear()
	key, err := p.takeKeyFile()
	if err != nil {
		return err
	}
	defer key.done()
	e, err := p.resolveEnds(ctx)
	defer e.stop()
	if err != nil {
		return err
	}
	cred, err := p.credentials(key, e)
	if err != nil {
		return err
	}
	defer cred.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.cancelIfSSHGoes(ctx, cancel)
	conn, chosen, err := p.open(ctx, cancel, e, cred)
	if err != nil {
		return err
	}
	return p.relay(ctx, conn, chosen, e.inst, key, stdin, stdout)
}

// proxy is one Proxy call: its options and what checking them settled.
type proxy struct {
	ProxyOptions
	name    string // the transport: auto, ssm, eice, direct or bastion
	viaUser string // the login on the jump host
	dialer  transport.Dialer
	// splicing is set once the SSH stream is relayed: ssh going away
	// then ends the stream rather than the connecting.
	splicing atomic.Bool
}

// newProxy checks o and fills in its defaults: the one place the login
// user, the transport and the jump host are validated.
func newProxy(o ProxyOptions) (*proxy, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := targets.ValidUser(o.User); err != nil {
		return nil, err
	}
	name, err := transport.Route(o.Transport, o.Via != nil)
	if err != nil {
		return nil, err
	}
	p := &proxy{ProxyOptions: o, name: name, viaUser: o.User, dialer: o.Dialer}
	if o.Via != nil && o.Via.User != "" {
		p.viaUser = o.Via.User
		if err := targets.ValidUser(p.viaUser); err != nil {
			return nil, err
		}
	}
	if o.PublicKey == "" && o.KeyFile == "" {
		return nil, ErrNoKeyFile
	}
	if p.dialer == nil {
		p.dialer = transport.Kit{API: o.API, Reason: o.Reason, Tunnel: o.Tunnel, MaxTunnelDuration: o.MaxTunnelDuration, Timeouts: o.Timeouts}
	}
	return p, nil
}

// heldKey is the key file while this proxy uses it.
type heldKey struct {
	use     *keyfile.Use // nil with the user's own key (PublicKey)
	release func()       // lets go of it (once)
	swept   chan struct{}
}

// done waits for the sweep of the key directory and lets go of the key.
func (k *heldKey) done() {
	if k.swept != nil {
		<-k.swept
	}
	k.release()
}

// takeKeyFile takes the key file's lock first: ssh may have read the key
// file already (see package keyfile), and from now on nobody removes it. The
// key directory is swept of keys left behind meanwhile.
func (o *proxy) takeKeyFile() (*heldKey, error) {
	k := &heldKey{release: func() {}}
	if o.KeyFile == "" {
		return k, nil
	}
	use, err := keyfile.Take(o.KeyFile)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	k.use, k.release = use, func() { once.Do(func() { use.Release(o.KeepKey) }) }
	k.swept = make(chan struct{})
	go func() {
		defer close(k.swept)
		keyfile.Sweep(filepath.Dir(o.KeyFile), o.KeepKey)
	}()
	return k, nil
}

// ends are the two ends of the connection: the instance and, for the
// bastion transport, the jump host.
type ends struct {
	inst, via targets.Instance
	// verify, if not nil, is the instance's lookup still running (an EC2
	// instance id over ssm): its error decides.
	verify <-chan error
	facts  *factsOnce
	stop   func() // ends the SSM status prefetch
}

// resolveEnds resolves the target and the jump host at the same time.
// Under ssh's ProxyCommand nobody can pick: several matches are an error
// listing them. An instance id is known before resolving: auto asks SSM
// about the agent at the same time as EC2 about the instance, not after.
func (o *proxy) resolveEnds(ctx context.Context) (*ends, error) {
	e := &ends{stop: func() {}}
	var ssmPre transport.SSMStatusFunc
	if o.name == transport.NameAuto && o.Target.Kind == targets.KindInstanceID {
		pctx, pcancel := context.WithCancel(ctx)
		e.stop = pcancel
		ssmPre = transport.PrefetchSSM(pctx, o.API, o.Target.Value)
	}
	var (
		instErr, viaErr error
		rwg             sync.WaitGroup
	)
	if o.Via != nil {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			e.via, viaErr = o.resolve(ctx, *o.Via)
			if viaErr != nil {
				viaErr = fmt.Errorf("jump host: %w", viaErr)
			}
		}()
	}
	e.inst, e.verify, instErr = o.resolveTarget(ctx)
	rwg.Wait()
	if err := errors.Join(instErr, viaErr); err != nil {
		return e, firstReal(instErr, viaErr)
	}
	if err := o.checkEnds(e.inst, e.via); err != nil {
		return e, err
	}
	e.facts = &factsOnce{api: o.API, inst: e.inst, status: ssmPre}
	return e, nil
}

// resolveTarget resolves the target, unless the caller did (Resolved) or
// it is an EC2 instance id over ssm, which needs nothing from EC2 to push
// the key and start the session: its lookup then runs alongside them
// (the channel) instead of first. It still decides: it is not cancelled
// by the other steps, and its error is the one reported.
func (o *proxy) resolveTarget(ctx context.Context) (targets.Instance, <-chan error, error) {
	byID := o.Target.Kind == targets.KindInstanceID
	if r := o.Resolved; r != nil && byID && r.ID == o.Target.Value && !r.Managed {
		o.Logger.Info("target resolved by the caller", "instance", r.ID)
		return *r, nil, nil
	}
	if o.name == transport.NameSSM && o.Via == nil && byID && (o.Host == "" || o.Host == o.Target.Value) {
		inst := targets.Instance{ID: o.Target.Value, Account: o.Target.Account}
		verify := make(chan error, 1)
		go func() {
			in, err := o.resolve(ctx, o.Target)
			if err == nil && in.ID != inst.ID {
				err = fmt.Errorf("resolve %s: EC2 answered with instance %s", o.Target, in.ID)
			}
			if err == nil && o.Pins != nil {
				_, err = o.checkPin(in) // its account is known now
			}
			verify <- err
		}()
		return inst, verify, nil
	}
	inst, err := o.resolve(ctx, o.Target)
	return inst, nil, err
}

// checkEnds refuses ends that cannot go together or whose pin is of
// another account (before any key is pushed or anything dialled), and
// records the name ssm was given for the instance (for `jitssh
// known-hosts lookup`).
func (o *proxy) checkEnds(inst, via targets.Instance) error {
	if via.Managed {
		return &ManagedError{Instance: via, JumpHost: true}
	}
	if inst.Managed && o.name != transport.NameAuto && o.name != transport.NameSSM {
		return &ManagedError{Instance: inst, Transport: o.name}
	}
	if o.name == transport.NameBastion && via.ID == inst.ID {
		return fmt.Errorf("%s cannot be its own jump host", inst.ID)
	}
	if o.Pins == nil {
		return nil
	}
	for _, end := range []targets.Instance{inst, via} {
		if end.ID == "" {
			continue // no jump host
		}
		if _, err := o.checkPin(end); err != nil {
			if end.ID == via.ID {
				err = fmt.Errorf("jump host %s: %w", via.ID, err)
			}
			return err
		}
	}
	if o.Host != "" && o.Host != inst.ID {
		if err := o.Pins.RememberName(o.Host, inst.ID); err != nil {
			return err
		}
	}
	return nil
}

// credential is the key this connection pushes and, where jitssh logs in
// itself (a jump host), its private half.
type credential struct {
	pubKey string
	signer ssh.Signer
	close  func()
}

// credentials loads the ephemeral key, or takes the user's own public
// key; the bastion transport also needs the private half, from the key
// file or the ssh-agent (`jitssh ssh` with an agent, or -i with a key
// loaded there).
func (o *proxy) credentials(key *heldKey, e *ends) (*credential, error) {
	c := &credential{pubKey: o.PublicKey, close: func() {}}
	if c.pubKey == "" {
		k, err := key.use.Load()
		if err != nil {
			return nil, err
		}
		c.pubKey, c.signer = k.AuthorizedKey(), k.Signer()
	}
	if o.name == transport.NameBastion && c.signer == nil {
		s, closeAgent, err := agentSigner(c.pubKey)
		if err != nil {
			return nil, &NoPrivateKeyError{Err: err}
		}
		c.signer, c.close = s, closeAgent
	}
	return c, nil
}

// cancelIfSSHGoes cancels the connecting if ssh gives up (SSHGone) before
// the stream is relayed.
func (o *proxy) cancelIfSSHGoes(ctx context.Context, cancel func()) {
	if o.SSHGone == nil {
		return
	}
	go func() {
		select {
		case <-o.SSHGone:
			if !o.splicing.Load() {
				o.Progress.Clear() // while stderr is still the terminal
				o.detach()
				cancel() // ssh gave up before we were connected
			}
		case <-ctx.Done():
		}
	}()
}

// open runs the connecting steps at the same time: the instance's lookup
// if it still runs, the key push (to the jump host too), choosing the
// transport and dialling, and the host-key pin. The first to fail cancels
// the others; its error is returned, and the connection, if any, closed.
func (o *proxy) open(ctx context.Context, cancel func(), e *ends, cred *credential) (transport.Conn, string, error) {
	var (
		wg                                              sync.WaitGroup
		verifyErr, pushErr, viaPushErr, dialErr, pinErr error
		conn                                            transport.Conn
		chosen                                          string
		viaPushed                                       = make(chan struct{})
	)
	step := func(errp *error, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if *errp = f(); *errp != nil {
				cancel()
			}
		}()
	}
	if e.verify != nil {
		step(&verifyErr, func() error { return <-e.verify })
	}
	step(&pushErr, func() error { return o.push(ctx, o.KeyFile, e.inst, o.User, cred.pubKey) })
	if o.name == transport.NameBastion {
		step(&viaPushErr, func() error {
			defer close(viaPushed)
			return o.push(ctx, keyfile.ViaRecord(o.KeyFile, e.via.ID), e.via, o.viaUser, cred.pubKey)
		})
	}
	step(&dialErr, func() (err error) {
		conn, chosen, err = o.dial(ctx, e, cred.signer, viaPushed)
		return err
	})
	if o.Pins != nil {
		step(&pinErr, func() error { return o.ensurePinned(ctx, e.inst, o.name, e.facts) })
	}
	wg.Wait()
	if err := errors.Join(verifyErr, pushErr, viaPushErr, dialErr, pinErr); err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, "", firstReal(verifyErr, pushErr, viaPushErr, dialErr, pinErr)
	}
	o.Logger.Info("connected", "instance", e.inst.ID, "transport", chosen, "user", o.User)
	return conn, chosen, nil
}

// dial chooses the transport (auto: from the facts; bastion: over the
// jump host's own) and opens the connection to the instance's port.
func (o *proxy) dial(ctx context.Context, e *ends, signer ssh.Signer, viaPushed <-chan struct{}) (transport.Conn, string, error) {
	var tr transport.Transport
	var err error
	if o.name == transport.NameBastion {
		tr, err = o.bastion(ctx, e.via, o.viaUser, signer, viaPushed)
	} else {
		end := o.Progress.Begin("choosing a transport")
		tr, err = o.transport(ctx, o.name, e.inst, e.facts)
		end()
	}
	if err != nil {
		return nil, "", err
	}
	end := o.Progress.Begin("opening %s connection", dialWord(tr, e.via))
	conn, err := tr.Dial(ctx, e.inst, o.Port)
	end()
	return conn, tr.Name(), err
}

// relay splices the SSH stream, lets go of the key once it has ended,
// explains a connection that ended badly, and closes the connection.
func (o *proxy) relay(ctx context.Context, conn transport.Conn, chosen string, inst targets.Instance, key *heldKey, stdin io.Reader, stdout io.Writer) error {
	o.splicing.Store(true)
	endWait := o.Progress.Begin("waiting for sshd")
	banner := o.Timeouts.BannerTimeout()
	rep, err := splice(ctx, conn, spliceOptions{
		what: chosen + " connection to " + inst.ID, seen: o.hostKeySeen(inst), banner: banner, sshGone: o.SSHGone,
		firstByte: func() { endWait(); o.Progress.Clear() },
		bannerErr: func() error {
			return &transport.TimeoutError{Waiting: fmt.Sprintf("sshd on %s (%s) to answer on port %d over %s", inst.ID, dash(inst.Name), o.Port, chosen), After: banner,
				Cause:      "the path to the instance is open but nothing speaks SSH on that port: sshd may be stopped, hung or listening elsewhere, or the instance overloaded",
				InstanceID: inst.ID, Look: transport.LookWithoutSSHD}
		},
	}, stdin, stdout)
	// The key's part is over once the stream is: let it go before
	// explaining and shutting down, which may take a while, so that a
	// next connection never finds this proxy still deciding its fate.
	key.release()
	o.Logger.Info("ssh stream ended", "instance", inst.ID, "by", map[bool]string{true: "ssh", false: "instance"}[rep.sshClosed],
		"first_byte", since(rep.start, rep.firstByte), "kex_done", since(rep.start, rep.newKeys), "bytes_after_kex", rep.afterKex,
		"duration", rep.end.Sub(rep.start).Round(time.Millisecond), "err", rep.remoteErr)
	if o.Explain != nil && err == nil {
		e := Explanation{SSM: ssmEnd(conn, rep)}
		if e.SSM == nil {
			e = o.explainEnd(inst, chosen, rep)
		}
		if e != (Explanation{}) {
			o.Explain(e)
		}
	}
	o.closeConn(conn)
	return err
}

// hostKeySeen returns what to do with the host key the server presents
// (ExplainHostKey): explain it if it is not the pinned one. Nil if
// nothing is to be explained.
func (o *proxy) hostKeySeen(inst targets.Instance) func(ssh.PublicKey) {
	if o.ExplainHostKey == nil || o.Pins == nil {
		return nil
	}
	pinned, err := o.Pins.Lookup(inst.ID)
	if err != nil || len(pinned) == 0 {
		return nil
	}
	return func(k ssh.PublicKey) {
		for _, p := range pinned {
			if bytes.Equal(p.Marshal(), k.Marshal()) {
				return
			}
		}
		e := &knownhosts.ChangedError{Alias: inst.ID, File: o.Pins.Path, Pinned: pinned, Presented: []ssh.PublicKey{k}, ForgetCommand: o.Pins.ForgetCommand}
		fmt.Fprintf(o.ExplainHostKey, "jitssh: %v\n  %s\n", e, e.Advice())
	}
}

// closeConn closes the connection after explaining (an SSM tunnel whose
// agent went away waits for acknowledgements before it gives up). Once
// ssh is gone (its SIGHUP), the stderr shared with it is let go first:
// whoever reads ssh's stderr from a pipe must not wait for a polite
// shutdown nobody will see; the shutdown itself still ends the session
// and releases the key file.
func (o *proxy) closeConn(conn transport.Conn) {
	closed := make(chan struct{})
	go func() {
		conn.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-o.SSHGone:
		o.detach()
		<-closed
	}
}

// detach calls Detach, if set.
func (o ProxyOptions) detach() {
	if o.Detach != nil {
		o.Detach()
	}
}

// since formats t's offset from start, or "-" for a zero t.
func since(start, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Sub(start).Round(time.Millisecond).String()
}

// dialWord names a transport for the progress line.
func dialWord(tr transport.Transport, via targets.Instance) string {
	if tr.Name() == transport.NameBastion {
		return "bastion (via " + firstNonEmpty(via.Name, via.ID) + ")"
	}
	return tr.Name()
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// resolve is targets.Resolve within the API deadline, shown as progress.
func (o *proxy) resolve(ctx context.Context, sp targets.Spec) (inst targets.Instance, err error) {
	defer o.Progress.Begin("looking up %s", sp)()
	err = transport.Within(ctx, o.Timeouts.APITimeout(), "EC2 to describe "+sp.String(), transport.CauseAPI, func(ctx context.Context) (err error) {
		inst, err = targets.Resolve(ctx, o.lookup(), sp, nil)
		return err
	})
	return inst, err
}

// push is keypush.Once within the API deadline (twice that for a managed
// instance, whose key is placed by a polled Run Command), shown as
// progress.
func (o *proxy) push(ctx context.Context, record string, inst targets.Instance, user, pubKey string) error {
	d, what := o.Timeouts.APITimeout(), fmt.Sprintf("EC2 Instance Connect to accept the key for %s on %s", user, inst.ID)
	if inst.Managed {
		d, what = 2*d, fmt.Sprintf("SSM Run Command to place the key for %s on %s", user, inst.ID)
	}
	defer o.Progress.Begin("pushing key for %s to %s", user, firstNonEmpty(inst.Name, inst.ID))()
	return transport.Within(ctx, d, what, transport.CauseAPI, func(ctx context.Context) error {
		return keypush.Once(ctx, o.API, record, inst, user, pubKey, o.Logger)
	})
}

// agentSigner returns the running ssh-agent's signer for the public key
// line pubKey.
func agentSigner(pubKey string) (ssh.Signer, func(), error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pubKey))
	if err != nil {
		return nil, nil, fmt.Errorf("public key: %w", err)
	}
	ag, err := sshkeys.DialAgent("")
	if err != nil {
		return nil, nil, err
	}
	s, err := ag.Signer(pub)
	if err != nil {
		ag.Close()
		return nil, nil, err
	}
	return s, func() { ag.Close() }, nil
}

// factsOnce gathers an instance's facts at most once, for whoever needs
// them first (auto's choice, or the choice of a channel to learn a pin).
type factsOnce struct {
	api    API
	inst   targets.Instance
	status func(context.Context) (string, error) // prefetched SSM status, if any
	once   sync.Once
	f      transport.Facts
	err    error
}

func (c *factsOnce) get(ctx context.Context) (transport.Facts, error) {
	c.once.Do(func() {
		if c.status != nil {
			c.f, c.err = transport.GatherFactsWith(ctx, c.api, c.inst, false, c.status)
			return
		}
		c.f, c.err = transport.GatherFacts(ctx, c.api, c.inst, false)
	})
	return c.f, c.err
}

// transport returns the transport called name for inst (auto choosing
// from the facts); never bastion.
func (o *proxy) transport(ctx context.Context, name string, inst targets.Instance, facts *factsOnce) (transport.Transport, error) {
	if name == transport.NameAuto {
		f, err := facts.get(ctx)
		if err != nil {
			return nil, err
		}
		chosen, reason, err := transport.Auto(inst, f)
		if err != nil {
			return nil, err
		}
		if f.SSMErr != nil && o.Warn != nil {
			o.Warn(fmt.Errorf("SSM agent status of %s unknown, using %s: %w", inst.ID, chosen, f.SSMErr))
		}
		o.Logger.Info("transport chosen", "instance", inst.ID, "transport", chosen, "why", reason)
		name = chosen
	}
	return o.dialer.Transport(ctx, name, inst)
}

// bastion prepares the bastion transport: the jump host's own transport
// (auto), its pinned host key (learned over a trusted channel if need
// be), and waits for the key push to it.
func (o *proxy) bastion(ctx context.Context, via targets.Instance, user string, signer ssh.Signer, pushed <-chan struct{}) (transport.Transport, error) {
	if o.Pins == nil {
		return nil, ErrBastionWithoutPins
	}
	viaFacts := &factsOnce{api: o.API, inst: via}
	var (
		wg            sync.WaitGroup
		hop           transport.Transport
		hopErr, pinEr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		pinEr = o.ensurePinned(ctx, via, transport.NameAuto, viaFacts)
	}()
	hop, hopErr = o.transport(ctx, transport.NameAuto, via, viaFacts)
	wg.Wait()
	if err := firstReal(pinEr, hopErr); err != nil {
		return nil, fmt.Errorf("jump host %s: %w", via.ID, err)
	}
	keys, err := o.Pins.Lookup(via.ID)
	if err != nil {
		return nil, fmt.Errorf("read host-key pins: %w", err)
	}
	select {
	case <-pushed:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	o.Logger.Info("jump host", "instance", via.ID, "transport", hop.Name(), "user", user)
	return transport.Bastion{Via: via, Hop: hop, User: user, Signer: signer, HostKeys: keys, Pins: o.Pins, Timeouts: o.Timeouts}, nil
}

// ErrNoKeyFile is Proxy given neither a key file (KeyFile) nor a public
// key (PublicKey).
var ErrNoKeyFile = errors.New("no identity file path")

// ErrBastionWithoutPins is the bastion transport asked for without a pin
// store (Pins): it checks the jump host's pinned host key.
var ErrBastionWithoutPins = errors.New("the bastion transport checks the jump host's pinned host key: it cannot run without host-key pins")

// ManagedError is an SSM managed (mi-) Instance asked to be reached over
// another Transport than ssm, or to be a JumpHost.
type ManagedError struct {
	Instance  targets.Instance
	Transport string // the transport asked for ("" with JumpHost)
	JumpHost  bool
}

func (e *ManagedError) Error() string {
	if e.JumpHost {
		return fmt.Sprintf("%s is an SSM managed instance: it cannot be a jump host (the bastion transport reaches a target in the jump host's VPC, and managed instances have none)", e.Instance.ID)
	}
	return fmt.Sprintf("%s is an SSM managed instance: only the ssm transport reaches it (EC2 Instance Connect Endpoints, public addresses and jump hosts are EC2's), not %s", e.Instance.ID, e.Transport)
}

// NoPrivateKeyError is the bastion transport, which logs in to the jump
// host itself, without the private half of the key it pushes (the user's
// own key, and no ssh-agent holding it): Err says why.
type NoPrivateKeyError struct {
	Err error
}

func (e *NoPrivateKeyError) Error() string {
	return "the bastion transport logs in to the jump host itself and needs the private half of the key it pushes: " + e.Err.Error()
}

func (e *NoPrivateKeyError) Unwrap() error { return e.Err }

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

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
