package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/target"
)

// resolveTarget parses and resolves a target argument to one instance
// (interactively on a terminal when it matches several), for the commands
// that reach an instance through SSM only (tunnel, shell).
func resolveTarget(ctx context.Context, g *globals, arg string) (*awsapi.Client, target.Instance, error) {
	spec, err := target.Parse(arg)
	if err != nil {
		return nil, target.Instance{}, err
	}
	if spec.User != "" {
		return nil, target.Instance{}, fmt.Errorf("%q names a login user, which SSM sessions do not use: give the target alone", arg)
	}
	api, err := g.api(ctx, spec.Region)
	if err != nil {
		return nil, target.Instance{}, err
	}
	inst, err := target.Resolve(ctx, connect.Lookup{API: api, Warn: g.warn}, spec, g.chooser())
	if err != nil {
		return nil, target.Instance{}, err
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

func newTunnelCmd(g *globals) *cobra.Command {
	var localPort int
	var remoteHost, bind, reason, output string
	cmd := &cobra.Command{
		Use:   "tunnel TARGET PORT",
		Short: "Forward a local port to a port on an instance, or through it to another host, over SSM",
		Long: `tunnel listens on a local port and forwards every connection to PORT on
the instance (AWS-StartPortForwardingSession), or with --remote-host to
HOST:PORT as the instance reaches it (AWS-StartPortForwardingSessionToRemoteHost:
an RDS endpoint, another instance's private address). All connections share
one SSM session (multiplexed, as AWS's plugin does), so opening many is
cheap; no key is pushed and no SSH is involved.

Once listening it prints the local address on stderr (and, with
--output json, a JSON object on stdout). It stays up across the service's
periodic websocket closes (the session is resumed) until Ctrl-C, which
ends the SSM session. A destination that refuses a connection fails that
connection only, with a warning; the tunnel stays up.

TARGET is any target form (see "jitssh ssh --help"), without user@.`,
		Example: `  jitssh tunnel web-1 8080                      # http://127.0.0.1:<printed port>
  jitssh tunnel web-1 80 --local-port 8080
  jitssh tunnel bastion 5432 --remote-host mydb.abc123.eu-west-1.rds.amazonaws.com --local-port 5432
  jitssh tunnel web-1 6379 --output json &     # {"local_address":"127.0.0.1:…",…} on stdout once ready`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: use text or json", output)
			}
			port, err := strconv.Atoi(args[1])
			if err != nil || port < 1 || port > 65535 {
				return fmt.Errorf("invalid port %q: want a number from 1 to 65535", args[1])
			}
			if localPort < 0 || localPort > 65535 {
				return fmt.Errorf("--local-port %d: want 0 (any free port) to 65535", localPort)
			}
			if remoteHost != "" && (len(remoteHost) > 253 || !remoteHostPattern.MatchString(remoteHost)) {
				return fmt.Errorf("--remote-host %q: want a DNS name or an IP address", remoteHost)
			}
			if net.ParseIP(bind) == nil {
				return fmt.Errorf("--bind %q: want a local IP address such as 127.0.0.1", bind)
			}
			// Listen first: a port in use fails before anything is started.
			ln, err := net.Listen("tcp", net.JoinHostPort(bind, strconv.Itoa(localPort)))
			if err != nil {
				return fmt.Errorf("listen on %s port %d: %w (pick another --local-port, or 0 for any)", bind, localPort, err)
			}
			defer ln.Close()
			api, inst, err := resolveTarget(ctx, g, args[0])
			if err != nil {
				return err
			}
			addr := ln.Addr().(*net.TCPAddr)
			fw, err := connect.OpenForward(ctx, connect.ForwardOptions{
				API: api, InstanceID: inst.ID, Port: port, RemoteHost: remoteHost,
				LocalPort: addr.Port, Reason: reason, Logger: g.logger(),
			})
			if err != nil {
				return err
			}
			ready := tunnelReady{LocalAddress: addr.String(), LocalPort: addr.Port, InstanceID: inst.ID,
				RemoteHost: remoteHost, RemotePort: port, SessionID: fw.SessionID}
			dest := fmt.Sprintf("port %d of %s", port, describe(inst))
			if remoteHost != "" {
				dest = fmt.Sprintf("%s via %s", net.JoinHostPort(remoteHost, strconv.Itoa(port)), describe(inst))
			}
			fmt.Fprintf(g.io.Err, "Forwarding %s to %s (SSM session %s). Press Ctrl-C to stop.\n", addr, dest, fw.SessionID)
			if output == "json" {
				if err := json.NewEncoder(g.io.Out).Encode(ready); err != nil {
					fw.Shutdown()
					return err
				}
			}
			err = fw.Serve(ctx, ln)
			st := fw.Stats()
			if errors.Is(err, connect.ErrSessionEnded) {
				return fmt.Errorf("tunnel to %s closed after %d connections: %w", dest, st.Connections, err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.io.Err, "Tunnel closed after %d connections; SSM session %s terminated.\n", st.Connections, fw.SessionID)
			return nil
		},
	}
	cmd.ValidArgsFunction = completeTargets(g)
	cmd.Flags().IntVar(&localPort, "local-port", 0, "local port to listen on (default: any free port, printed)")
	cmd.Flags().StringVar(&remoteHost, "remote-host", "", "forward to this host (as the instance reaches it) instead of the instance itself")
	cmd.Flags().StringVar(&bind, "bind", "127.0.0.1", "local address to listen on")
	cmd.Flags().StringVar(&reason, "reason", "", "reason recorded with the SSM session, for CloudTrail")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text, or json: also print the local address as JSON on stdout once ready")
	return cmd
}

// describe names an instance for messages: "web-1 (i-…)" or the id.
func describe(in target.Instance) string {
	if in.Name != "" && in.Name != in.ID {
		return fmt.Sprintf("%s (%s)", in.Name, in.ID)
	}
	return in.ID
}
