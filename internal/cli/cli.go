// Package cli is the jitssh command tree (cobra): global flags, the
// commands, and the one place errors become exit codes (exitCode).
//
// Each command (but the hidden reap-key) is shaped as cli/cli's are:
// newXCmd(g, runF) parses flags and arguments into an xOptions (its
// streams, a constructor for the narrow interface of the AWS calls it
// makes, and its settings), and runX(ctx, opts) does the work (proxy's
// is runProxy, ssh's runSSHCmd). Tests pass a runF to check flags →
// options alone, and call runX with fakes to check errors → exit codes;
// the e2e tests drive the real binary against the sandbox.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jitssh/jitssh/internal/buildinfo"
	"github.com/jitssh/jitssh/internal/cpuprofile"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/handoff"
	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/picker"
	"github.com/jitssh/jitssh/internal/progress"
	"github.com/jitssh/jitssh/internal/ssologin"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/term"
)

// globals are the flags every command shares.
type globals struct {
	io      IOStreams
	region  string
	profile string
	// scope is --scope: a [[scope]] of the config file, or "all"
	// (scope.go).
	scope   string
	verbose bool
	conf    *clientconf.Config // loaded on first use
	// warned: the profile conflict was written (once per process).
	warned bool
	// quiet suppresses the warning (doctor reports it as a finding).
	quiet bool
	// handedOff: this is the proxy a `jitssh ssh` started (takeHandoff);
	// started is when that connection began.
	handedOff bool
	started   time.Time
	// mfaCode answers a role profile's MFA prompt (a command's
	// --mfa-code, e.g. `jitssh login`'s, sets it before g.api).
	mfaCode string
	// noPrompt: no MFA prompt (shell completion must not ask for a code
	// while a name is being typed).
	noPrompt bool
	// line is the status line of the connection, erased before an MFA
	// prompt is written to the terminal.
	line atomic.Pointer[progress.Line]
	// noSignIn: an SSO session that needs a sign-in is never a question
	// (doctor reports it; shell completion lists nothing); newSSO, tty
	// and browser replace the real ones in tests (signin.go).
	noSignIn bool
	newSSO   func(ctx context.Context, profile string) (*ssologin.Session, ssoSession, error)
	tty      func() (io.ReadWriteCloser, error)
	browser  func(url string) error
	// sso is the SSO sessions of sso_session scopes (ssoscope.go).
	sso ssoSessions
	// locatedProfile is the profile of the location a scope search
	// found doctor's target in ("" when none was searched).
	locatedProfile string
	// awsFile is the AWS config file read once for the clients of a
	// scope's many profiles (sharedAWSFile).
	awsFileOnce sync.Once
	awsFile     *awsapi.ConfigFile
}

// sharedAWSFile is the AWS config file, read on first use, that the
// clients of every profile of a scope share (awsapi.ConfigFile: the SDK
// then parses only each profile's part of it).
func (g *globals) sharedAWSFile() *awsapi.ConfigFile {
	g.awsFileOnce.Do(func() { g.awsFile = awsapi.ReadConfigFile() })
	return g.awsFile
}

// config returns the client configuration file's settings.
func (g *globals) config() (clientconf.Config, error) {
	if g.conf == nil {
		p, err := clientconf.DefaultPath()
		if err != nil {
			return clientconf.Config{}, err
		}
		c, err := clientconf.Load(p)
		if err != nil {
			return clientconf.Config{}, err
		}
		g.conf = &c
	}
	return *g.conf, nil
}

// regionFor decides the region for a target whose spec names specRegion
// ("" if none): the target's .REGION suffix (or its EC2 DNS name), else
// --region, else AWS_REGION, else the config file's region, else the
// AWS profile's. A suffix and a different --region are an error.
func (g *globals) regionFor(specRegion string) (string, error) {
	if specRegion != "" {
		if g.region != "" && g.region != specRegion {
			return "", fmt.Errorf("the target says region %s but --region says %s: give one", specRegion, g.region)
		}
		return specRegion, nil
	}
	if g.region != "" {
		if !targets.ValidRegion(g.region) {
			return "", fmt.Errorf("--region %q is not an AWS region code (like eu-west-1)", g.region)
		}
		return g.region, nil
	}
	if os.Getenv("AWS_REGION") != "" {
		return "", nil // the SDK reads it
	}
	c, err := g.config()
	if err != nil {
		return "", err
	}
	return c.Region, nil
}

// profileName is --profile (or the profile `jitssh ssh` handed its proxy,
// see takeHandoff), else AWS_PROFILE (read by the SDK), else the config
// file's profile.
func (g *globals) profileName() (string, error) {
	if g.profile != "" || os.Getenv("AWS_PROFILE") != "" {
		return g.profile, nil
	}
	c, err := g.config()
	if err != nil {
		return "", err
	}
	return c.Profile, nil
}

// envCredentials reports whether the environment holds AWS access keys,
// which the SDK (like the AWS CLI) prefers to AWS_PROFILE.
func envCredentials() bool {
	return os.Getenv("AWS_ACCESS_KEY_ID") != "" && os.Getenv("AWS_SECRET_ACCESS_KEY") != ""
}

// profileConflict says which credentials win when the environment holds
// access keys and a profile is named too; "" when there is no conflict.
// --profile (and the profile `jitssh ssh` hands its proxy) and the config file's profile are
// passed to the SDK explicitly and win over the keys; AWS_PROFILE loses to
// them, as in the AWS CLI.
func (g *globals) profileConflict() string {
	if !envCredentials() {
		return ""
	}
	if g.profile != "" {
		return ""
	}
	if p := os.Getenv("AWS_PROFILE"); p != "" {
		return fmt.Sprintf("AWS_PROFILE=%s is ignored: the AWS_ACCESS_KEY_ID in the environment takes precedence (as in the AWS CLI), so jitssh acts as that key's identity. Unset AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or pass --profile %s, which wins", p, p)
	}
	if c, err := g.config(); err == nil && c.Profile != "" {
		return fmt.Sprintf("the profile %s from jitssh's config is used, not the AWS_ACCESS_KEY_ID in the environment; pass --profile to choose explicitly, or remove profile from the config", c.Profile)
	}
	return ""
}

// profileCheck is doctor's finding about competing credentials.
func (g *globals) profileCheck() (check, bool) {
	msg := g.profileConflict()
	if msg == "" {
		return check{}, false
	}
	return check{Name: "profile", Status: "warn", Detail: msg, Fix: "make one source of credentials win explicitly (--profile, or unset the environment's keys)"}, true
}

// warnProfileConflict writes the profile conflict, if any, once per
// connection: not in the proxy `jitssh ssh` started (which warned).
func (g *globals) warnProfileConflict() {
	if g.warned || g.quiet || g.handedOff {
		return
	}
	g.warned = true
	if msg := g.profileConflict(); msg != "" {
		fmt.Fprintf(g.io.Err, "jitssh: warning: %s\n", msg)
	}
}

// chooser returns an interactive picker when stdin and stderr are
// terminals, else nil (ambiguity is then an error listing the matches).
func (g *globals) chooser() targets.Chooser {
	in, ok1 := g.io.terminal(g.io.In)
	out, ok2 := g.io.terminal(g.io.Err)
	if !ok1 || !ok2 {
		return nil
	}
	return func(_ context.Context, sp targets.Spec, m []targets.Instance) (targets.Instance, error) {
		header, rows := targets.Rows(m)
		keys := make([][]string, len(m))
		for i, x := range m {
			keys[i] = targets.Keys(x)
		}
		i, err := picker.Terminal(in, out, picker.Options{
			Title:  fmt.Sprintf("%d instances match %s %q: pick one", len(m), sp.Kind, sp.String()),
			Header: header, Rows: rows, Keys: keys,
		})
		if err != nil {
			return targets.Instance{}, err
		}
		// Say which one, before anything connects to it.
		fmt.Fprintf(out, "→ %s (%s)\n", targets.Printable(dash(m[i].Name)), m[i].ID)
		return m[i], nil
	}
}

// warn tells the user on stderr about something that failed without
// stopping the command (one source of instances, say).
func (g *globals) warn(err error) {
	warnTo(g.io.Err, err)
}

// warnTo writes a warning (see warn) on w.
func warnTo(w io.Writer, err error) {
	fmt.Fprintf(w, "jitssh: warning: %v\n", advise(err))
}

// envVerbose=1 is -v for a proxy under plain ssh (`jitssh ssh -v` hands
// its proxy -v itself, see takeHandoff).
const envVerbose = "JITSSH_VERBOSE"

// takeHandoff applies what `jitssh ssh` handed the proxy ssh started (if
// h is set: it was meant for this connection), so that every process of
// one connection behaves as one: -v, --profile, and the time the
// connection began (the progress line's clock).
func (g *globals) takeHandoff(h handoff.Handoff) {
	if h.V == 0 {
		return
	}
	g.handedOff = true
	g.started = h.StartedAt()
	g.verbose = g.verbose || h.Verbose
	if g.profile == "" {
		g.profile = h.Profile
	}
}

// verboseOn is -v, or JITSSH_VERBOSE=1 (by hand, for plain ssh).
func (g *globals) verboseOn() bool {
	return g.verbose || os.Getenv(envVerbose) == "1"
}

// progressLine returns the status line for a connection to what, drawn on
// stderr when it is a terminal and -v is off (with -v, each step is a log
// line instead), else nil. The clock starts when the connection began (the
// `jitssh ssh` that started this proxy, see takeHandoff), else now.
func (g *globals) progressLine(what string) *progress.Line {
	f, ok := g.io.Err.(*os.File)
	if !ok || g.verboseOn() || !progress.Enabled(f, g.io.isTerminal) {
		return nil
	}
	start := time.Now()
	if t := g.started; t.Before(start) && start.Sub(t) < time.Minute {
		start = t
	}
	fd := int(f.Fd())
	line := progress.New(f, progress.Options{Prefix: "jitssh: " + what + ": ", Start: start, Width: func() int {
		c, _, err := term.Size(fd)
		if err != nil {
			return 0
		}
		return c
	}})
	g.line.Store(line)
	return line
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	if g.verboseOn() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(g.io.Err, &slog.HandlerOptions{Level: level}))
}

// api builds the AWS clients for a target in specRegion ("" if the
// target names none).
func (g *globals) api(ctx context.Context, specRegion string) (*awsapi.Client, error) {
	region, err := g.regionFor(specRegion)
	if err != nil {
		return nil, err
	}
	profile, err := g.profileName()
	if err != nil {
		return nil, err
	}
	if c, ok, err := g.ssoLabelAPI(ctx, profile, region); ok {
		return c, err
	}
	g.warnProfileConflict()
	opts := awsapi.Options{Region: region, Profile: profile, MFACode: g.mfaCode, NoPrompt: g.noPrompt,
		BeforePrompt: func() { g.line.Load().Clear() }}
	c, err := awsapi.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	return g.ssoReady(ctx, opts, c)
}

// paths are where jitssh keeps its files.
type paths struct {
	KeyDir    string // ephemeral private keys
	Pins      string // host-key pins (known_hosts format)
	SSHConfig string // the Host section that ~/.ssh/config includes
}

// envStateDir, when set, is one directory for all of jitssh's files
// (keys/, known_hosts, ssh_config) instead of the user's cache and config
// directories. jitssh-sandbox's env file sets it to the sandbox's own, so
// the pins and push records of simulated instances never mix with real
// ones, nor outlive the sandbox.
const envStateDir = "JITSSH_STATE_DIR"

func defaultPaths() (paths, error) {
	if dir := os.Getenv(envStateDir); dir != "" {
		if !filepath.IsAbs(dir) {
			return paths{}, fmt.Errorf("%s=%q: want an absolute path", envStateDir, dir)
		}
		return paths{
			KeyDir:    filepath.Join(dir, "keys"),
			Pins:      filepath.Join(dir, "known_hosts"),
			SSHConfig: filepath.Join(dir, "ssh_config"),
		}, nil
	}
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
func NewRoot(stdio IOStreams) *cobra.Command {
	g := &globals{io: stdio}
	root := &cobra.Command{
		Use:   "jitssh",
		Short: "SSH to EC2 instances with short-lived keys, access decided by IAM",
		Long: `jitssh pushes a short-lived key to an instance with EC2 Instance Connect and
tunnels SSH through SSM Session Manager, so plain OpenSSH (ssh, scp, sftp,
rsync, port forwarding) works with access decided by IAM.`,
		Example: `  jitssh config install              # once: route ssh i-* through jitssh
  ssh i-0123456789abcdef0             # then plain ssh works
  jitssh ssh web-1 -- uptime          # or without touching ~/.ssh/config
  jitssh ls                           # what can I reach?
  jitssh doctor web-1                 # why can't I reach it?`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Version(),
	}
	root.SetVersionTemplate(buildinfo.Text("jitssh"))
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	pf := root.PersistentFlags()
	pf.StringVar(&g.region, "region", "", "AWS region, or all: every region the account has enabled (default: from AWS_REGION or the profile)")
	pf.StringVar(&g.profile, "profile", "", "AWS profile, or a glob of them ('prod-*': search all) (default: AWS_PROFILE or default)")
	pf.StringVar(&g.scope, "scope", "", "search a scope of jitssh's config ([[scope]] name), or all of them: all (default: the config's default_scope)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log each step to stderr")
	root.AddCommand(newProxyCmd(g, nil), newSSHCmd(g, nil), newConfigCmd(g, nil), newKnownHostsCmd(g, nil), newLsCmd(g, nil), newDoctorCmd(g, nil))
	root.AddCommand(newTunnelCmd(g, nil), newShellCmd(g, nil), newPolicyCmd(g, nil), newReapKeyCmd())
	root.AddCommand(newLoginCmd(g, nil), newLogoutCmd(g, nil), newAuditCmd(g, nil), newRevokeCmd(g, nil))
	root.InitDefaultCompletionCmd()
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	strictGroups(root)
	return root
}

// strictGroups makes every command that only groups subcommands (config,
// known-hosts, completion) fail on an unknown subcommand, suggesting the
// nearest, instead of printing its help and exiting 0. Without arguments
// it still prints its help.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if !c.HasSubCommands() {
		return
	}
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	if c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return unknownCommand(cmd, args[0])
	}
}

// unknownCommand is the error for an unknown subcommand of cmd.
func unknownCommand(cmd *cobra.Command, name string) error {
	var names []string
	for _, s := range cmd.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	msg := fmt.Sprintf("unknown command %q for %q.", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf(" Did you mean %q?", cmd.CommandPath()+" "+s[0])
	} else if len(names) > 0 {
		msg += fmt.Sprintf(" Its commands: %s.", strings.Join(names, ", "))
	}
	return usageError{fmt.Errorf("%s (see %q)", msg, cmd.CommandPath()+" --help")}
}

// usageError is a command line jitssh does not understand: exit 2, like
// other tools' usage errors (255 stays ssh's "could not connect").
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitUsage is the exit code of a usage error.
const exitUsage = 2

// exitError carries a specific exit code (e.g. ssh's own).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitFailure is the exit code of any other error: ssh's convention for
// "could not connect".
const exitFailure = 255

// Main runs jitssh with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdio IOStreams) int {
	defer cpuprofile.Start("jitssh")() // only in a -tags jitsshprofile build
	root := NewRoot(stdio)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code, err := exitCode(root, err)
	if err != nil {
		fmt.Fprintf(stdio.Err, "jitssh: %v\n", err)
	}
	return code
}

// exitCode is the one mapping of a command's error to jitssh's exit code,
// and the error to print, with advice (advise; nil: print nothing): none
// is 0; an exitError
// carries its code (ssh's, the remote shell's, doctor's 1) and prints
// nothing; a usageError (a flag, argument or subcommand jitssh does not
// understand) is 2; anything else 255. cobra's own "unknown command"
// becomes a usageError naming the nearest command of root.
func exitCode(root *cobra.Command, err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code, nil
	}
	var ue usageError
	if !errors.As(err, &ue) && strings.HasPrefix(err.Error(), "unknown command ") {
		// the root's own check (cobra's legacyArgs): name the nearest
		// command on one line, as for the groups
		if name, ok := unknownName(err.Error()); ok {
			err = unknownCommand(root, name)
		}
	}
	if errors.As(err, &ue) {
		return exitUsage, advise(err)
	}
	return exitFailure, advise(err)
}

// unknownName extracts NAME from cobra's `unknown command "NAME" for ...`.
func unknownName(msg string) (string, bool) {
	rest := strings.TrimPrefix(msg, "unknown command ")
	i := strings.Index(rest, " for ")
	if i < 0 {
		return "", false
	}
	name, err := strconv.Unquote(rest[:i])
	return name, err == nil
}
