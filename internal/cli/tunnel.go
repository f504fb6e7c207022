package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"sync"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/instances"
	"github.com/jitssh/jitssh/internal/progress"
	"github.com/jitssh/jitssh/internal/ssmsession"
	"github.com/jitssh/jitssh/internal/targets"
)

// resolveTarget parses and resolves a target argument to one instance
// (interactively on a terminal when it matches several), for the commands
// that reach an instance through SSM only (tunnel, shell).
func resolveTarget(ctx context.Context, g *globals, arg string) (connect.API, targets.Instance, error) {
	spec, err := targets.Parse(arg)
	if err != nil {
		return nil, targets.Instance{}, err
	}
	if spec.User != "" {
		return nil, targets.Instance{}, fmt.Errorf("%q names a login user, which SSM sessions do not use: give the target alone", arg)
	}
	api, l, err := g.targetAPI(ctx, spec, g.chooser())
	if err != nil {
		return nil, targets.Instance{}, err
	}
	if l != nil {
		return api, l.inst, nil
	}
	inst, err := targets.Resolve(ctx, instances.Lookup{API: api, Warn: g.warn}, spec, g.chooser())
	if err != nil {
		return nil, targets.Instance{}, err
	}
	return api, inst, nil
}

// remoteHostPattern is what SSM accepts as the host parameter of
// AWS-StartPortForwardingSessionToRemoteHost: DNS names and IP literals.
// (1 to 253 characters, checked apart: a counted repetition compiles to
// hundreds of instructions at every process start.)
var remoteHostPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]*$`)

// tunnelReady is what `jitssh tunnel --output json` prints once listening.
type tunnelReady struct {
	LocalAddress string `json:"local_address"`
	LocalPort    int    `json:"local_port"`
	InstanceID   string `json:"instance_id"`
	RemoteHost   string `json:"remote_host,omitempty"`
	RemotePort   int    `json:"remote_port"`
	SessionID    string `json:"session_id"`
}

// sessionStarter is what tunnel and shell need of their environment: the
// AWS clients for a target's instance (resolved interactively on a
// terminal when it matches several), the progress line and the logger.
type sessionStarter struct {
	// Resolve parses and resolves a target argument to one instance.
	Resolve func(ctx context.Context, arg string) (connect.API, targets.Instance, error)
	// Progress is the status line for a connection to what (nil: none).
	Progress func(what string) *progress.Line
	Logger   func() *slog.Logger
}

func starterOf(g *globals) sessionStarter {
	return sessionStarter{
		Resolve: func(ctx context.Context, arg string) (connect.API, targets.Instance, error) {
			return resolveTarget(ctx, g, arg)
		},
		Progress: g.progressLine,
		Logger:   g.logger,
	}
}

// tunnelFlags are tunnel's flags as given.
type tunnelFlags struct {
	localPort                        int
	localPortSet                     bool
	remoteHost, bind, reason, output string
}

// tunnelOptions is `jitssh tunnel` after flag parsing.
type tunnelOptions struct {
	IO IOStreams
	sessionStarter
	Target string
	Specs  []portSpec // every one with its Bind; checked
	Reason string     // for CloudTrail
	Output string     // text or json
}

// tunnelOptionsFrom checks the forwardings and flags and applies the
// flags to the forwardings: --local-port and --remote-host to a single
// PORT, --bind to those without a BIND.
func tunnelOptionsFrom(args []string, f tunnelFlags) (tunnelOptions, error) {
	o := tunnelOptions{Target: args[0], Reason: f.reason, Output: f.output}
	if f.output != "text" && f.output != "json" {
		return o, fmt.Errorf("--output %q: use text or json", f.output)
	}
	o.Specs = make([]portSpec, 0, len(args)-1)
	for _, a := range args[1:] {
		sp, err := parsePortSpec(a)
		if err != nil {
			return o, err
		}
		o.Specs = append(o.Specs, sp)
	}
	if f.localPort < 0 || f.localPort > 65535 {
		return o, fmt.Errorf("--local-port %d: want 0 (any free port) to 65535", f.localPort)
	}
	if f.remoteHost != "" && (len(f.remoteHost) > 253 || !remoteHostPattern.MatchString(f.remoteHost)) {
		return o, fmt.Errorf("--remote-host %q: want a DNS name or an IP address", f.remoteHost)
	}
	if net.ParseIP(f.bind) == nil {
		return o, fmt.Errorf("--bind %q: want a local IP address such as 127.0.0.1", f.bind)
	}
	if f.localPortSet || f.remoteHost != "" {
		if len(o.Specs) != 1 || o.Specs[0].LocalSet {
			return o, errors.New("--local-port and --remote-host go with a single PORT; with several, write LOCAL:HOST:PORT for each")
		}
		o.Specs[0].LocalPort, o.Specs[0].RemoteHost = f.localPort, f.remoteHost
	}
	for i := range o.Specs {
		if o.Specs[i].Bind == "" {
			o.Specs[i].Bind = f.bind
		}
	}
	return o, nil
}

func newTunnelCmd(g *globals, runF func(context.Context, *tunnelOptions) error) *cobra.Command {
	var f tunnelFlags
	cmd := &cobra.Command{
		Use:   "tunnel TARGET PORT|LOCAL:PORT|LOCAL:HOST:PORT|BIND:LOCAL:HOST:PORT...",
		Short: "Forward local ports to ports on an instance, or through it to other hosts, over SSM",
		Long: `tunnel listens on local ports and forwards every connection to a port on
the instance (AWS-StartPortForwardingSession), or to HOST:PORT as the
instance reaches it (AWS-StartPortForwardingSessionToRemoteHost: an RDS
endpoint, another instance's private address). Each forwarding is written
as ssh's -L:
  PORT                    the instance's PORT, on a free local port
                          (or --local-port; --remote-host HOST sends it there)
  LOCAL:PORT              local port LOCAL to the instance's PORT
  LOCAL:HOST:PORT         local port LOCAL to HOST:PORT (HOST localhost: the
                          instance itself; an IPv6 address in brackets)
  BIND:LOCAL:HOST:PORT    the same, listening on local address BIND
LOCAL 0 is any free port. Give several to forward several ports at once:
each gets its own SSM session, and all connections to one share it
(multiplexed, as AWS's plugin does), so opening many is cheap; no key is
pushed and no SSH is involved.

Every forwarding is checked, and every local port is listening, before any
session starts: one bad forwarding or port in use fails the command and
nothing is forwarded. Once all sessions are up it prints each local address
on stderr (and, with --output json, one JSON object per forwarding on
stdout, one per line). It stays up across the service's periodic websocket
closes (the session is resumed) until Ctrl-C, which ends the SSM sessions;
if one session ends, the others are ended too and the command fails. A
destination that refuses a connection fails that connection only, with a
warning; the tunnel stays up.

TARGET is any target form (see "jitssh ssh --help"), without user@.`,
		Example: `  jitssh tunnel web-1 8080                      # http://127.0.0.1:<printed port>
  jitssh tunnel web-1 80 --local-port 8080
  jitssh tunnel web-1 8080:80 9090:9090         # two ports at once
  jitssh tunnel bastion 5432:mydb.abc123.eu-west-1.rds.amazonaws.com:5432 6379:cache.internal:6379
  jitssh tunnel bastion 5432 --remote-host mydb.abc123.eu-west-1.rds.amazonaws.com --local-port 5432
  jitssh tunnel web-1 0.0.0.0:8080:localhost:80 # listen on every interface
  jitssh tunnel web-1 6379 --output json &     # {"local_address":"127.0.0.1:…",…} on stdout once ready`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.localPortSet = cmd.Flags().Changed("local-port")
			o, err := tunnelOptionsFrom(args, f)
			if err != nil {
				return err
			}
			o.IO, o.sessionStarter = g.io, starterOf(g)
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runTunnel(cmd.Context(), &o)
		},
	}
	cmd.ValidArgsFunction = completeTargets(g)
	cmd.Flags().IntVar(&f.localPort, "local-port", 0, "local port of a single PORT forwarding (default: any free port, printed)")
	cmd.Flags().StringVar(&f.remoteHost, "remote-host", "", "forward a single PORT to this host (as the instance reaches it) instead of the instance itself")
	cmd.Flags().StringVar(&f.bind, "bind", "127.0.0.1", "local address to listen on (a forwarding's BIND overrides it)")
	cmd.Flags().StringVar(&f.reason, "reason", "", "reason recorded with the SSM sessions, for CloudTrail")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "text, or json: also print each local address as JSON on stdout once ready")
	return cmd
}

// runTunnel listens on every forwarding's local port, starts their SSM
// sessions, says where each listens, and serves them until Ctrl-C or
// until one session ends.
func runTunnel(ctx context.Context, o *tunnelOptions) error {
	// Listen first: a port in use fails before anything is started.
	lns := make([]net.Listener, len(o.Specs))
	defer func() {
		for _, ln := range lns {
			if ln != nil {
				ln.Close()
			}
		}
	}()
	for i, sp := range o.Specs {
		ln, err := net.Listen("tcp", net.JoinHostPort(sp.Bind, strconv.Itoa(sp.LocalPort)))
		if err != nil {
			return fmt.Errorf("forwarding %s: listen on %s port %d: %w (pick another local port, or 0 for any)", sp, sp.Bind, sp.LocalPort, err)
		}
		lns[i] = ln
	}
	api, inst, err := o.Resolve(ctx, o.Target)
	if err != nil {
		return err
	}
	line := o.Progress(o.Target)
	end := line.Begin("starting SSM port-forwarding sessions to %s", inst.ID)
	fws, err := openForwards(ctx, o.Logger(), api, inst, o.Specs, lns, o.Reason)
	end()
	line.Clear()
	if err != nil {
		return err
	}
	if err := announceForwards(o, inst, fws, lns); err != nil {
		for _, fw := range fws {
			fw.Shutdown()
		}
		return err
	}
	return serveForwards(ctx, o.IO.Err, inst, o.Specs, fws, lns)
}

// announceForwards says on stderr where each forwarding listens and, with
// --output json, prints each as JSON on stdout.
func announceForwards(o *tunnelOptions, inst targets.Instance, fws []*ssmsession.Forward, lns []net.Listener) error {
	for i, fw := range fws {
		sp, addr := o.Specs[i], lns[i].Addr().(*net.TCPAddr)
		last := ""
		if i == len(fws)-1 {
			last = " Press Ctrl-C to stop."
		}
		fmt.Fprintf(o.IO.Err, "Forwarding %s to %s (SSM session %s).%s\n", addr, destination(sp, inst), fw.SessionID, last)
	}
	if o.Output != "json" {
		return nil
	}
	enc := json.NewEncoder(o.IO.Out)
	for i, fw := range fws {
		addr := lns[i].Addr().(*net.TCPAddr)
		if err := enc.Encode(tunnelReady{LocalAddress: addr.String(), LocalPort: addr.Port, InstanceID: inst.ID,
			RemoteHost: o.Specs[i].RemoteHost, RemotePort: o.Specs[i].RemotePort, SessionID: fw.SessionID}); err != nil {
			return err
		}
	}
	return nil
}

// destination describes where a forwarding goes, for messages.
func destination(sp portSpec, inst targets.Instance) string {
	if sp.RemoteHost != "" {
		return fmt.Sprintf("%s via %s", net.JoinHostPort(sp.RemoteHost, strconv.Itoa(sp.RemotePort)), describe(inst))
	}
	return fmt.Sprintf("port %d of %s", sp.RemotePort, describe(inst))
}

// openForwards starts one SSM session per forwarding, at once; if one
// fails, the others are ended and nothing is forwarded.
func openForwards(ctx context.Context, log *slog.Logger, api connect.API, inst targets.Instance, specs []portSpec, lns []net.Listener, reason string) ([]*ssmsession.Forward, error) {
	fws := make([]*ssmsession.Forward, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, sp := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fws[i], errs[i] = ssmsession.OpenForward(ctx, ssmsession.ForwardOptions{
				API: api, InstanceID: inst.ID, Port: sp.RemotePort, RemoteHost: sp.RemoteHost,
				LocalPort: lns[i].Addr().(*net.TCPAddr).Port, Reason: reason, Logger: log,
			})
			if errs[i] != nil && len(specs) > 1 {
				errs[i] = fmt.Errorf("forwarding %s: %w", sp, errs[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, fw := range fws {
			if fw != nil {
				fw.Shutdown()
			}
		}
		return nil, firstError(errs)
	}
	return fws, nil
}

func firstError(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// serveForwards serves every forwarding until Ctrl-C, or until one
// session ends, which ends the others.
func serveForwards(ctx context.Context, stderr io.Writer, inst targets.Instance, specs []portSpec, fws []*ssmsession.Forward, lns []net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(fws))
	var wg sync.WaitGroup
	for i, fw := range fws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = fw.Serve(ctx, lns[i]); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var failed error
	for i, fw := range fws {
		st := fw.Stats()
		dest := destination(specs[i], inst)
		switch {
		case errors.Is(errs[i], ssmsession.ErrSessionEnded):
			if why := ssmEndText(endOf(fw.Ending()), ssmForTunnel); why != "" {
				fmt.Fprintln(stderr, why)
			}
			if failed == nil {
				failed = fmt.Errorf("tunnel to %s closed after %d connections: %w", dest, st.Connections, errs[i])
			}
		case errs[i] != nil:
			if failed == nil {
				failed = errs[i]
			}
		default:
			fmt.Fprintf(stderr, "Tunnel closed after %d connections; SSM session %s terminated.\n", st.Connections, fw.SessionID)
		}
	}
	return failed
}

// describe names an instance for messages: "web-1 (i-…)" or the id.
func describe(in targets.Instance) string {
	if in.Name != "" && in.Name != in.ID {
		return fmt.Sprintf("%s (%s)", in.Name, in.ID)
	}
	return in.ID
}
