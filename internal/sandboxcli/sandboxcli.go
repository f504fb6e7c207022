// Package sandboxcli is the jitssh-sandbox command tree: `up` starts the
// local AWS in the foreground and writes an environment file that points
// jitssh, the AWS SDK and the aws CLI at it.
package sandboxcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jitssh/jitssh/internal/buildinfo"
	"github.com/jitssh/jitssh/internal/cpuprofile"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/fault"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
)

// Main runs jitssh-sandbox and returns its exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	defer cpuprofile.Start("jitssh-sandbox")() // only in a -tags jitsshprofile build
	root := &cobra.Command{
		Use:           "jitssh-sandbox",
		Short:         "A local AWS (EC2, EC2 Instance Connect, SSM, STS, IMDS) with simulated instances, for trying and testing jitssh",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Version(),
	}
	root.SetVersionTemplate(buildinfo.Text("jitssh-sandbox"))
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newUpCmd(stdout, stderr), newConfigCmd(stdout), newCtlCmd(stdout))
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "jitssh-sandbox: %v\n", err)
		return 1
	}
	return 0
}

// upOptions are the flags of up.
type upOptions struct {
	envFile, addr, stateDir, hostBin, mode string
	logFile                                string
	jit                                    string
	configFile                             string
	generate                               string
	org                                    bool
	generateTrail                          int
	fastAgent, verbose, allowNonLoopback   bool
	tls                                    bool
	hostName                               string
	faults                                 fault.Config
	latency, throttle, fail                []string
}

const upLong = `up starts the sandbox on 127.0.0.1 and, once it is ready, writes --env-file
and prints a summary; its log (a line per API call) goes to a file (--log).
Source the env file and jitssh and the aws CLI talk to the sandbox. Nothing
leaves the machine.

The env file unsets your own AWS credentials and profile, sets
AWS_ENDPOINT_URL and the region, and points AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE at the sandbox's profiles, one per identity (the
default identity is [default]): "aws --profile alice" and "AWS_PROFILE=alice
jitssh …" work as written. JITSSH_STATE_DIR gives jitssh a directory of the
sandbox's own for its keys, host-key pins and ssh_config, so they never mix
with your real ones and a restarted sandbox (new host keys, no pushed keys)
just works. JITSSH_SANDBOX_INSTANCES names a JSON list of the instances and
JITSSH_SANDBOX_CLOUDTRAIL the JSON-lines log of every API call with its
policy decisions.

--config FILE describes the account in TOML: region, account, SCPs,
identities (access keys, principal tags, policies, MFA), roles (trust,
policies, tags, profiles), instances and a
generated fleet; "jitssh-sandbox config" prints the built-in one to start
from. Without it the built-in account runs: the default identity is a role
session named after the local user, tagged userName=<local user>, with the
policy "jitssh policy user" prints; alice, nopolicy and admin are extra
profiles; carol is an IAM user with a virtual MFA device, and the profile
mfa assumes the role JitsshAdminMFA with her keys and a code ("jitssh-sandbox
ctl mfa-code mfa" prints it); webid signs in with the sandbox's OIDC
issuer (AssumeRoleWithWebIdentity); the impersonation SCP is in force. Its fleet: web-1, web-2
(public IPs), db-1, bastion-1 (forwards ssh -J into the VPC), app-1 (SSM
agent offline: reachable through the EC2 Instance Connect Endpoint or the
bastion), old-1 (stopped). Public IPs are loopback addresses 127.X.Y.n
whose SSH servers listen on port $JITSSH_SANDBOX_SSH_PORT (see
docs/sandbox.md).

--org runs the built-in AWS Organization instead: the built-in account as
its management account in us-east-1 and us-west-2 (ap-east-1 an opt-in
region not enabled), and the member accounts dev, prod and audit, each an
AWS profile of the same name assuming its OrganizationAccountAccessRole
(sso-dev and sso-prod through IAM Identity Center); dev's api-west-1 in
us-west-2 is a real instance. "jitssh-sandbox config --org" prints it.
--generate ACCOUNTSxREGIONSxN (e.g. 50x4x200) generates an organization of
API-only instances instead of one account's. One URL serves every account
and region: the signing key picks the account, the credential scope the
region (docs/sandbox.md).

--tls serves HTTPS and WSS, as AWS does, with a certificate of a CA made for
this sandbox: its certificate is ca.pem in the state directory and the env
file names it as AWS_CA_BUNDLE (the way a corporate TLS-inspecting proxy's CA
is configured). --host-name NAME puts NAME in the URLs and the certificate
instead of the address, for clients that reach the sandbox through an HTTPS
proxy resolving NAME (see docs/networks.md).

Instances run the real OpenSSH sshd (with jitssh-host as its
AuthorizedKeysCommand) when /usr/sbin/sshd exists and jitssh-sandbox runs as
root, and an embedded SSH server otherwise. Generated instances exist only
in the APIs.

Instances with jit = true (built in: web-2) create just-in-time users: the
sandbox runs a jitssh-host userdb service for each (its own socket in
/run/systemd/userdb, state and homes under the state directory, all removed
when it stops), so "ssh alice@web-2" with the alice profile creates alice on
first login. That needs root, the real sshd and nss-systemd; --jit auto
(default) turns it off with a warning when they are missing.`

const upExample = `  jitssh-sandbox up --env-file /tmp/sandbox.env &
  . /tmp/sandbox.env
  jitssh ssh web-1 -- hostname

  # another identity, and the audit trail:
  aws --profile alice sts get-caller-identity
  tail -n1 "$JITSSH_SANDBOX_CLOUDTRAIL"

  # your own account, plus 10,000 API-only instances:
  jitssh-sandbox config > sandbox.toml; $EDITOR sandbox.toml
  jitssh-sandbox up --config sandbox.toml --generate 10000 --env-file /tmp/sandbox.env

  # an AWS Organization: member accounts and regions
  jitssh-sandbox up --org --env-file /tmp/sandbox.env
  AWS_PROFILE=dev jitssh ssh --region us-west-2 api-west-1 -- hostname
  aws ec2 describe-regions --all-regions

  # 50 accounts × 4 regions × 200 API-only instances, 30 ms per API call:
  jitssh-sandbox up --generate 50x4x200 --latency '*=30ms' --env-file /tmp/sandbox.env

  # a just-in-time user (root, real sshd, nss-systemd): alice is in no file
  AWS_PROFILE=alice jitssh ssh alice@web-2 -- id

  # HTTPS and WSS with the sandbox's own CA (AWS_CA_BUNDLE in the env file):
  jitssh-sandbox up --tls --env-file /tmp/sandbox.env

  # a lossy network and AWS's hourly websocket close, every 5 seconds:
  jitssh-sandbox up --env-file /tmp/sandbox.env --fault-drop 0.05 --fault-close-after 5s

  # slow and throttled APIs, as a busy AWS account sees them:
  jitssh-sandbox up --env-file /tmp/sandbox.env --latency 'ssm:*=150ms' --throttle ec2:DescribeInstances=5/s

  # change faults, latency, throttling, instances at run time:
  jitssh-sandbox ctl --env-file /tmp/sandbox.env faults --drop 0.02 --reorder 0.01
  jitssh-sandbox ctl --env-file /tmp/sandbox.env instance web-1 stop
  jitssh-sandbox ctl --env-file /tmp/sandbox.env instance web-2 agent-offline

  # the same over HTTP (after sourcing the env file, which holds the admin
  # secret), and a man in the middle on a public address:
  curl -H "Authorization: Bearer $JITSSH_SANDBOX_ADMIN_TOKEN" -X PUT -d '{"drop":0.02,"reorder":0.01}' "$AWS_ENDPOINT_URL/_sandbox/faults"
  curl -H "Authorization: Bearer $JITSSH_SANDBOX_ADMIN_TOKEN" -X PUT -d '{"state":"stopped"}' "$AWS_ENDPOINT_URL/_sandbox/instances/i-0a1b2c3d4e5f00002/state"
  curl -H "Authorization: Bearer $JITSSH_SANDBOX_ADMIN_TOKEN" -X PUT -d '{"enabled":true}' "$AWS_ENDPOINT_URL/_sandbox/instances/i-0a1b2c3d4e5f00001/mitm"`

func newUpCmd(stdout, stderr io.Writer) *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:     "up",
		Short:   "Run the sandbox in the foreground until interrupted",
		Long:    upLong,
		Example: upExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUp(cmd.Context(), stderr, o)
		},
	}
	o.register(cmd.Flags())
	return cmd
}

// register defines up's flags on f.
func (o *upOptions) register(f *pflag.FlagSet) {
	f.StringVar(&o.envFile, "env-file", "", "write the environment (shell export lines) here once ready")
	f.StringVar(&o.addr, "addr", "127.0.0.1:0", "API listen address (loopback only, unless --allow-non-loopback)")
	f.BoolVar(&o.allowNonLoopback, "allow-non-loopback", false, "let --addr be a non-loopback address: whoever reaches it gets the sandbox's credentials")
	f.StringVar(&o.configFile, "config", "", "TOML file describing the account (default: the built-in one, see \"jitssh-sandbox config\")")
	f.BoolVar(&o.org, "org", false, "run the built-in AWS Organization (management account, members dev, prod and audit, us-east-1 and us-west-2) instead of the built-in account")
	f.StringVar(&o.generate, "generate", "", "add N API-only instances (node-00001 …) for scale tests, or an organization of ACCOUNTSxREGIONSxN (e.g. 50x4x200)")
	f.IntVar(&o.generateTrail, "generate-trail", 0, "start the CloudTrail log with this many synthetic records of the last 24 hours (role sessions user-0001 …) for LookupEvents at scale")
	f.StringVar(&o.stateDir, "state-dir", "", "directory for host keys, logs and audit files (default: a temporary directory)")
	f.StringVar(&o.hostBin, "host-binary", "", "jitssh-host binary for sshd's AuthorizedKeysCommand (default: next to jitssh-sandbox, else PATH)")
	f.StringVar(&o.mode, "sshd", "auto", "SSH server of the instances: auto, openssh or embedded")
	f.StringVar(&o.jit, "jit", "auto", "just-in-time users on instances with jit = true: auto (when root with sshd and nss-systemd), on or off")
	f.BoolVar(&o.fastAgent, "fast-agent", false, "run the sandbox's fast agent (32 KiB messages, acknowledgement on receipt) instead of the AWS-like one (1024-byte messages 1 ms apart, acknowledgement after delivery)")
	f.BoolVar(&o.tls, "tls", false, "serve HTTPS and WSS with a CA made for this sandbox (its certificate in the state directory, AWS_CA_BUNDLE in --env-file)")
	f.StringVar(&o.hostName, "host-name", "", "a host name for the sandbox's URLs and certificate instead of its IP address (for clients behind a proxy that resolves it)")
	f.Float64Var(&o.faults.Drop, "fault-drop", 0, "probability of dropping each data-channel frame (0-0.5)")
	f.Float64Var(&o.faults.Duplicate, "fault-duplicate", 0, "probability of duplicating each data-channel frame")
	f.Float64Var(&o.faults.Reorder, "fault-reorder", 0, "probability of delivering a data-channel frame after the next one")
	f.DurationVar((*time.Duration)(&o.faults.Delay), "fault-delay", 0, "delay before each frame the agent sends")
	f.DurationVar((*time.Duration)(&o.faults.CloseAfter), "fault-close-after", 0, "close each data-channel websocket after this long, as AWS does hourly (clients must resume)")
	f.StringArrayVar(&o.latency, "latency", nil, "delay an API: API=DURATION, e.g. ec2:DescribeInstances=200ms, ssm:*=50ms, *=10ms (repeatable)")
	f.StringArrayVar(&o.throttle, "throttle", nil, "throttle an API as AWS does: API=25% (probability), API=5/s (rate) or API=next:3 (repeatable)")
	f.StringArrayVar(&o.fail, "fail", nil, "make an API fail with HTTP 500 (its service's internal error): API=RULE, as --throttle (repeatable)")
	f.StringVar(&o.logFile, "log", "", "write the log (a line per API call, sshd and agent events) here; - for stderr (default: sandbox.log in --state-dir, else a new jitssh-sandbox-*.log in the temporary directory)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "debug logging")
}

// runUp runs the sandbox until ctx ends.
func runUp(ctx context.Context, stderr io.Writer, o upOptions) error {
	m, err := sshd.ParseMode(o.mode)
	if err != nil {
		return err
	}
	if o.org && o.configFile != "" {
		return errors.New("--org and --config: use one (jitssh-sandbox config --org prints the organization's file)")
	}
	acct, err := loadAccount(o.configFile, o.generate, o.org)
	if err != nil {
		return err
	}
	logger, logPath, closeLog, err := openLog(o.logFile, o.stateDir, o.verbose, stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	cfg, err := o.sandboxConfig(m, acct, logger)
	if err != nil {
		return err
	}
	if o.generateTrail < 0 || o.generateTrail > trail.MaxGenerate {
		return fmt.Errorf("--generate-trail %d: want 0 to %d", o.generateTrail, trail.MaxGenerate)
	}
	cfg.TrailGenerate = trail.GenerateSpec{Count: o.generateTrail, Seed: 1}
	sb, err := sandbox.Start(ctx, cfg)
	if err != nil {
		return withAdvice(err)
	}
	defer sb.Close()
	if o.envFile != "" {
		if err := sb.WriteFiles(o.envFile); err != nil {
			return err
		}
	}
	printSummary(stderr, sb, acct, summaryInfo{envFile: o.envFile, logPath: logPath, keptState: o.stateDir != ""})
	<-ctx.Done()
	fmt.Fprintln(stderr, "jitssh-sandbox: stopping")
	return nil
}

// sandboxConfig is the sandbox's configuration from the flags and the
// account.
func (o upOptions) sandboxConfig(m sshd.Mode, acct *config.Account, logger *slog.Logger) (sandbox.Config, error) {
	var err error
	cfg := sandbox.Config{
		Addr: o.addr, AllowNonLoopback: o.allowNonLoopback, StateDir: o.stateDir, HostBinary: o.hostBin, SSHMode: m, Account: acct,
		Logger: logger, TLS: o.tls, HostName: o.hostName,
	}
	cfg.FastAgent = o.fastAgent
	switch o.jit {
	case "auto":
		cfg.JIT = sandbox.JITAuto
	case "on":
		cfg.JIT = sandbox.JITOn
	case "off":
		cfg.JIT = sandbox.JITOff
	default:
		return sandbox.Config{}, fmt.Errorf("--jit %q: want auto, on or off", o.jit)
	}
	cfg.Faults = o.faults
	// Flags override the configuration file's rules API by API.
	if cfg.Latency, err = mergeRules(acct.Latency, o.latency, "--latency"); err != nil {
		return sandbox.Config{}, err
	}
	if cfg.Throttle, err = mergeRules(acct.Throttle, o.throttle, "--throttle"); err != nil {
		return sandbox.Config{}, err
	}
	if cfg.Fail, err = mergeRules(acct.Fail, o.fail, "--fail"); err != nil {
		return sandbox.Config{}, err
	}
	return cfg, nil
}

// withAdvice adds to the sandbox's errors what to do about them with
// jitssh-sandbox's commands and flags.
func withAdvice(err error) error {
	var nl *sandbox.NonLoopbackError
	var uk *config.UnknownKeyError
	switch {
	case errors.As(err, &nl):
		return fmt.Errorf("%w (or force it with --allow-non-loopback)", err)
	case errors.As(err, &uk):
		return fmt.Errorf("%w (see jitssh-sandbox up --help for the format)", err)
	case errors.Is(err, sandbox.ErrNoHostBinary):
		return fmt.Errorf("%w (build it with make build, or name it with --host-binary)", err)
	}
	return err
}

// mergeRules returns base with the API=VALUE flags applied over it.
func mergeRules(base map[string]string, flags []string, flag string) (map[string]string, error) {
	set, err := knobs.ParseAssignments(flags)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range set {
		out[k] = v
	}
	return out, nil
}

// loadAccount reads the configuration file (or the built-in one) and adds
// generated instances.
func loadAccount(path string, generate string, org bool) (*config.Account, error) {
	f := config.Builtin()
	if org {
		f = config.BuiltinOrg()
	}
	if path != "" {
		var err error
		if f, err = config.Load(path); err != nil {
			return nil, withAdvice(err)
		}
	}
	if generate != "" {
		spec, err := config.ParseGenerate(generate)
		if err != nil {
			return nil, fmt.Errorf("--generate %w", err)
		}
		if spec == (config.GenerateSpec{NamePrefix: "node"}) {
			return f.Resolve(sandbox.LocalUser()) // --generate 0
		}
		// Through the file's own validation, so ids cannot collide.
		if f.Generate != nil {
			return nil, errors.New("--generate and a [generate] section in the configuration: use one")
		}
		if err := f.SetGenerate(spec); err != nil {
			return nil, err
		}
	}
	return f.Resolve(sandbox.LocalUser())
}

func newConfigCmd(stdout io.Writer) *cobra.Command {
	var org bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the built-in account configuration (TOML), a starting point for --config",
		Example: `  jitssh-sandbox config > sandbox.toml
  jitssh-sandbox config --org > org.toml   # the built-in AWS Organization
  jitssh-sandbox up --config sandbox.toml --env-file /tmp/sandbox.env`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			text := config.BuiltinText
			if org {
				text = config.BuiltinOrgText
			}
			_, err := io.WriteString(stdout, text)
			return err
		},
	}
	cmd.Flags().BoolVar(&org, "org", false, "print the built-in AWS Organization (what up --org runs)")
	return cmd
}
