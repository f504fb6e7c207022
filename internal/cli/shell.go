package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/ssmsession"
	"github.com/jitssh/jitssh/internal/term"
)

// shellOptions is `jitssh shell` after flag parsing.
type shellOptions struct {
	IO IOStreams
	sessionStarter
	Target string
	Reason string // for CloudTrail
	Escape int    // the escape byte, or term.NoEscape: escapes off
	// Terminal is stdin, when it is a terminal (raw mode, window size).
	Terminal *os.File
}

// shellOptionsFrom decides the escape character: on a terminal, or when
// --escape-char is given, escape (a usage error if it is not one);
// otherwise none.
func shellOptionsFrom(io IOStreams, target, reason, escape string, escapeSet bool) (shellOptions, error) {
	o := shellOptions{IO: io, Target: target, Reason: reason, Escape: term.NoEscape}
	if in, ok := io.terminal(io.In); ok {
		o.Terminal = in
	}
	if o.Terminal != nil || escapeSet {
		c, err := term.ParseEscapeChar(escape)
		if err != nil {
			return o, usageError{fmt.Errorf("--escape-char: %w", err)}
		}
		o.Escape = c
	}
	return o, nil
}

func newShellCmd(g *globals, runF func(context.Context, *shellOptions) error) *cobra.Command {
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

When the account's Session Manager preferences encrypt sessions with a
KMS key, jitssh asks KMS for the session's data key (your identity needs
kms:GenerateDataKey on that key) and encrypts both directions, as AWS's
plugin does; ssh sessions are never encrypted by the agent.

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
			o, err := shellOptionsFrom(g.io, args[0], reason, escape, cmd.Flags().Changed("escape-char"))
			if err != nil {
				return err
			}
			o.sessionStarter = starterOf(g)
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runShell(cmd.Context(), &o)
		},
	}
	cmd.ValidArgsFunction = completeTargets(g)
	cmd.Flags().StringVar(&reason, "reason", "", "reason recorded with the SSM session, for CloudTrail")
	cmd.Flags().StringVarP(&escape, "escape-char", "e", "~", "escape character after Enter: ~. ends the session, ~? lists escapes; ^X for a control key, none to turn off")
	return cmd
}

// runShell starts the shell session and runs it until the remote shell
// exits (its exit code, where the agent reports one) or "~." (255).
func runShell(ctx context.Context, o *shellOptions) error {
	api, inst, err := o.Resolve(ctx, o.Target)
	if err != nil {
		return err
	}
	line := o.Progress(o.Target)
	end := line.Begin("starting an SSM shell session on %s", inst.ID)
	sh, err := ssmsession.OpenShell(ctx, api, inst.ID, o.Reason, o.Logger())
	end()
	line.Clear()
	if err != nil {
		return err
	}
	if o.Terminal != nil {
		how := "Exit the shell to end the session"
		if o.Escape != term.NoEscape {
			how += fmt.Sprintf(" (or type %s. after Enter)", term.EscapeName(o.Escape))
		}
		fmt.Fprintf(o.IO.Err, "Shell on %s (SSM session %s). %s.\n", describe(inst), sh.SessionID, how)
		restore, err := shellTerminal(o.Terminal, o.IO.Out, sh)
		if err != nil {
			sh.Shutdown()
			return err
		}
		defer restore()
	}
	stdin := o.IO.In
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	escaped := false
	if o.Escape != term.NoEscape {
		stdin = &quitReader{r: &term.Escaper{R: o.IO.In, Char: byte(o.Escape), Help: o.IO.Err}, quit: func() {
			escaped = true
			cancel()
		}}
	}
	res, err := sh.Run(runCtx, stdin, o.IO.Out)
	if escaped && ctx.Err() == nil {
		fmt.Fprintf(o.IO.Err, "\r\njitssh: session %s to %s ended with %s. (SSM session terminated)\r\n", sh.SessionID, inst.ID, term.EscapeName(o.Escape))
		return exitError{255}
	}
	if err != nil {
		return err
	}
	if res.Message != "" {
		fmt.Fprintf(o.IO.Err, "\r\njitssh: session %s closed: %s\r\n", sh.SessionID, res.Message)
	}
	if why := ssmEndText(endOf(res.End), ssmForShell); why != "" {
		fmt.Fprintf(o.IO.Err, "%s\r\n", why)
	}
	if res.Reported && res.ExitCode != 0 {
		return exitError{res.ExitCode}
	}
	return nil
}

// shellTerminal puts the terminal in raw mode (and, on Windows, the
// console output out in virtual-terminal mode) and sends its size to the
// session now and whenever the window changes; restore undoes all three.
// The size is out's when out is a terminal (a Windows console's input has
// none), else in's.
func shellTerminal(in *os.File, out io.Writer, sh *ssmsession.Shell) (restore func(), err error) {
	restoreMode, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return nil, err
	}
	sizeFd, restoreVT := int(in.Fd()), func() error { return nil }
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		sizeFd = int(f.Fd())
		if restoreVT, err = term.EnableVT(sizeFd); err != nil {
			restoreMode()
			return nil, err
		}
	}
	stopWatch := term.WatchSize(sizeFd, func(c, r int) { _ = sh.Resize(c, r) })
	return func() {
		stopWatch()
		restoreVT()
		restoreMode()
	}, nil
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
