package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/targets"
)

// knownHostsOptions is `jitssh known-hosts forget|lookup` after flag
// parsing.
type knownHostsOptions struct {
	IO    IOStreams
	Paths func() (paths, error) // where the pins are
	// InstanceID is forget's argument.
	InstanceID string
	// Query is lookup's: ssh's %H, and %I %t %K when given.
	Query knownhosts.Query
}

func newKnownHostsCmd(g *globals, runF func(sub string, o *knownHostsOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "known-hosts",
		Short: "Answer ssh's host-key queries from jitssh's pins, or forget a pin",
	}
	o := &knownHostsOptions{IO: g.io, Paths: defaultPaths}
	run := func(sub string, fn func(*knownHostsOptions) error) error {
		if runF != nil {
			return runF(sub, o)
		}
		return fn(o)
	}
	forget := &cobra.Command{
		Use:     "forget INSTANCE-ID",
		Short:   "Forget an instance's pinned host key, so the next connection re-learns it over SSM",
		Example: `  jitssh known-hosts forget i-0123456789abcdef0`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.InstanceID = args[0]
			return run("forget", runForget)
		},
	}
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
(StrictHostKeyChecking yes); so does a pin learned in another AWS account
than the one the name carries (ID.REGION.ACCOUNT) or, failing that, the one
jitssh's location cache has for the instance.`,
		Example: `  KnownHostsCommand /usr/local/bin/jitssh known-hosts lookup --reason=%I --key-type=%t --key=%K %H`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Query.Host = args[0]
			return run("lookup", runLookup)
		},
	}
	lookup.Flags().StringVar(&o.Query.Reason, "reason", "", "ssh's %I: HOSTNAME, ADDRESS or ORDER")
	lookup.Flags().StringVar(&o.Query.KeyType, "key-type", "", "ssh's %t: type of the key the server offered")
	lookup.Flags().StringVar(&o.Query.Key, "key", "", "ssh's %K: the key the server offered, base64")
	cmd.AddCommand(forget, lookup)
	return cmd
}

// runForget removes the instance's pin.
func runForget(o *knownHostsOptions) error {
	p, err := o.Paths()
	if err != nil {
		return err
	}
	ok, err := pinStore(p).Forget(o.InstanceID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no pinned host key for %s in %s", o.InstanceID, p.Pins)
	}
	fmt.Fprintf(o.IO.Err, "jitssh: forgot the host key of %s\n", o.InstanceID)
	return nil
}

// runLookup answers ssh's KnownHostsCommand query from the pins.
func runLookup(o *knownHostsOptions) error {
	p, err := o.Paths()
	if err != nil {
		return err
	}
	q := o.Query
	name := strings.TrimPrefix(q.Host, "[")
	if i := strings.Index(name, "]:"); i >= 0 {
		name = name[:i]
	}
	if sp, err := targets.Parse(name); err == nil && sp.Kind == targets.KindInstanceID {
		q.InstanceID, q.Account = sp.Value, sp.Account
	}
	store := pinStore(p)
	q.Account = lookupAccount(store, q, name)
	out, err := store.Answer(q)
	var (
		np *knownhosts.NoPinError
		mm *knownhosts.AccountMismatchError
	)
	if errors.As(err, &mm) {
		// nothing printed: ssh refuses the host
		if q.Reason == "HOSTNAME" {
			fmt.Fprintf(o.IO.Err, "jitssh: %v\n", advise(err))
		}
		return nil
	}
	if errors.As(err, &np) {
		if q.Reason == "HOSTNAME" {
			fmt.Fprintf(o.IO.Err, "jitssh: %v\n", advise(err))
		}
		return nil
	}
	if err != nil {
		return err
	}
	_, err = o.IO.Out.Write(out)
	return err
}

// lookupAccount is the account lookup can tell the instance name is in
// without asking AWS: the one the name carries (ID.REGION.ACCOUNT), else
// the one the location cache has for its instance id (written when a
// search across a scope found it, as the proxy that ssh ran first did);
// "" if neither says.
func lookupAccount(store *knownhosts.Store, q knownhosts.Query, name string) string {
	if q.Account != "" {
		return q.Account
	}
	id := q.InstanceID
	if id == "" {
		id, _ = store.InstanceFor(name) // a malformed names file: Answer says so
	}
	if id == "" {
		return ""
	}
	loc, _ := locationCache().Get(id)
	return loc.Account
}
