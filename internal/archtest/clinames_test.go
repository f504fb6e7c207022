package archtest

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jitssh/jitssh/internal/cli"
)

// cliNames are the names of jitssh's commands (hidden ones included) and
// of every long flag of its command tree, read from cli.NewRoot: a new
// command or flag is covered by the wording rule without touching this
// package.
func cliNames() (commands, flags []string) {
	root := cli.NewRoot(cli.IOStreams{})
	for _, c := range root.Commands() {
		commands = append(commands, c.Name())
	}
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if !seen[f.Name] {
					seen[f.Name] = true
					flags = append(flags, f.Name)
				}
			})
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	sort.Strings(commands)
	sort.Strings(flags)
	return commands, flags
}

// alternation is names as one regexp alternation.
func alternation(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	return strings.Join(q, "|")
}

// TestCLINamesFromTheCommandTree: the names come from the real command
// tree (a tree that lost them would make the wording rule check nothing).
func TestCLINamesFromTheCommandTree(t *testing.T) {
	commands, flags := cliNames()
	for _, c := range []string{"proxy", "ssh", "ls", "doctor", "known-hosts", "reap-key", "login", "revoke", "completion"} {
		if !slices.Contains(commands, c) {
			t.Errorf("command %q missing from %q", c, commands)
		}
	}
	for _, f := range []string{"transport", "via", "profile", "region", "verbose", "identity-file", "key-store", "escape-char", "user-tag", "deny-in"} {
		if !slices.Contains(flags, f) {
			t.Errorf("flag --%s missing from %q", f, flags)
		}
	}
}
