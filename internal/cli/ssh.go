package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/handoff"
	"github.com/jitssh/jitssh/internal/instances"
	"github.com/jitssh/jitssh/internal/keyfile"
	"github.com/jitssh/jitssh/internal/openssh/sshconfig"
	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/targets"
)

// sshAPI is the AWS calls `jitssh ssh` makes itself: resolve the target
// (instances.Lookup) and, for the login, ask who the caller is.
type sshAPI interface {
	instances.API
	CallerIdentity(ctx context.Context) (*awsapi.Caller, error)
}

// sshOptions is `jitssh ssh` after argument and flag parsing.
type sshOptions struct {
	IO IOStreams
	// g is what ssh shares with every command: -v, --profile, the config
	// file, the picker, the progress line and the logger.
	g *globals
	// Where returns the clients, region and profile of the target's
	// location, and the instance when a search across the scope in
	// effect found it (nil: resolve it there).
	Where func(ctx context.Context, spec targets.Spec) (api sshAPI, region, profile string, found *targets.Instance, err error)
	// SSH finds the ssh program to run.
	SSH func() (string, error)

	Target  string       // [USER@]TARGET as typed
	Spec    targets.Spec // Target parsed
	SSHArgs []string     // ssh's own arguments, after TARGET (and --)

	Login         string // --user
	Identity      string // --identity: the user's own key
	Reason        string
	Transport     string
	Via           string
	KeyStore      string
	AgentLifetime time.Duration
}

func newSSHCmd(g *globals, runF func(context.Context, *sshOptions) error) *cobra.Command {
	o := &sshOptions{IO: g.io, g: g, SSH: findSSH, Where: func(ctx context.Context, spec targets.Spec) (sshAPI, string, string, *targets.Instance, error) {
		api, region, profile, found, err := where(ctx, g, spec)
		if err != nil {
			// Not api itself: a nil *awsapi.Client would be a non-nil sshAPI.
			return nil, "", "", nil, err
		}
		return api, region, profile, found, nil
	}}
	cmd := &cobra.Command{
		Use:   "ssh [USER@]TARGET [-- SSH ARGS...]",
		Short: "Run ssh to an instance through jitssh, without editing ~/.ssh/config",
		Long: `ssh resolves TARGET to one instance and runs the real ssh to it, with jitssh
as its ProxyCommand.

TARGET is any of:
  i-0123456789abcdef0                        instance id
  mi-0123456789abcdef0                       SSM managed instance id
  web-1                                      Name tag
  tag:Team=payments                          any tag
  10.0.1.11 / 198.51.100.11                  private or public IPv4 address
  ip-10-0-1-11.ec2.internal                  private DNS name
  ec2-198-51-100-11.compute-1.amazonaws.com  public DNS name
optionally as USER@TARGET and with a .REGION suffix (web-1.eu-west-1): the
last label counts as a region when it looks like one (two letters, words,
a number), which no DNS top-level domain does.

Several matches: on a terminal you pick one (type its name, id or address;
the best match is selected, and the choice is echoed before connecting);
otherwise the matches are listed and nothing happens.

The login user is --user, else USER@, else default_user in jitssh's config
file, else derived from your AWS identity (the role session name of an
assumed role, or the IAM user name, sanitised to a POSIX name), else your
local user name.

--transport picks how to reach the instance (auto, ssm, eice, direct,
bastion; see "jitssh proxy --help"); --via TARGET goes through that SSH
jump host. SSM managed instances (mi-) are reached over ssm only; their key
is placed with SSM Run Command (ssm:SendCommand, AWS-RunShellScript) and
expires like an EC2 Instance Connect key.

The ephemeral key (--key-store, $` + envKeyStore + `):
  auto   (default) in the ssh-agent at SSH_AUTH_SOCK if one answers, with a
         lifetime (--agent-lifetime, default ` + keyfile.AgentKeyLifetime.String() + `), so its private
         half is never written to disk; else in a private 0600 file
  agent  in the ssh-agent, or an error if none answers
  file   in a private 0600 file, removed once its push window has closed`,
		Example: `  jitssh ssh i-0123456789abcdef0
  jitssh ssh web-1 -- uptime
  jitssh ssh admin@web-1.eu-west-1 -- -L 8080:localhost:80 -N
  jitssh ssh tag:Role=bastion --reason "INC-1234"
  jitssh ssh -i ~/.ssh/id_ed25519 10.0.1.11
  jitssh ssh --transport eice app-1
  jitssh ssh --via bastion-1 app-1
  jitssh ssh onprem-1                 # an SSM managed instance, by name
  jitssh ssh --key-store file web-1`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := targets.Parse(args[0])
			if err != nil {
				return err
			}
			o.Target, o.Spec, o.SSHArgs = args[0], spec, args[1:]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runSSHCmd(cmd.Context(), o)
		},
	}
	cmd.ValidArgsFunction = completeTargets(g)
	cmd.Flags().StringVarP(&o.Login, "user", "l", "", "OS user to log in as (default: see above)")
	cmd.Flags().StringVarP(&o.Identity, "identity", "i", "", "use this key of yours instead of an ephemeral one (its public half is pushed)")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "reason recorded with the SSM session, for CloudTrail")
	cmd.Flags().StringVar(&o.Transport, "transport", "", "auto, ssm, eice, direct or bastion (default: the config's transport, else auto)")
	cmd.Flags().StringVar(&o.Via, "via", "", "SSH jump host ([USER@]TARGET) for the bastion transport")
	cmd.Flags().StringVar(&o.KeyStore, "key-store", "", "where the ephemeral key's private half goes: auto, agent or file (default: $"+envKeyStore+", else auto)")
	cmd.Flags().DurationVar(&o.AgentLifetime, "agent-lifetime", 0, "how long the ssh-agent keeps the ephemeral key (default: $"+envAgentLifetime+", else "+keyfile.AgentKeyLifetime.String()+")")
	return cmd
}

// runSSHCmd is `jitssh ssh`: resolve the target and the login, make the
// key, run ssh with the proxy as its ProxyCommand and one hand-off for
// it, and show the proxy's account of a connection that ended badly.
// ssh's exit status is jitssh's (the remote command's, or ssh's 255);
// jitssh's own failures before ssh runs are 255 (exitCode).
func runSSHCmd(ctx context.Context, o *sshOptions) error {
	g := o.g
	started := time.Now()
	if _, _, err := g.transportChoice(o.Transport, o.Via); err != nil {
		return err
	}
	api, region, profile, known, err := o.Where(ctx, o.Spec)
	if err != nil {
		return err
	}
	inst, user, err := o.resolve(ctx, api, known)
	if err != nil {
		return err
	}
	so, err := sshConfigOptions(g)
	if err != nil {
		return err
	}
	so.HostKeyAlias = inst.ID
	h := handoff.Handoff{User: user, Host: inst.ID, Started: started.UnixMilli(), Label: o.Target, Verbose: g.verboseOn(),
		Profile: profile, Reason: o.Reason, Transport: o.Transport, Via: o.Via,
		// The proxy explains a changed host key itself (it sees the key
		// pass), so ssh's KnownHostsCommand is off (below).
		ExplainHostKey: true}
	if !inst.Managed {
		h.Instance = targets.Hint(inst, region, time.Now())
	}
	pub, cleanup, err := o.publicKey(user, inst.ID)
	if err != nil {
		return err
	}
	defer cleanup()
	if pub != "" {
		so.IdentityFile, h.PublicKeyFile = pub, pub
	}
	sshArgs, err := sshCommandLine(so, user, inst.ID, o.SSHArgs)
	if err != nil {
		return err
	}
	// The proxy leaves its account of a bad end here; shown once ssh's
	// exit status says which parts apply.
	rdir, err := os.MkdirTemp("", "jitssh-report-")
	if err != nil {
		return fmt.Errorf("create report directory: %w", err)
	}
	defer os.RemoveAll(rdir)
	h.Report = filepath.Join(rdir, "report.json")
	return runSSH(ctx, o, sshArgs, append(childEnv(g, region), handoff.Var+"="+h.Encode()), h.Report)
}

// where returns the clients, region and profile of the target's
// location: where a search across the scope in effect found it (and the
// instance), else the one location of --profile and --region.
func where(ctx context.Context, g *globals, spec targets.Spec) (*awsapi.Client, string, string, *targets.Instance, error) {
	l, err := g.locate(ctx, spec, g.chooser())
	if err != nil {
		return nil, "", "", nil, err
	}
	if l != nil {
		return l.api, l.loc.Region, l.loc.Profile, &l.inst, nil
	}
	region, err := g.regionFor(spec.Region)
	if err != nil {
		return nil, "", "", nil, err
	}
	api, err := g.api(ctx, spec.Region)
	if err != nil {
		return nil, "", "", nil, err
	}
	return api, firstOf(region, api.Region), g.profile, nil, nil
}

// resolve resolves the target (a picker on a terminal chooses among
// several) and, at the same time if it is still needed, derives the login
// from the AWS identity: --user, else USER@, else the config's
// default_user, else the identity's name, else the local user name.
func (o *sshOptions) resolve(ctx context.Context, api sshAPI, known *targets.Instance) (targets.Instance, string, error) {
	g, spec := o.g, o.Spec
	user := firstOf(o.Login, spec.User)
	if user == "" {
		c, err := g.config()
		if err != nil {
			return targets.Instance{}, "", err
		}
		user = c.DefaultUser
	}
	var (
		wg        sync.WaitGroup
		derived   string
		callerErr error
	)
	if user == "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			derived, callerErr = callerUser(ctx, api)
		}()
	}
	line := g.progressLine(o.Target)
	endLookup := line.Begin("looking up %s", spec)
	choose := g.chooser()
	if choose != nil {
		pick := choose
		choose = func(ctx context.Context, sp targets.Spec, m []targets.Instance) (targets.Instance, error) {
			line.Clear() // the picker owns the terminal now
			return pick(ctx, sp, m)
		}
	}
	var inst targets.Instance
	var err error
	if known != nil { // found across a scope
		inst = *known
	} else {
		inst, err = targets.Resolve(ctx, instances.Lookup{API: api, Warn: g.warn}, spec, choose)
	}
	wg.Wait()
	endLookup()
	line.Clear()
	if err != nil {
		return targets.Instance{}, "", err
	}
	if user == "" {
		if user = derived; callerErr != nil {
			g.logger().Info("no user from the AWS identity; using the local user name", "err", callerErr)
			if user, err = localUser(); err != nil {
				return targets.Instance{}, "", err
			}
		}
	}
	if err := targets.ValidUser(user); err != nil {
		return targets.Instance{}, "", err
	}
	return inst, user, nil
}

// publicKey returns the public key file ssh offers and the proxy pushes:
// -i's, or a new ephemeral key's put into the ssh-agent; "" when the key
// goes to a file the proxy writes. The func removes what was made.
func (o *sshOptions) publicKey(user, instanceID string) (string, func(), error) {
	if o.Identity == "" {
		return agentKey(o.g, o.KeyStore, o.AgentLifetime, user, instanceID)
	}
	abs, err := filepath.Abs(o.Identity)
	if err != nil {
		return "", nil, err
	}
	if _, err := sshkeys.PublicKeyOf(abs); err != nil {
		return "", nil, err
	}
	return abs, func() {}, nil
}

// runSSH runs ssh with env and shows the proxy's account from report:
// on ssh's own failure (255) its account of a refused login too, after a
// moment's wait for the proxy, which ends after ssh.
func runSSH(ctx context.Context, o *sshOptions, sshArgs, env []string, report string) error {
	g := o.g
	sshPath, err := o.SSH()
	if err != nil {
		return fmt.Errorf("find ssh: %w", err)
	}
	c := exec.CommandContext(ctx, sshPath, sshArgs...)
	c.Stdin, c.Stdout, c.Stderr = o.IO.In, o.IO.Out, o.IO.Err
	c.Env = env
	runErr := c.Run()
	code := 0
	if runErr != nil {
		var ee *exec.ExitError
		if !errors.As(runErr, &ee) {
			return fmt.Errorf("run ssh: %w", runErr)
		}
		code = ee.ExitCode()
	}
	wait := time.Duration(0)
	if code == 255 {
		wait = reportWait
	}
	if e, ok := readReport(report, wait); ok {
		if code == 255 && e.Login != "" {
			fmt.Fprintln(o.IO.Err, e.Login)
			fmt.Fprintln(o.IO.Err, anotherUser)
		}
		if e.Ended != "" {
			fmt.Fprintln(o.IO.Err, e.Ended)
		}
		g.printSSMEnd(e.SSM)
	}
	if code != 0 {
		return exitError{code}
	}
	return nil
}

// reportWait bounds how long `jitssh ssh` waits for its proxy's report
// after ssh failed (the proxy ends after ssh, and may ask EC2 whether the
// instance stopped: stateCheckTimeout in connect).
const reportWait = 4 * time.Second

// Key stores (--key-store).
const (
	keyStoreAuto  = "auto"
	keyStoreAgent = "agent"
	keyStoreFile  = "file"
)

// agentKey puts a new ephemeral key into the running ssh-agent, if the key
// store allows it and one answers, and writes its public half to a file
// in the key directory for ssh's IdentityFile (ssh signs with the agent's
// copy; the proxy pushes it). It returns that file ("" when the key goes
// to a file the proxy writes instead) and a func removing it.
func agentKey(g *globals, store string, lifetime time.Duration, user, instanceID string) (string, func(), error) {
	none := func() {}
	if store == "" {
		store = os.Getenv(envKeyStore)
	}
	switch store {
	case "", keyStoreAuto, keyStoreAgent:
	case keyStoreFile:
		return "", none, nil
	default:
		return "", none, fmt.Errorf("--key-store %q: use auto, agent or file", store)
	}
	if lifetime == 0 {
		if v := os.Getenv(envAgentLifetime); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return "", none, fmt.Errorf("%s=%q: want a duration such as 90s", envAgentLifetime, v)
			}
			lifetime = d
		}
	}
	if lifetime == 0 {
		lifetime = keyfile.AgentKeyLifetime
	}
	if lifetime < time.Second || lifetime > sshkeys.MaxAgentLifetime {
		return "", none, fmt.Errorf("agent key lifetime %v: want 1s to %v", lifetime, sshkeys.MaxAgentLifetime)
	}
	ag, err := sshkeys.DialAgent("")
	if err != nil {
		if store == keyStoreAgent {
			return "", none, fmt.Errorf("--key-store agent: %w (%s, or use --key-store file)", err, startAgentHint)
		}
		g.logger().Info("no ssh-agent: the ephemeral key goes to a private file", "why", err)
		return "", none, nil
	}
	defer ag.Close()
	key, err := sshkeys.Generate("")
	if err != nil {
		return "", none, err
	}
	p, err := defaultPaths()
	if err != nil {
		return "", none, err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	pub := filepath.Join(p.KeyDir, fmt.Sprintf("%s@%s.%x.agent.pub", user, instanceID, rnd))
	if err := key.WritePublicFile(pub); err != nil {
		return "", none, err
	}
	comment := fmt.Sprintf("%s %s@%s", sshkeys.DefaultComment, user, instanceID)
	if err := ag.Add(key, comment, lifetime); err != nil {
		os.Remove(pub)
		return "", none, err
	}
	g.logger().Info("ephemeral key added to the ssh-agent", "socket", ag.Socket, "lifetime", lifetime, "fingerprint", key.Fingerprint())
	return pub, func() { os.Remove(pub) }, nil
}

// callerUser derives the login name from the AWS identity.
func callerUser(ctx context.Context, api sshAPI) (string, error) {
	c, err := api.CallerIdentity(ctx)
	if err != nil {
		return "", err
	}
	return targets.UserFromARN(c.ARN)
}

// localUser is ssh's own default, the local user name.
func localUser() (string, error) {
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

// sshConfigOptions are the ssh settings shared by `jitssh ssh`, doctor
// and the config block.
func sshConfigOptions(g *globals) (sshconfig.Options, error) {
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

// childEnv passes the region the target was resolved in to the
// ProxyCommand that ssh runs. The profile chosen by --profile travels in
// the hand-off, which the proxy treats as its --profile: as AWS_PROFILE
// it would lose to AWS_ACCESS_KEY_ID in the environment (the SDK's
// order), and the proxy would push the key as another identity than the
// one that chose the OS user.
func childEnv(g *globals, region string) []string {
	env := os.Environ()
	if region != "" {
		env = append(env, "AWS_REGION="+region)
	}
	return env
}
