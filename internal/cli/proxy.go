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

func newProxyCmd(g *globals) *cobra.Command {
	f := &proxyFlags{}
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
			if h, ok := handoff.Decode(os.Getenv(handoff.Var), args[0], args[1]); ok && h.Report != "" {
				defer reportDone(h.Report)
			}
			o, err := f.options(cmd.Context(), g, args)
			if err != nil {
				return err
			}
			return runProxy(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&f.keyFile, "identity-file", "", "ephemeral private key file ssh uses (reused if present, written if not)")
	cmd.Flags().StringVar(&f.ownKey, "public-key", "", "push this key of yours (a .pub file, or an unencrypted private key) instead of an ephemeral one ($"+envPublicKeyFile+")")
	cmd.Flags().StringVar(&f.reason, "reason", "", "reason recorded with the SSM session, for CloudTrail ($"+envReason+")")
	cmd.Flags().StringVar(&f.transport, "transport", "", "auto, ssm, eice, direct or bastion (default: $"+envTransport+", the config's transport, else auto)")
	cmd.Flags().StringVar(&f.via, "via", "", "jump host for the bastion transport, any target form, [USER@]TARGET ($"+envVia+", the config's via)")
	cmd.Flags().BoolVar(&f.noPin, "no-pin", false, "do not learn the host key (ssh must verify it another way)")
	cmd.Flags().IntVar(&f.payload, "ssm-payload-size", 0, "experimental: bytes per data-channel message (default 1024, as AWS's plugin; $"+envPayloadSize+")")
	return cmd
}

// proxyFlags are `jitssh proxy`'s flags.
type proxyFlags struct {
	keyFile, reason, ownKey, transport, via string
	noPin                                   bool
	payload                                 int
}

// options turns the arguments, the flags, the hand-off from `jitssh ssh`
// (if it is meant for this connection) and the environment into Proxy's
// options, in that order of precedence. The login user, the transport and
// the jump host are validated by connect.Proxy.
func (f proxyFlags) options(ctx context.Context, g *globals, args []string) (connect.ProxyOptions, error) {
	var o connect.ProxyOptions
	port, err := strconv.Atoi(args[2])
	if err != nil || port < 1 || port > 65535 {
		return o, fmt.Errorf("invalid port %q", args[2])
	}
	user, host := args[0], args[1]
	spec, err := targets.Parse(host)
	if err != nil {
		return o, err
	}
	if spec.User != "" && spec.User != user {
		return o, fmt.Errorf("host %q names user %s but ssh logs in as %s", host, spec.User, user)
	}
	h, _ := handoff.Decode(os.Getenv(handoff.Var), user, host)
	g.takeHandoff(h)
	p, err := defaultPaths()
	if err != nil {
		return o, err
	}
	keyFile, pub, err := f.key(p, user, host, h)
	if err != nil {
		return o, err
	}
	payload, err := f.payloadSize()
	if err != nil {
		return o, err
	}
	tr, viaSpec, err := g.transportChoice(firstOf(f.transport, h.Transport), firstOf(f.via, h.Via))
	if err != nil {
		return o, err
	}
	api, l, err := g.targetAPI(ctx, spec, nil)
	if err != nil {
		return o, err
	}
	if l != nil {
		spec = l.spec(spec)
	}
	o = connect.ProxyOptions{
		API: api, User: user, Target: spec, Host: host, Port: port, Transport: tr, Via: viaSpec,
		KeyFile: keyFile, PublicKey: pub, Reason: firstOf(f.reason, h.Reason, os.Getenv(envReason)), Logger: g.logger(), Warn: g.warn,
		Tunnel:   transport.TunnelConfig{MaxPayload: payload},
		Progress: g.progressLine(progressLabel(h.Label, host)),
		Explain:  g.explainer(h.Report),
		KeepKey:  startReaper(g),
	}
	if in, ok := targets.FromHint(h.Instance, spec.Value, api.Region, time.Now()); ok && spec.Kind == targets.KindInstanceID {
		o.Resolved = &in
	}
	if l != nil && !l.inst.Managed {
		o.Resolved = &l.inst
	}
	if !f.noPin {
		o.Pins = pinStore(p)
	}
	if h.ExplainHostKey {
		o.ExplainHostKey = g.io.Err
	}
	return o, nil
}

// key returns the ephemeral key file, or, with the user's own key
// (--public-key, the hand-off, $JITSSH_PUBLIC_KEY_FILE), that key's
// authorized_keys line and the file of its push record.
func (f proxyFlags) key(p paths, user, host string, h handoff.Handoff) (keyFile, pub string, err error) {
	keyFile = f.keyFile
	if keyFile == "" {
		keyFile = filepath.Join(p.KeyDir, user+"@"+host)
	}
	own := firstOf(f.ownKey, h.PublicKeyFile, os.Getenv(envPublicKeyFile))
	if own == "" {
		return keyFile, "", nil
	}
	if pub, err = sshkeys.PublicKeyOf(own); err != nil {
		return "", "", err
	}
	return filepath.Join(p.KeyDir, user+"@"+host+".own"), pub, nil // push record only
}

// payloadSize is --ssm-payload-size, else $JITSSH_SSM_PAYLOAD_SIZE.
func (f proxyFlags) payloadSize() (int, error) {
	if f.payload != 0 {
		return f.payload, nil
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

// runProxy runs connect.Proxy on stdin and stdout. ssh sends its
// ProxyCommand SIGHUP when it exits (after closing our stdin): end as on
// EOF, ending the session and releasing the key file, with no error. Once
// connected, the proxy first says what it knows of how the connection
// ended (connect.Explanation: a refused login, a stopped instance); then
// the stderr we share with ssh goes (ProxyOptions.Detach), before the
// polite shutdown, so that whoever reads ssh's stderr from a pipe is not
// kept waiting. Before it is connected, the proxy stops at once.
func runProxy(ctx context.Context, g *globals, o connect.ProxyOptions) error {
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
	o.Detach = func() { detachStderr(g.io.Err) }
	err := connect.Proxy(ctx, o, g.io.In, g.io.Out)
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
