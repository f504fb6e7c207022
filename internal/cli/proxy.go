package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/handoff"
	"github.com/jitssh/jitssh/internal/keyfile"
	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

// Environment variables the proxy reads for plain ssh, as the fallback of
// its flags (`jitssh ssh` hands its own settings over in one value
// instead, see internal/handoff).
const (
	envReason        = "JITSSH_REASON"
	envPublicKeyFile = "JITSSH_PUBLIC_KEY_FILE"
	// envPayloadSize raises the data-channel message size (experimental:
	// AWS's own plugin sends 1024 bytes; see docs/protocol.md).
	envPayloadSize = "JITSSH_SSM_PAYLOAD_SIZE"
	envTransport   = "JITSSH_TRANSPORT"
	envVia         = "JITSSH_VIA"
	// envKeyStore and envAgentLifetime set `jitssh ssh`'s --key-store and
	// --agent-lifetime.
	envKeyStore      = "JITSSH_KEY_STORE"
	envAgentLifetime = "JITSSH_AGENT_LIFETIME"
)

// progressLabel is the target as the user wrote it, when `jitssh ssh`
// says so (a printable name of sane length), else host.
func progressLabel(label, host string) string {
	if label == "" || len(label) > 200 || strings.ContainsFunc(label, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return host
	}
	return label
}

// explainer returns where the proxy's explanations go: the report file
// `jitssh ssh` reads, or stderr (a refused login only when the stream
// itself shows it, see connect.Explanation).
func (g *globals) explainer(report string) func(connect.Explanation) {
	if report != "" {
		return func(e connect.Explanation) {
			// Its directory gone is `jitssh ssh` done without it (ssh
			// succeeded): nothing to say.
			if err := writeReport(report, e); err != nil && !errors.Is(err, fs.ErrNotExist) {
				g.logger().Info("could not leave the explanation for jitssh ssh", "file", report, "err", err)
			}
		}
	}
	return func(e connect.Explanation) {
		if e.Refused {
			fmt.Fprintln(g.io.Err, e.Login)
			fmt.Fprintln(g.io.Err, anotherUser)
		}
		if e.Ended != "" {
			fmt.Fprintln(g.io.Err, e.Ended)
		}
		g.printSSMEnd(e.SSM)
	}
}

// writeReport writes e to path (a new file: an existing one is not
// overwritten, so nothing there is followed or clobbered).
func writeReport(path string, e connect.Explanation) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// reportDone leaves an empty report at path when the proxy ends without
// an explanation (it failed before connecting, or the session ended
// normally), so that `jitssh ssh` does not wait reportWait for one that
// never comes.
func reportDone(path string) {
	if _, err := os.Lstat(path); err == nil {
		return
	}
	writeReport(path, connect.Explanation{})
}

// readReport waits up to wait for the proxy's report at path.
func readReport(path string, wait time.Duration) (connect.Explanation, bool) {
	var e connect.Explanation
	deadline := time.Now().Add(wait)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return e, json.Unmarshal(b, &e) == nil
		}
		if time.Now().After(deadline) {
			return e, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxyOptions is `jitssh proxy` after argument and flag parsing: what
// ssh passed (%r, %h, %p) and the flags as given. runProxy fills in what
// the flags leave unset from the hand-off of `jitssh ssh` (if it is meant
// for this connection), the environment and the config file.
type proxyOptions struct {
	IO IOStreams
	// g is what the proxy shares with every command: -v, --profile, the
	// config file, the progress line and the logger.
	g *globals
	// API returns the clients of the target's location and its region,
	// and the instance when a search across the scope in effect found it
	// (nil: the one location of --profile and --region).
	API func(ctx context.Context, spec targets.Spec) (api connect.API, region string, found *located, err error)

	User   string       // the login user, ssh's %r
	Host   string       // the target as ssh has it, %h
	Target targets.Spec // Host parsed
	Port   int          // %p

	KeyFile       string // --identity-file
	PublicKeyFile string // --public-key
	Reason        string
	Transport     string
	Via           string
	NoPin         bool
	PayloadSize   int // --ssm-payload-size
}

func newProxyCmd(g *globals, runF func(context.Context, *proxyOptions) error) *cobra.Command {
	o := &proxyOptions{IO: g.io, g: g, API: func(ctx context.Context, spec targets.Spec) (connect.API, string, *located, error) {
		api, l, err := g.targetAPI(ctx, spec, nil)
		if err != nil {
			return nil, "", nil, err
		}
		return api, api.Region, l, nil
	}}
	cmd := &cobra.Command{
		Use:   "proxy USER HOST PORT",
		Short: "ProxyCommand entry point: connect stdin/stdout to an instance's sshd",
		Long: `proxy is what ssh runs as its ProxyCommand (see "jitssh config print").
It resolves HOST (any target form, see "jitssh ssh --help"), pushes the
ephemeral key in --identity-file with EC2 Instance Connect (unless the same
key was pushed for this instance and user less than 45 seconds ago), opens
a connection to PORT with the chosen transport, makes sure the host key is
pinned, and then relays bytes. Only SSH bytes go to stdout.

Transports (--transport, $` + envTransport + `, or transport in jitssh's config):
  auto     (default) ssm if the instance's SSM agent is online, else eice if
           an EC2 Instance Connect Endpoint serves its VPC, else direct if
           it has a public IP; else an error listing why
  ssm      SSM Session Manager tunnel (AWS-StartSSHSession)
  eice     EC2 Instance Connect Endpoint websocket tunnel (ports 22, 3389)
  direct   TCP to the instance's public IP
  bastion  through the SSH jump host --via TARGET ($` + envVia + `, or via in
           the config), itself reached with auto; the key is pushed to both

SSM managed instances (mi-) are reached over ssm only, and their key is
placed with SSM Run Command (AWS-RunShellScript, an OpenSSH expiry-time
60 seconds ahead) instead of EC2 Instance Connect.

Host keys are learned only over ssm or eice, whose path AWS authenticates,
and pinned by instance id; direct and bastion never learn a key: without a
pin they learn it over ssm or eice first, or fail saying how to pin it.

USER is ssh's %r, the name ssh will log in as: ssh_config's User, "user@" or
-l, else your local user name. The proxy cannot change it, so the key is
pushed for exactly that user. "jitssh ssh" picks the user for you (see its
help); for plain ssh set User in ssh_config ("jitssh config install --user")
or default_user in jitssh's config file before installing.

Several instances matching HOST are an error listing them: under ssh
nobody can pick. Use an instance id, or "jitssh ssh" on a terminal.`,
		Example: `  ProxyCommand jitssh proxy '%r' '%h' %p
  ProxyCommand jitssh proxy --transport eice '%r' '%h' %p
  ProxyCommand jitssh proxy --via bastion-1 '%r' '%h' %p
  (quote %r and %h: OpenSSH before 9.6 passes names to the shell unchecked;
  ` + "`jitssh config print`" + ` also keeps names with a single quote out)`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A proxy that fails before connecting still tells the
			// `jitssh ssh` waiting for its report (reportDone).
			if h, ok := handoff.Decode(os.Getenv(handoff.Var), args[0], args[1]); ok && h.Report != "" {
				defer reportDone(h.Report)
			}
			if err := o.setArgs(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runProxy(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.KeyFile, "identity-file", "", "ephemeral private key file ssh uses (reused if present, written if not)")
	cmd.Flags().StringVar(&o.PublicKeyFile, "public-key", "", "push this key of yours (a .pub file, or an unencrypted private key) instead of an ephemeral one ($"+envPublicKeyFile+")")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "reason recorded with the SSM session, for CloudTrail ($"+envReason+")")
	cmd.Flags().StringVar(&o.Transport, "transport", "", "auto, ssm, eice, direct or bastion (default: $"+envTransport+", the config's transport, else auto)")
	cmd.Flags().StringVar(&o.Via, "via", "", "jump host for the bastion transport, any target form, [USER@]TARGET ($"+envVia+", the config's via)")
	cmd.Flags().BoolVar(&o.NoPin, "no-pin", false, "do not learn the host key (ssh must verify it another way)")
	cmd.Flags().IntVar(&o.PayloadSize, "ssm-payload-size", 0, "experimental: bytes per data-channel message (default 1024, as AWS's plugin; $"+envPayloadSize+")")
	return cmd
}

// setArgs checks ssh's USER HOST PORT and keeps them. The login user, the
// transport and the jump host are validated by connect.Proxy.
func (o *proxyOptions) setArgs(args []string) error {
	port, err := strconv.Atoi(args[2])
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("invalid port %q", args[2])
	}
	user, host := args[0], args[1]
	spec, err := targets.Parse(host)
	if err != nil {
		return err
	}
	if spec.User != "" && spec.User != user {
		return fmt.Errorf("host %q names user %s but ssh logs in as %s", host, spec.User, user)
	}
	o.User, o.Host, o.Target, o.Port = user, host, spec, port
	return nil
}

// runProxy is `jitssh proxy`: Proxy's options from the flags, the
// hand-off, the environment and the config file (connectOptions), then
// the connection on stdin and stdout (relay).
func runProxy(ctx context.Context, o *proxyOptions) error {
	co, err := o.connectOptions(ctx)
	if err != nil {
		return err
	}
	return relay(ctx, o.IO, co)
}

// connectOptions turns the options, the hand-off from `jitssh ssh` (if it
// is meant for this connection) and the environment into Proxy's
// options, in that order of precedence.
func (o *proxyOptions) connectOptions(ctx context.Context) (connect.ProxyOptions, error) {
	g := o.g
	var co connect.ProxyOptions
	user, host, spec := o.User, o.Host, o.Target
	h, _ := handoff.Decode(os.Getenv(handoff.Var), user, host)
	g.takeHandoff(h)
	p, err := defaultPaths()
	if err != nil {
		return co, err
	}
	keyFile, pub, err := o.key(p, h)
	if err != nil {
		return co, err
	}
	payload, err := o.payloadSize()
	if err != nil {
		return co, err
	}
	tr, viaSpec, err := g.transportChoice(firstOf(o.Transport, h.Transport), firstOf(o.Via, h.Via))
	if err != nil {
		return co, err
	}
	api, region, l, err := o.API(ctx, spec)
	if err != nil {
		return co, err
	}
	if l != nil {
		spec = l.spec(spec)
	}
	co = connect.ProxyOptions{
		API: api, User: user, Target: spec, Host: host, Port: o.Port, Transport: tr, Via: viaSpec,
		KeyFile: keyFile, PublicKey: pub, Reason: firstOf(o.Reason, h.Reason, os.Getenv(envReason)), Logger: g.logger(), Warn: g.warn,
		Tunnel:   transport.TunnelConfig{MaxPayload: payload},
		Progress: g.progressLine(progressLabel(h.Label, host)),
		Explain:  g.explainer(h.Report),
		KeepKey:  startReaper(g),
	}
	if in, ok := targets.FromHint(h.Instance, spec.Value, region, time.Now()); ok && spec.Kind == targets.KindInstanceID {
		co.Resolved = &in
	}
	if l != nil && !l.inst.Managed {
		co.Resolved = &l.inst
	}
	if !o.NoPin {
		co.Pins = pinStore(p)
	}
	if h.ExplainHostKey {
		co.ExplainHostKey = o.IO.Err
	}
	return co, nil
}

// key returns the ephemeral key file, or, with the user's own key
// (--public-key, the hand-off, $JITSSH_PUBLIC_KEY_FILE), that key's
// authorized_keys line and the file of its push record.
func (o *proxyOptions) key(p paths, h handoff.Handoff) (keyFile, pub string, err error) {
	user, host := o.User, o.Host
	keyFile = o.KeyFile
	if keyFile == "" {
		keyFile = filepath.Join(p.KeyDir, user+"@"+host)
	}
	own := firstOf(o.PublicKeyFile, h.PublicKeyFile, os.Getenv(envPublicKeyFile))
	if own == "" {
		return keyFile, "", nil
	}
	if pub, err = sshkeys.PublicKeyOf(own); err != nil {
		return "", "", err
	}
	return filepath.Join(p.KeyDir, user+"@"+host+".own"), pub, nil // push record only
}

// payloadSize is --ssm-payload-size, else $JITSSH_SSM_PAYLOAD_SIZE.
func (o *proxyOptions) payloadSize() (int, error) {
	if o.PayloadSize != 0 {
		return o.PayloadSize, nil
	}
	v := os.Getenv(envPayloadSize)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a number of bytes", envPayloadSize, v)
	}
	return n, nil
}

// firstOf returns the first of s that is not "".
func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// relay runs connect.Proxy on stdin and stdout. ssh sends its
// ProxyCommand SIGHUP when it exits (after closing our stdin): end as on
// EOF, ending the session and releasing the key file, with no error. Once
// connected, the proxy first says what it knows of how the connection
// ended (connect.Explanation: a refused login, a stopped instance); then
// the stderr we share with ssh goes (ProxyOptions.Detach), before the
// polite shutdown, so that whoever reads ssh's stderr from a pipe is not
// kept waiting. Before it is connected, the proxy stops at once.
func relay(ctx context.Context, stdio IOStreams, o connect.ProxyOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hup := make(chan os.Signal, 1)
	if len(hangupSignals) > 0 {
		signal.Notify(hup, hangupSignals...)
		defer signal.Stop(hup) // hup is never closed: a late signal must not panic
	}
	var hungUp atomic.Bool
	gone := make(chan struct{})
	go func() {
		select {
		case <-hup:
			hungUp.Store(true)
			close(gone)
		case <-ctx.Done():
		}
	}()
	o.SSHGone = gone
	o.Detach = func() { detachStderr(stdio.Err) }
	err := connect.Proxy(ctx, o, stdio.In, stdio.Out)
	if err != nil && hungUp.Load() {
		return nil
	}
	return err
}

// transportChoice settles the transport and jump host from the flags, the
// environment `jitssh ssh` hands its ProxyCommand, and the config file, in
// that order. --via alone implies the bastion transport; --transport other
// than bastion ignores a configured via.
func (g *globals) transportChoice(name, via string) (string, *targets.Spec, error) {
	if name == "" {
		name = os.Getenv(envTransport)
	}
	if via == "" {
		via = os.Getenv(envVia)
	}
	if name == "" || (via == "" && (name == transport.NameBastion || name == transport.NameAuto)) {
		c, err := g.config()
		if err != nil {
			return "", nil, err
		}
		if name == "" {
			name = c.Transport
		}
		if via == "" && (name == "" || name == transport.NameBastion) {
			via = c.Via
		}
	}
	route, err := transport.Route(name, via != "")
	if err != nil {
		return "", nil, routeAdvice(err, via)
	}
	if via == "" {
		return name, nil, nil
	}
	sp, err := targets.Parse(via)
	if err != nil {
		return "", nil, fmt.Errorf("--via: %w", err)
	}
	return route, &sp, nil
}

// routeAdvice words a *transport.RouteError in the command line's flags.
func routeAdvice(err error, via string) error {
	var re *transport.RouteError
	if !errors.As(err, &re) {
		return err
	}
	switch re.Problem {
	case transport.UnknownTransport:
		return fmt.Errorf("--transport %q: use one of %s", re.Name, strings.Join(transport.Names, ", "))
	case transport.ViaWithoutBastion:
		return fmt.Errorf("--via %s goes with the bastion transport, not %s", via, re.Name)
	}
	return errors.New("--transport bastion needs a jump host: pass --via TARGET or set via in jitssh's config")
}

// reapKeyCmd is the hidden `jitssh reap-key KEYFILE` that startReaper
// starts: it waits for the key's push window to close and removes the key
// file set then, unless a proxy uses it again (keyfile.Reap).
func newReapKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "reap-key KEYFILE",
		Short:  "Remove an ephemeral key file once its push window has closed (started by the proxy)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := defaultPaths()
			if err != nil {
				return err
			}
			path := filepath.Clean(args[0])
			if filepath.Dir(path) != filepath.Clean(p.KeyDir) {
				return fmt.Errorf("reap-key: %s is not in the key directory %s", path, p.KeyDir)
			}
			return keyfile.Reap(cmd.Context(), path)
		},
	}
}

// startReaper returns the proxy's KeepKey: it starts `jitssh reap-key`
// for the key file, detached (its own session, stdio on /dev/null), unless
// one already waits for it. The proxy itself exits when ssh does.
func startReaper(g *globals) func(string, time.Time) {
	return func(path string, until time.Time) {
		if keyfile.ReaperRunning(path) {
			return
		}
		self, err := selfPath()
		if err != nil {
			g.logger().Warn("cannot start the key reaper; the key file is removed by the next jitssh after its window", "err", err)
			return
		}
		c := exec.Command(self, "reap-key", path)
		detach(c)
		if err := c.Start(); err != nil {
			g.logger().Warn("cannot start the key reaper; the key file is removed by the next jitssh after its window", "err", err)
			return
		}
		g.logger().Info("key file kept for reuse until its push window closes", "file", path, "until", until)
		_ = c.Process.Release()
	}
}

// detachStderr points the file w (if it is one) at /dev/null.
func detachStderr(w io.Writer) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer null.Close()
	pointAtNull(f, null)
}
