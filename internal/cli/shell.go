package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/term"
)

func newShellCmd(g *globals) *cobra.Command {
	var reason, escape string
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

Escape sequences, as ssh's: typed after Enter (or first thing), "~." ends
the session at once, even when the remote side no longer answers; "~~"
sends one "~"; "~?" lists them. --escape-char changes "~" (a character,
or ^ and a letter for a control key, e.g. ^]) or turns them off (none).
On a terminal they are on by default; with piped input only when
--escape-char is given.

The exit status is the remote one where the agent reports it; AWS's agent
reports none for shell sessions, so a session that ends normally exits 0.
A session that could not start, or was ended with "~.", exits 255.`,
		Example: `  jitssh shell web-1
  jitssh shell i-0123456789abcdef0 --reason "INC-1234: sshd down"
  echo 'systemctl restart sshd' | jitssh shell web-1
  jitssh shell web-1 --escape-char '^]'   # Enter, Ctrl-], . ends the session
  jitssh shell web-1 --escape-char none   # every key goes to the remote shell`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			esc := term.NoEscape
			in, _ := g.io.In.(*os.File)
			onTerminal := in != nil && term.IsTerminal(int(in.Fd()))
			if onTerminal || cmd.Flags().Changed("escape-char") {
				c, err := term.ParseEscapeChar(escape)
				if err != nil {
					return usageError{fmt.Errorf("--escape-char: %w", err)}
				}
				esc = c
			}
			api, inst, err := resolveTarget(ctx, g, args[0])
			if err != nil {
				return err
			}
			line := g.progressLine(args[0])
			end := line.Begin("starting an SSM shell session on %s", inst.ID)
			sh, err := connect.OpenShell(ctx, api, inst.ID, reason, g.logger())
			end()
			line.Clear()
			if err != nil {
				return err
			}
			if onTerminal {
				fd := int(in.Fd())
				how := "Exit the shell to end the session"
				if esc != term.NoEscape {
					how += fmt.Sprintf(" (or type %s. after Enter)", term.EscapeName(esc))
				}
				fmt.Fprintf(g.io.Err, "Shell on %s (SSM session %s). %s.\n", describe(inst), sh.SessionID, how)
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
			stdin := g.io.In
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			escaped := false
			if esc != term.NoEscape {
				stdin = &quitReader{r: &term.Escaper{R: g.io.In, Char: byte(esc), Help: g.io.Err}, quit: func() {
					escaped = true
					cancel()
				}}
			}
			res, err := sh.Run(runCtx, stdin, g.io.Out)
			if escaped && ctx.Err() == nil {
				fmt.Fprintf(g.io.Err, "\r\njitssh: session %s to %s ended with %s. (SSM session terminated)\r\n", sh.SessionID, inst.ID, term.EscapeName(esc))
				return exitError{255}
			}
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
	cmd.Flags().StringVarP(&escape, "escape-char", "e", "~", "escape character after Enter: ~. ends the session, ~? lists escapes; ^X for a control key, none to turn off")
	return cmd
}

// quitReader calls quit when r reports the quit escape (quit cancels
// Run's context) and then reports context.Canceled: no end of input (which
// Run would send as Ctrl-D), no warning.
type quitReader struct {
	r    io.Reader
	quit func()
	once sync.Once
}

func (q *quitReader) Read(p []byte) (int, error) {
	n, err := q.r.Read(p)
	if errors.Is(err, term.ErrEscapeQuit) {
		q.once.Do(q.quit)
		return n, context.Canceled
	}
	return n, err
}
