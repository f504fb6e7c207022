package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newKnownHostsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "known-hosts",
		Short: "Show or forget pinned host keys",
	}
	forget := &cobra.Command{
		Use:     "forget INSTANCE-ID",
		Short:   "Forget an instance's pinned host key, so the next connection re-learns it over SSM",
		Example: `  jitssh known-hosts forget i-0123456789abcdef0`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := defaultPaths()
			if err != nil {
				return err
			}
			ok, err := pinStore(p).Forget(args[0])
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("no pinned host key for %s in %s", args[0], p.Pins)
			}
			fmt.Fprintf(g.io.Err, "jitssh: forgot the host key of %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(forget)
	return cmd
}
