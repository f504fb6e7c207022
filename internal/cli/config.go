package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/openssh/sshconfig"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print or install the ssh_config block that routes i-* and mi-* through jitssh",
	}
	var file string
	print := &cobra.Command{
		Use:     "print",
		Short:   "Print the managed ssh_config block",
		Example: `  jitssh config print >> ~/.ssh/config`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			block, err := renderBlock(g)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(g.io.Out, block)
			return err
		},
	}
	install := &cobra.Command{
		Use:   "install",
		Short: "Add (or update) the managed block at the top of ~/.ssh/config",
		Long: `install writes the managed block between "# BEGIN jitssh" and "# END jitssh"
at the top of the ssh config file, replacing an older block and leaving
everything else untouched. Running it again changes nothing.`,
		Example: `  jitssh config install
  jitssh config install --file ./ssh_config`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			block, err := renderBlock(g)
			if err != nil {
				return err
			}
			path := file
			if path == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return fmt.Errorf("find home directory: %w", err)
				}
				path = filepath.Join(home, ".ssh", "config")
			}
			if err := sshconfig.Install(path, block); err != nil {
				return err
			}
			fmt.Fprintf(g.io.Err, "jitssh: installed the managed block in %s; try: ssh i-0123456789abcdef0\n", path)
			return nil
		},
	}
	install.Flags().StringVar(&file, "file", "", "ssh config file (default ~/.ssh/config)")
	cmd.AddCommand(print, install)
	return cmd
}

func renderBlock(g *globals) (string, error) {
	o, err := sshOptions(g)
	if err != nil {
		return "", err
	}
	return sshconfig.Render(o)
}
