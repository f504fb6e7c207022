package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/term"
)

func newShellCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "shell TARGET",
		Short: "Open a plain SSM shell on an instance (no SSH): the fallback when sshd is sick",
		Long: `shell starts a Session Manager shell session (SSM-SessionManagerRunShell) on
the instance: the SSM agent runs a shell under a pty, as the agent's user
(ssm-user on AWS). No key is pushed and sshd is not involved, so it works
when SSH does not.

On a terminal the local terminal is put in raw mode (Ctrl-C, Ctrl-Z and
arrow keys go to the remote shell) and its size is sent at the start and
whenever the window changes; exit the remote shell to end the session.
Otherwise stdin and stdout are pipes: what stdin carries is typed into the
remote shell, its end is sent as Ctrl-D, and the pty's output (with the
echo of that input, as on a terminal) comes out on stdout.

The exit status is the remote one where the agent reports it; AWS's agent
reports none for shell sessions, so a session that ends normally exits 0.
A session that could not start exits 255.`,
		Example: `  jitssh shell web-1
  jitssh shell i-0123456789abcdef0 --reason "INC-1234: sshd down"
  echo 'systemctl restart sshd' | jitssh shell web-1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			api, inst, err := resolveTarget(ctx, g, args[0])
			if err != nil {
				return err
			}
			sh, err := connect.OpenShell(ctx, api, inst.ID, reason, g.logger())
			if err != nil {
				return err
			}
			in, _ := g.io.In.(*os.File)
			if in != nil && term.IsTerminal(int(in.Fd())) {
				fd := int(in.Fd())
				fmt.Fprintf(g.io.Err, "Shell on %s (SSM session %s). Exit the shell to end the session.\n", describe(inst), sh.SessionID)
				restore, err := term.MakeRaw(fd)
				if err != nil {
					sh.Shutdown()
					return err
				}
				defer restore()
				sendSize := func() {
					if c, r, err := term.Size(fd); err == nil {
						_ = sh.Resize(c, r)
					}
				}
				winch := make(chan os.Signal, 1)
				signal.Notify(winch, syscall.SIGWINCH)
				defer func() { signal.Stop(winch); close(winch) }()
				sendSize()
				go func() {
					for range winch {
						sendSize()
					}
				}()
			}
			res, err := sh.Run(ctx, g.io.In, g.io.Out)
			if err != nil {
				return err
			}
			if res.Message != "" {
				fmt.Fprintf(g.io.Err, "\r\njitssh: session %s closed: %s\r\n", sh.SessionID, res.Message)
			}
			if res.Reported && res.ExitCode != 0 {
				return exitError{res.ExitCode}
			}
			return nil
		},
	}
	cmd.ValidArgsFunction = completeTargets(g)
	cmd.Flags().StringVar(&reason, "reason", "", "reason recorded with the SSM session, for CloudTrail")
	return cmd
}
