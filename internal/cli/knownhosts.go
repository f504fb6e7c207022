package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/targets"
)

func newKnownHostsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "known-hosts",
		Short: "Answer ssh's host-key queries from jitssh's pins, or forget a pin",
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
	var q knownhosts.Query
	lookup := &cobra.Command{
		Use:   "lookup [--reason=%I --key-type=%t --key=%K] HOST",
		Short: "KnownHostsCommand: print the pinned host keys for HOST (ssh's %H)",
		Long: `lookup is what ssh runs as its KnownHostsCommand (OpenSSH 8.5 or later; see
"jitssh config print"). It prints, in known_hosts format and for the name ssh
asked about, the host keys pinned for the instance that name resolved to
(recorded by "jitssh proxy" after resolving it over AWS). It never calls AWS.

When ssh passes the key the server offered (%t %K) and it is not the pinned
one, lookup explains on stderr and exits 1, so ssh stops: the pin is never
replaced silently. No pin prints nothing, and ssh refuses the host
(StrictHostKeyChecking yes).`,
		Example: `  KnownHostsCommand /usr/local/bin/jitssh known-hosts lookup --reason=%I --key-type=%t --key=%K %H`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := defaultPaths()
			if err != nil {
				return err
			}
			q.Host = args[0]
			name := strings.TrimPrefix(q.Host, "[")
			if i := strings.Index(name, "]:"); i >= 0 {
				name = name[:i]
			}
			if sp, err := targets.Parse(name); err == nil && sp.Kind == targets.KindInstanceID {
				q.InstanceID = sp.Value
			}
			out, err := pinStore(p).Answer(q)
			var np *knownhosts.NoPinError
			if errors.As(err, &np) {
				if q.Reason == "HOSTNAME" {
					fmt.Fprintf(g.io.Err, "jitssh: %v\n", err)
				}
				return nil
			}
			if err != nil {
				return err
			}
			_, err = g.io.Out.Write(out)
			return err
		},
	}
	lookup.Flags().StringVar(&q.Reason, "reason", "", "ssh's %I: HOSTNAME, ADDRESS or ORDER")
	lookup.Flags().StringVar(&q.KeyType, "key-type", "", "ssh's %t: type of the key the server offered")
	lookup.Flags().StringVar(&q.Key, "key", "", "ssh's %K: the key the server offered, base64")
	cmd.AddCommand(forget, lookup)
	return cmd
}
