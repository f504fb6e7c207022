package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/openssh/privfile"
	"github.com/jitssh/jitssh/internal/openssh/sshconfig"
	"github.com/jitssh/jitssh/internal/scope"
)

// configOptions is `jitssh config print|install|uninstall` after flag
// parsing.
type configOptions struct {
	IO IOStreams
	// Block is the Host section's settings (the binary, the login user,
	// the extra host patterns).
	Block func() (sshconfig.Options, error)
	// Paths are where jitssh keeps its files (the included Host section).
	Paths func() (paths, error)
	File  string // the ssh config file; "" is ~/.ssh/config
}

// configFlags are config's flags as given.
type configFlags struct {
	file, user string
	hosts      []string
	// alive is --server-alive: ssh's ServerAliveInterval, so that an idle
	// session over SSM outlives Session Manager's idle timeout (20
	// minutes by default); 0 leaves the option out.
	alive time.Duration
}

// blockOptions is the Host section's settings: jitssh's, with --host
// and --user (else the config file's default_user).
func blockOptions(g *globals, f *configFlags) (sshconfig.Options, error) {
	o, err := sshConfigOptions(g)
	if err != nil {
		return o, err
	}
	o.ExtraHosts = f.hosts
	switch {
	case f.alive < 0:
		return o, fmt.Errorf("--server-alive %v: give a duration such as 30s, or 0 to leave ServerAliveInterval out", f.alive)
	case f.alive == 0:
		o.ServerAliveInterval = -1
	default:
		o.ServerAliveInterval = int((f.alive + time.Second - 1) / time.Second) // whole seconds, rounded up
	}
	c, err := g.config()
	if err != nil {
		return o, err
	}
	o.User = f.user
	if o.User == "" {
		o.User = c.DefaultUser
	}
	return o, blockScope(g, c, &o)
}

// blockScope makes the block cover every scope: the proxy searches --scope
// (else, when the config defines [[scope]] entries but no default_scope,
// all of them), and names pinned to a known account (NAME.REGION.ACCOUNT:
// the account ids the AWS config's profiles name, and those where
// instances were found) go through jitssh.
func blockScope(g *globals, c clientconf.Config, o *sshconfig.Options) error {
	o.Scope = g.scope
	if o.Scope == "" && c.Scope == "" && len(c.Scopes) > 0 {
		o.Scope = clientconf.AllScopes
	}
	if o.Scope == "" && c.Scope == "" {
		return nil
	}
	cfgFile, credsFile, err := scope.ConfigFiles()
	if err != nil {
		return err
	}
	profiles, err := scope.ReadProfiles(cfgFile, credsFile)
	if err != nil {
		return err
	}
	accounts := locationCache().Accounts()
	for _, p := range profiles {
		accounts = append(accounts, p.Account)
	}
	sort.Strings(accounts)
	for i, a := range accounts {
		if a != "" && (i == 0 || a != accounts[i-1]) {
			o.ExtraHosts = append(o.ExtraHosts, "*."+a)
		}
	}
	return nil
}

func newConfigCmd(g *globals, runF func(ctx context.Context, sub string, o *configOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print, install or uninstall the ssh_config settings that route i-* and mi-* through jitssh",
	}
	var f configFlags
	run := func(sub string, fn func(context.Context, *configOptions) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			o := &configOptions{IO: g.io, File: f.file, Paths: defaultPaths, Block: func() (sshconfig.Options, error) { return blockOptions(g, &f) }}
			if runF != nil {
				return runF(cmd.Context(), sub, o)
			}
			return fn(cmd.Context(), o)
		}
	}
	print := &cobra.Command{
		Use:     "print",
		Short:   "Print the Host section for i-* and mi-* (what install writes to the included file)",
		Example: `  jitssh config print > ~/.ssh/jitssh_config   # then: Include ~/.ssh/jitssh_config`,
		Args:    cobra.NoArgs,
		RunE:    run("print", runConfigPrint),
	}
	install := &cobra.Command{
		Use:   "install",
		Short: "Add (or update) a managed Include of jitssh's settings at the top of ~/.ssh/config",
		Long: `install writes jitssh's Host section for i-* and mi-* to a file of its own
(in jitssh's config directory) and a managed block that includes it, between
"# BEGIN jitssh" and "# END jitssh", at the top of the ssh config file. An
older block is replaced where it is; everything else is left untouched.
Running it again changes nothing.

ssh keeps the FIRST value it finds for each option, so a "Host *" or
"Match" section above the block that sets, say, StrictHostKeyChecking
overrides jitssh's. install asks the real ssh (ssh -G) what it makes of the
file for i-* and mi-* hosts and warns about every such override
(` + "`jitssh doctor`" + ` checks the same).

The Host section sets User only if you pass --user or set default_user in
jitssh's config file: otherwise ssh logs in as "user@" / -l, else as your
local user name, and jitssh pushes the key for that user (ssh's %r). Add
--host patterns to route more names through jitssh, e.g. a region suffix
("*.eu-west-1") or an address range ("10.0.*").`,
		Example: `  jitssh config install
  jitssh config install --file ./ssh_config
  jitssh config install --user ec2-user --host '*.eu-west-1' --host 'web-*'`,
		Args: cobra.NoArgs,
		RunE: run("install", runConfigInstall),
	}
	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the managed Include block from ~/.ssh/config (and jitssh's included file)",
		Long: `uninstall takes the block between "# BEGIN jitssh" and "# END jitssh" out of
the ssh config file, leaving every other byte as it was, and removes the
Host section file that block included. Without a block it changes nothing.
A malformed block (a BEGIN without its END) is an error and nothing is
written. Host-key pins and jitssh's own config file are kept.`,
		Example: `  jitssh config uninstall
  jitssh config uninstall --file ./ssh_config`,
		Args: cobra.NoArgs,
		RunE: run("uninstall", runConfigUninstall),
	}
	for _, c := range []*cobra.Command{install, uninstall} {
		c.Flags().StringVar(&f.file, "file", "", "ssh config file (default ~/.ssh/config)")
	}
	for _, c := range []*cobra.Command{print, install} {
		c.Flags().StringVar(&f.user, "user", "", "login user the Host section sets (default: default_user from jitssh's config file, else none)")
		c.Flags().StringArrayVar(&f.hosts, "host", nil, "additional Host pattern routed through jitssh (repeatable)")
		c.Flags().DurationVar(&f.alive, "server-alive", sshconfig.DefaultServerAliveInterval*time.Second, "ssh's ServerAliveInterval, so idle sessions over SSM outlive Session Manager's idle timeout; 0 leaves it out")
	}
	cmd.AddCommand(print, install, uninstall)
	return cmd
}

// runConfigPrint prints the Host section on stdout.
func runConfigPrint(_ context.Context, o *configOptions) error {
	b, err := o.Block()
	if err != nil {
		return err
	}
	hosts, err := sshconfig.RenderHosts(b)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(o.IO.Out, hosts)
	return err
}

// runConfigInstall writes the Host section to jitssh's file and the
// managed block including it to the ssh config file, then warns about
// anything above the block that overrides it.
func runConfigInstall(ctx context.Context, o *configOptions) error {
	b, err := o.Block()
	if err != nil {
		return err
	}
	hosts, err := sshconfig.RenderHosts(b)
	if err != nil {
		return err
	}
	p, err := o.Paths()
	if err != nil {
		return err
	}
	if err := privfile.MkdirPrivate(filepath.Dir(p.SSHConfig)); err != nil {
		return err
	}
	if err := privfile.WriteFile(p.SSHConfig, []byte(hosts), privfile.Options{}); err != nil {
		return fmt.Errorf("write %s: %w", p.SSHConfig, err)
	}
	block, err := sshconfig.RenderInclude(p.SSHConfig)
	if err != nil {
		return err
	}
	path, err := sshConfigPath(o.File)
	if err != nil {
		return err
	}
	if err := sshconfig.Install(path, block); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Err, "jitssh: %s now includes %s; try: ssh i-0123456789abcdef0\n", path, p.SSHConfig)
	// ssh keeps the first value of each option: say so if
	// anything above the block decides for i-*/mi-* hosts.
	c := checkSSHConfig(ctx, path, b)
	if c.Status != "ok" {
		fmt.Fprintf(o.IO.Err, "jitssh: WARNING: %s\njitssh: fix: %s\n", c.Detail, c.Fix)
	}
	return nil
}

// runConfigUninstall removes the managed block (and, for the default
// ssh config file, the Host section file it includes).
func runConfigUninstall(_ context.Context, o *configOptions) error {
	path, err := sshConfigPath(o.File)
	if err != nil {
		return err
	}
	_, found, err := sshconfig.Installed(path)
	if err != nil {
		return err
	}
	if err := sshconfig.Remove(path); err != nil {
		return err
	}
	p, err := o.Paths()
	if err != nil {
		return err
	}
	// Every block includes the same Host section file; remove it
	// with the block of the default file, the one that counts
	// (a --file block is for testing and may share it).
	if found && o.File == "" {
		if err := os.Remove(p.SSHConfig); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p.SSHConfig, err)
		}
	}
	if !found {
		fmt.Fprintf(o.IO.Err, "jitssh: %s has no jitssh block; nothing to remove\n", path)
		return nil
	}
	fmt.Fprintf(o.IO.Err, "jitssh: removed the jitssh block from %s\n", path)
	return nil
}

// checkSSHConfig asks the real ssh what it makes of configPath for i-* and
// mi-* hosts and reports, as a doctor check, every option of o that the
// block does not decide there (ssh keeps the first value it finds, so an
// earlier Host or Match section wins).
func checkSSHConfig(ctx context.Context, configPath string, o sshconfig.Options) check {
	c := check{Name: "ssh config"}
	sshPath, err := findSSH()
	if err != nil {
		c.Status, c.Detail, c.Fix = "warn", "cannot check "+configPath+": ssh not found", "install the OpenSSH client"
		return c
	}
	ov, err := sshconfig.CheckEffective(ctx, sshPath, configPath, o)
	if err != nil {
		c.Status, c.Detail, c.Fix = "fail", err.Error(), "correct "+configPath+" so that `ssh -G i-0123456789abcdef0` works"
		return c
	}
	if len(ov) == 0 {
		c.Status, c.Detail = "ok", configPath+": jitssh's settings apply to i-* and mi-* hosts"
		return c
	}
	lines := make([]string, len(ov))
	for i, x := range ov {
		lines[i] = x.String()
	}
	c.Status = "fail"
	c.Detail = configPath + " overrides jitssh's settings (ssh keeps the first value it finds): " + strings.Join(lines, "; ")
	c.Fix = "move the \"# BEGIN jitssh\" block to the very top of " + configPath + ", or remove those options from the Host/Match sections above it (check with: ssh -G i-0123456789abcdef0); if jitssh itself moved, run `jitssh config install` again"
	return c
}

// sshConfigPath is --file, else ~/.ssh/config.
func sshConfigPath(file string) (string, error) {
	if file != "" {
		return file, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory: %w", err)
	}
	return filepath.Join(home, ".ssh", "config"), nil
}
