package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/openssh/sshconfig"
	"github.com/jitssh/jitssh/internal/target"
)

func newSSHCmd(g *globals) *cobra.Command {
	var login string
	cmd := &cobra.Command{
		Use:   "ssh [USER@]TARGET [-- SSH ARGS...]",
		Short: "Run ssh to an instance through jitssh, without editing ~/.ssh/config",
		Example: `  jitssh ssh i-0123456789abcdef0
  jitssh ssh web-1 -- uptime
  jitssh ssh admin@web-1 -- -L 8080:localhost:80 -N`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := target.Parse(args[0])
			if err != nil {
				return err
			}
			user := login
			if user == "" {
				user = spec.User
			}
			if user == "" {
				u, err := defaultUser()
				if err != nil {
					return err
				}
				user = u
			}
			if err := target.ValidUser(user); err != nil {
				return err
			}
			id := spec.Value
			if spec.Kind == target.KindName {
				api, err := g.api(cmd.Context())
				if err != nil {
					return err
				}
				inst, err := target.Resolve(cmd.Context(), connect.Lookup{API: api}, spec)
				if err != nil {
					return err
				}
				id = inst.ID
			}
			sshArgs, err := sshArgs(g, id, user)
			if err != nil {
				return err
			}
			sshArgs = append(sshArgs, args[1:]...)
			c := exec.CommandContext(cmd.Context(), "ssh", sshArgs...)
			c.Stdin, c.Stdout, c.Stderr = g.io.In, g.io.Out, g.io.Err
			c.Env = childEnv(g)
			if err := c.Run(); err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					return exitError{ee.ExitCode()}
				}
				return fmt.Errorf("run ssh: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&login, "user", "l", "", "OS user to log in as (default: USER@ of the target, else your local user name)")
	return cmd
}

// defaultUser is the OS user when none is given: ssh's own default, the
// local user name.
func defaultUser() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("find local user name: %w (pass --user)", err)
	}
	return u.Username, nil
}

func selfPath() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the jitssh binary: %w", err)
	}
	return p, nil
}

// sshOptions are the settings shared by `jitssh ssh` and the config block.
func sshOptions(g *globals) (sshconfig.Options, error) {
	self, err := selfPath()
	if err != nil {
		return sshconfig.Options{}, err
	}
	p, err := defaultPaths()
	if err != nil {
		return sshconfig.Options{}, err
	}
	return sshconfig.Options{JitsshPath: self, KeyDir: p.KeyDir, KnownHostsFile: p.Pins}, nil
}

// childEnv passes the global flags to the ProxyCommand that ssh runs, as
// the SDK's own environment variables.
func childEnv(g *globals) []string {
	env := os.Environ()
	if g.region != "" {
		env = append(env, "AWS_REGION="+g.region)
	}
	if g.profile != "" {
		env = append(env, "AWS_PROFILE="+g.profile)
	}
	return env
}

func sshArgs(g *globals, instanceID, user string) ([]string, error) {
	o, err := sshOptions(g)
	if err != nil {
		return nil, err
	}
	o.HostKeyAlias = instanceID
	args, err := sshconfig.Args(o)
	if err != nil {
		return nil, err
	}
	return append(args, "-l", user, instanceID), nil
}
