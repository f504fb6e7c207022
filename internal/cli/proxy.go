package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/connect"
)

func newProxyCmd(g *globals) *cobra.Command {
	var keyFile, reason string
	var noPin bool
	cmd := &cobra.Command{
		Use:   "proxy USER HOST PORT",
		Short: "ProxyCommand entry point: connect stdin/stdout to an instance's sshd",
		Long: `proxy is what ssh runs as its ProxyCommand (see "jitssh config print").
It resolves HOST, pushes the ephemeral key in --identity-file with EC2
Instance Connect, opens an SSM tunnel to PORT, learns and pins the host key
the first time, and then relays bytes. Only SSH bytes go to stdout.`,
		Example: `  ProxyCommand jitssh proxy --identity-file ~/.cache/jitssh/keys/%r@%h %r %h %p`,
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			port, err := strconv.Atoi(args[2])
			if err != nil || port < 1 || port > 65535 {
				return fmt.Errorf("invalid port %q", args[2])
			}
			p, err := defaultPaths()
			if err != nil {
				return err
			}
			if keyFile == "" {
				keyFile = p.KeyDir + "/" + args[0] + "@" + args[1]
			}
			api, err := g.api(cmd.Context())
			if err != nil {
				return err
			}
			o := connect.ProxyOptions{
				API: api, User: args[0], Target: args[1], Port: port,
				KeyFile: keyFile, Reason: reason, Logger: g.logger(),
			}
			if !noPin {
				o.Pins = pinStore(p)
			}
			return connect.Proxy(cmd.Context(), o, g.io.In, g.io.Out)
		},
	}
	cmd.Flags().StringVar(&keyFile, "identity-file", "", "private key file ssh uses (written if absent)")
	cmd.Flags().StringVar(&reason, "reason", "", "reason recorded with the SSM session (CloudTrail)")
	cmd.Flags().BoolVar(&noPin, "no-pin", false, "do not learn the host key (ssh must verify it another way)")
	return cmd
}
