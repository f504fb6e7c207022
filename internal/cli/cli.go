// Package cli is the jitssh command tree (cobra): global flags, the
// commands, and the one place errors become exit codes. Commands are thin:
// they parse flags and call connect, awsapi and openssh.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
)

// IO holds the streams a command uses; tests substitute buffers.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// globals are the flags every command shares.
type globals struct {
	io      IO
	region  string
	profile string
	verbose bool
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(g.io.Err, &slog.HandlerOptions{Level: level}))
}

func (g *globals) api(ctx context.Context) (*awsapi.Client, error) {
	return awsapi.New(ctx, awsapi.Options{Region: g.region, Profile: g.profile})
}

// paths are where jitssh keeps its files.
type paths struct {
	KeyDir    string // ephemeral private keys
	Pins      string // host-key pins (known_hosts format)
	SSHConfig string // the Host section that ~/.ssh/config includes
}

func defaultPaths() (paths, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return paths{}, fmt.Errorf("find cache directory: %w", err)
	}
	conf, err := os.UserConfigDir()
	if err != nil {
		return paths{}, fmt.Errorf("find config directory: %w", err)
	}
	return paths{
		KeyDir:    filepath.Join(cache, "jitssh", "keys"),
		Pins:      filepath.Join(conf, "jitssh", "known_hosts"),
		SSHConfig: filepath.Join(conf, "jitssh", "ssh_config"),
	}, nil
}

func pinStore(p paths) *knownhosts.Store {
	return &knownhosts.Store{Path: p.Pins, ForgetCommand: "jitssh known-hosts forget"}
}

// NewRoot builds the command tree.
func NewRoot(stdio IO) *cobra.Command {
	g := &globals{io: stdio}
	root := &cobra.Command{
		Use:   "jitssh",
		Short: "SSH to EC2 instances with short-lived keys, access decided by IAM",
		Long: `jitssh pushes a short-lived key to an instance with EC2 Instance Connect and
tunnels SSH through SSM Session Manager, so plain OpenSSH (ssh, scp, sftp,
rsync, port forwarding) works with access decided by IAM.`,
		Example: `  jitssh config install              # once: route ssh i-* through jitssh
  ssh i-0123456789abcdef0             # then plain ssh works
  jitssh ssh web-1 -- uptime          # or without touching ~/.ssh/config`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	pf := root.PersistentFlags()
	pf.StringVar(&g.region, "region", "", "AWS region (default: from AWS_REGION or the profile)")
	pf.StringVar(&g.profile, "profile", "", "AWS profile (default: AWS_PROFILE or default)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log each step to stderr")
	root.AddCommand(newProxyCmd(g), newSSHCmd(g), newConfigCmd(g), newKnownHostsCmd(g))
	return root
}

// exitError carries a specific exit code (e.g. ssh's own).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs jitssh with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdio IO) int {
	root := NewRoot(stdio)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(stdio.Err, "jitssh: %v\n", err)
	return 255 // ssh's convention for "could not connect"
}
