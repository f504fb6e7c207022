package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/target"
)

// Environment variables `jitssh ssh` uses to hand settings to the proxy
// that ssh starts (ssh passes its environment on to the ProxyCommand).
const (
	envReason        = "JITSSH_REASON"
	envPublicKeyFile = "JITSSH_PUBLIC_KEY_FILE"
	// envPayloadSize raises the data-channel message size (experimental:
	// AWS's own plugin sends 1024 bytes; see docs/protocol.md).
	envPayloadSize = "JITSSH_SSM_PAYLOAD_SIZE"
)

func newProxyCmd(g *globals) *cobra.Command {
	var keyFile, reason, ownKey string
	var noPin bool
	var payload int
	cmd := &cobra.Command{
		Use:   "proxy USER HOST PORT",
		Short: "ProxyCommand entry point: connect stdin/stdout to an instance's sshd",
		Long: `proxy is what ssh runs as its ProxyCommand (see "jitssh config print").
It resolves HOST (any target form, see "jitssh ssh --help"), pushes the
ephemeral key in --identity-file with EC2 Instance Connect (unless the same
key was pushed for this instance and user less than 45 seconds ago), opens
an SSM tunnel to PORT, learns and pins the host key the first time, and then
relays bytes. Only SSH bytes go to stdout.

USER is ssh's %r, the name ssh will log in as: ssh_config's User, "user@" or
-l, else your local user name. The proxy cannot change it, so the key is
pushed for exactly that user. "jitssh ssh" picks the user for you (see its
help); for plain ssh set User in ssh_config ("jitssh config install --user")
or default_user in jitssh's config file before installing.

Several instances matching HOST are an error listing them: under ssh
nobody can pick. Use an instance id, or "jitssh ssh" on a terminal.`,
		Example: `  ProxyCommand jitssh proxy %r %h %p`,
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			port, err := strconv.Atoi(args[2])
			if err != nil || port < 1 || port > 65535 {
				return fmt.Errorf("invalid port %q", args[2])
			}
			user, host := args[0], args[1]
			if err := target.ValidUser(user); err != nil {
				return err
			}
			spec, err := target.Parse(host)
			if err != nil {
				return err
			}
			if spec.User != "" && spec.User != user {
				return fmt.Errorf("host %q names user %s but ssh logs in as %s", host, spec.User, user)
			}
			p, err := defaultPaths()
			if err != nil {
				return err
			}
			if keyFile == "" {
				keyFile = filepath.Join(p.KeyDir, user+"@"+host)
			}
			if reason == "" {
				reason = os.Getenv(envReason)
			}
			if payload == 0 {
				if v := os.Getenv(envPayloadSize); v != "" {
					n, err := strconv.Atoi(v)
					if err != nil {
						return fmt.Errorf("%s=%q: want a number of bytes", envPayloadSize, v)
					}
					payload = n
				}
			}
			if ownKey == "" {
				ownKey = os.Getenv(envPublicKeyFile)
			}
			var pub string
			if ownKey != "" {
				if pub, err = sshkeys.PublicKeyOf(ownKey); err != nil {
					return err
				}
				keyFile = filepath.Join(p.KeyDir, user+"@"+host+".own") // push record only
			}
			api, err := g.api(cmd.Context(), spec.Region)
			if err != nil {
				return err
			}
			o := connect.ProxyOptions{
				API: api, User: user, Target: spec, Host: host, Port: port,
				KeyFile: keyFile, PublicKey: pub, Reason: reason, Logger: g.logger(),
				Tunnel: connect.TunnelConfig{MaxPayload: payload},
			}
			if !noPin {
				o.Pins = pinStore(p)
			}
			return connect.Proxy(cmd.Context(), o, g.io.In, g.io.Out)
		},
	}
	cmd.Flags().StringVar(&keyFile, "identity-file", "", "ephemeral private key file ssh uses (reused if present, written if not)")
	cmd.Flags().StringVar(&ownKey, "public-key", "", "push this key of yours (a .pub file, or an unencrypted private key) instead of an ephemeral one ($"+envPublicKeyFile+")")
	cmd.Flags().StringVar(&reason, "reason", "", "reason recorded with the SSM session, for CloudTrail ($"+envReason+")")
	cmd.Flags().BoolVar(&noPin, "no-pin", false, "do not learn the host key (ssh must verify it another way)")
	cmd.Flags().IntVar(&payload, "ssm-payload-size", 0, "experimental: bytes per data-channel message (default 1024, as AWS's plugin; $"+envPayloadSize+")")
	return cmd
}
