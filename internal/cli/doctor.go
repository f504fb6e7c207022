package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/eice"
	"github.com/jitssh/jitssh/internal/instances"
	"github.com/jitssh/jitssh/internal/openssh/sshconfig"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

// check is one `jitssh doctor` finding.
type check struct {
	Name   string `json:"check"`
	Status string `json:"status"` // ok, warn, fail, skip
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Clock skew limits: AWS refuses SigV4 requests more than 5 minutes off.
const (
	skewWarn = 30 * time.Second
	skewFail = 4 * time.Minute
)

// MinOpenSSH is the first OpenSSH with KnownHostsCommand.
var minOpenSSH = [2]int{8, 5}

// doctorAPI is the AWS calls doctor makes: connect's (to find the
// instance and its transports), STS's and IAM's policy simulator.
type doctorAPI interface {
	connect.API
	permissionSimulator
	CallerIdentityAndDate(ctx context.Context) (*awsapi.Caller, time.Time, error)
}

// doctorOptions is `jitssh doctor` after flag parsing.
type doctorOptions struct {
	IO IOStreams
	// API builds the AWS clients for specRegion ("" if the target names
	// none) and says which region they use.
	API func(ctx context.Context, specRegion string) (api doctorAPI, region string, err error)
	// g holds what the checks read besides AWS: jitssh's config file, the
	// environment's credentials, the transport settings.
	// Locate, if set, finds a target across the scope in effect (ok
	// false: no scope; API's one location is checked).
	Locate func(ctx context.Context, spec targets.Spec) (api doctorAPI, region, where string, found targets.Spec, ok bool, err error)
	g      *globals
	Target string // "" checks no instance
	Output string // table or json
	User   string // OS user whose key push to check ("" as ssh chooses)
}

func newDoctorCmd(g *globals, runF func(context.Context, *doctorOptions) error) *cobra.Command {
	o := &doctorOptions{IO: g.io, g: g, API: func(ctx context.Context, specRegion string) (doctorAPI, string, error) {
		api, err := g.api(ctx, specRegion)
		if err != nil {
			return nil, "", err
		}
		return api, api.Region, nil
	}}
	o.Locate = func(ctx context.Context, spec targets.Spec) (doctorAPI, string, string, targets.Spec, bool, error) {
		l, err := g.locate(ctx, spec, nil)
		if err != nil || l == nil {
			return nil, "", "", spec, false, err
		}
		g.locatedProfile = l.loc.Profile // the credentials checked are the location's
		return l.api, l.loc.Region, l.loc.String(), l.spec(spec), true, nil
	}
	cmd := &cobra.Command{
		Use:   "doctor [TARGET]",
		Short: "Check credentials, region, clock, OpenSSH and (with TARGET) the instance; say how to fix what fails",
		Example: `  jitssh doctor
  jitssh doctor web-1
  jitssh doctor i-0123456789abcdef0 --output json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Target = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runDoctor(cmd.Context(), o)
		},
	}
	cmd.ValidArgsFunction = completeTargets(g)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "table or json")
	cmd.Flags().StringVarP(&o.User, "user", "l", "", "OS user whose key push to check (default: as jitssh ssh chooses it)")
	return cmd
}

// runDoctor runs the checks and prints them; any failed check is exit 1.
func runDoctor(ctx context.Context, o *doctorOptions) error {
	if o.Output != "table" && o.Output != "json" {
		return fmt.Errorf("--output %q: use table or json", o.Output)
	}
	o.g.quiet = true // a finding below, not a warning
	o.g.noSignIn = true
	checks := diagnose(ctx, o)
	failed := 0
	for _, c := range checks {
		if c.Status == "fail" {
			failed++
		}
	}
	if o.Output == "json" {
		enc := json.NewEncoder(o.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(checks); err != nil {
			return err
		}
	} else {
		printChecks(o.IO.Out, checks)
	}
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// findings collects doctor's checks in order.
type findings []check

func (f *findings) add(c check) { *f = append(*f, c) }

// diagnose runs doctor's checks: the local ones, then AWS's, then (with a
// target) the instance's; it stops where a failure makes the rest moot.
func diagnose(ctx context.Context, o *doctorOptions) []check {
	var out findings
	out.add(checkOpenSSH())
	conf := checkConfig(&out, o.g)
	out.add(checkUserSSHConfig(ctx, o.g))
	if c, ok := checkSSOSession(ctx, o.g); ok {
		out.add(c)
	}

	var spec targets.Spec
	if o.Target != "" {
		var err error
		if spec, err = targets.Parse(o.Target); err != nil {
			out.add(check{Name: "target", Status: "fail", Detail: errText(err), Fix: "see `jitssh ssh --help` for the target forms"})
			return out
		}
	}
	api, region, err := o.locateTarget(ctx, &out, &spec)
	if err != nil {
		if !errors.Is(err, errReported) {
			out.add(apiFailed(err))
		}
		return out
	}
	out.add(check{Name: "region", Status: "ok", Detail: region})
	caller, user := checkIdentity(ctx, &out, o.g, api, conf, o.User)
	if o.Target == "" {
		return out
	}
	diagnoseInstance(ctx, &out, o.g, instanceCheck{api: api, region: region, caller: caller, user: user}, spec)
	return out
}

// errReported: a failure already added as a finding.
var errReported = errors.New("reported")

// locateTarget returns the clients and region of the target's location:
// where a search across the scope in effect found it (a "location"
// finding; spec becomes its instance id there), else API's one location.
func (o *doctorOptions) locateTarget(ctx context.Context, out *findings, spec *targets.Spec) (doctorAPI, string, error) {
	if o.Target != "" && o.Locate != nil {
		api, region, where, found, ok, err := o.Locate(ctx, *spec)
		if err != nil {
			out.add(check{Name: "location", Status: "fail", Detail: errText(err), Fix: "check the scope with `jitssh ls --scope NAME`"})
			return nil, "", errReported
		}
		if ok {
			out.add(check{Name: "location", Status: "ok", Detail: where})
			*spec = found
			return api, region, nil
		}
	}
	return o.API(ctx, spec.Region)
}

// checkConfig checks jitssh's config file and returns its settings.
func checkConfig(out *findings, g *globals) clientconf.Config {
	conf, err := g.config()
	switch {
	case err != nil:
		out.add(check{Name: "config", Status: "fail", Detail: errText(err), Fix: "correct the file, or move it away"})
	case conf.Path != "":
		out.add(check{Name: "config", Status: "ok", Detail: conf.Path})
	default:
		out.add(check{Name: "config", Status: "ok", Detail: "no config file (defaults)"})
	}
	return conf
}

// checkIdentity checks the credentials, the default OS user they imply,
// competing credentials and the clock; it returns the caller (nil if the
// credentials failed) and the OS user whose key push to check.
func checkIdentity(ctx context.Context, out *findings, g *globals, api doctorAPI, conf clientconf.Config, login string) (*awsapi.Caller, string) {
	for _, c := range credentialSourceChecks(ctx, g) {
		out.add(c)
	}
	before := time.Now()
	caller, date, err := api.CallerIdentityAndDate(ctx)
	after := time.Now()
	user := login
	if err != nil {
		out.add(credentialsFailed(err))
	} else {
		out.add(check{Name: "credentials", Status: "ok", Detail: caller.ARN})
		if u, err := targets.UserFromARN(caller.ARN); err == nil {
			out.add(check{Name: "default user", Status: "ok", Detail: u + " (from your AWS identity; --user or default_user override it)"})
			if user == "" && conf.DefaultUser == "" {
				user = u
			}
		} else {
			out.add(check{Name: "default user", Status: "warn", Detail: errText(err), Fix: "set default_user in jitssh's config file"})
		}
	}
	if user == "" {
		user = conf.DefaultUser
	}
	if c, ok := g.profileCheck(); ok {
		out.add(c)
	}
	out.add(checkSkew(date, before, after))
	if err != nil {
		return nil, user
	}
	return caller, user
}

// instanceCheck is what the instance's checks need.
type instanceCheck struct {
	api    doctorAPI
	region string
	caller *awsapi.Caller // nil: the credentials failed
	user   string
}

// diagnoseInstance finds the target's instance and checks its state, its
// SSM agent, the transport jitssh would use and the caller's permissions.
func diagnoseInstance(ctx context.Context, out *findings, g *globals, ic instanceCheck, spec targets.Spec) {
	lookup := instances.Lookup{API: ic.api, Warn: func(err error) {
		out.add(check{Name: "instance search", Status: "warn", Detail: errText(err), Fix: "`jitssh policy user` prints the permissions jitssh needs"})
	}}
	inst, err := targets.Resolve(ctx, lookup, spec, nil)
	if err != nil && inst.ID == "" {
		// Resolve refuses instances that are not running; show the state.
		if found, ferr := targets.Candidates(ctx, lookup, spec); ferr == nil && len(found) == 1 {
			inst = found[0]
		} else {
			out.add(check{Name: "instance", Status: "fail", Detail: errText(err), Fix: "check the target with `jitssh ls`"})
			return
		}
	}
	switch {
	case inst.Managed:
		out.add(check{Name: "instance", Status: "ok", Detail: fmt.Sprintf("%s (%s), SSM managed instance", inst.ID, inst.Name)})
	case inst.State == "running":
		out.add(check{Name: "instance", Status: "ok", Detail: fmt.Sprintf("%s (%s) is running in %s", inst.ID, inst.Name, inst.AZ)})
	default:
		out.add(check{Name: "instance", Status: "fail", Detail: fmt.Sprintf("%s (%s) is %s", inst.ID, inst.Name, inst.State), Fix: "start it: aws ec2 start-instances --instance-ids " + inst.ID})
		// Nothing reaches a stopped instance: its agent, endpoint and
		// address say nothing about a connection now.
		why := fmt.Sprintf("not checked: %s is %s, and no transport reaches an instance that is not running", inst.ID, inst.State)
		out.add(check{Name: "ssm agent", Status: "skip", Detail: why})
		out.add(check{Name: "transport", Status: "skip", Detail: why})
		if ic.caller != nil {
			out.add(checkPermissions(ctx, ic.api, ic.region, ic.caller.ARN, inst, ic.user))
		}
		return
	}
	out.add(checkSSMAgent(ctx, lookup, inst))
	if !inst.Managed {
		out.add(checkTransport(ctx, g, ic.api, inst))
	}
	if ic.caller != nil {
		out.add(checkPermissions(ctx, ic.api, ic.region, ic.caller.ARN, inst, ic.user))
	}
}

// checkSSMAgent checks the instance's SSM agent is online.
func checkSSMAgent(ctx context.Context, lookup instances.Lookup, inst targets.Instance) check {
	st, err := lookup.SSMStatus(ctx, []string{inst.ID})
	switch {
	case err != nil:
		return check{Name: "ssm agent", Status: "fail", Detail: errText(err)}
	case st[inst.ID] == "Online":
		return check{Name: "ssm agent", Status: "ok", Detail: "Online"}
	case st[inst.ID] == "":
		return check{Name: "ssm agent", Status: "fail", Detail: "not registered with SSM", Fix: "install and start amazon-ssm-agent, give the instance a profile with AmazonSSMManagedInstanceCore, and let it reach the ssm, ssmmessages and ec2messages endpoints"}
	default:
		return check{Name: "ssm agent", Status: "fail", Detail: st[inst.ID], Fix: "the agent lost its connection: check the instance is running, its network route to SSM endpoints, and the agent's log (/var/log/amazon/ssm/amazon-ssm-agent.log)"}
	}
}

// permissionCalls are the calls a connection to inst needs, grouped by the
// resources they act on, with the condition keys jitssh's requests carry.
func permissionCalls(region, account string, inst targets.Instance, user string) []struct {
	actions, resources []string
	keys               map[string][]string
} {
	type call = struct {
		actions, resources []string
		keys               map[string][]string
	}
	instARN := "arn:aws:ec2:" + region + ":" + account + ":instance/" + inst.ID
	doc := "arn:aws:ssm:" + region + "::document/" + transport.SSHDocument
	if inst.Managed {
		mi := "arn:aws:ssm:" + region + ":" + account + ":managed-instance/" + inst.ID
		return []call{
			{actions: []string{"ssm:DescribeInstanceInformation", "ssm:GetCommandInvocation"}, resources: []string{"*"}},
			{actions: []string{"ssm:StartSession"}, resources: []string{mi, doc}},
			{actions: []string{"ssm:SendCommand"}, resources: []string{mi, "arn:aws:ssm:" + region + "::document/AWS-RunShellScript"}},
		}
	}
	calls := []call{
		{actions: []string{"ec2:DescribeInstances", "ssm:DescribeInstanceInformation"}, resources: []string{"*"}},
		{actions: []string{"ssm:StartSession"}, resources: []string{instARN, doc}},
	}
	if user != "" {
		calls = append(calls, call{actions: []string{"ec2-instance-connect:SendSSHPublicKey"}, resources: []string{instARN}, keys: map[string][]string{"ec2:osuser": {user}}})
	}
	return calls
}

// permissionSimulator is IAM's policy simulator.
type permissionSimulator interface {
	SimulatePrincipalPolicy(ctx context.Context, source string, actions, resources []string, keys map[string][]string) ([]awsapi.Simulation, error)
}

// checkPermissions asks IAM's policy simulator whether the caller may make
// the calls a connection to inst needs. A denial that hinges on a key the
// simulator lacks (a role's session tags) is reported as unknown, not as
// denied; the simulator call itself being denied is said plainly.
func checkPermissions(ctx context.Context, api permissionSimulator, region, callerARN string, inst targets.Instance, user string) check {
	c := check{Name: "permissions"}
	source, ok := awsapi.PolicySource(callerARN)
	if !ok {
		c.Status, c.Detail = "skip", "not checked: IAM's policy simulator takes an IAM user or role, not "+callerARN
		return c
	}
	account := strings.SplitN(callerARN, ":", 6)[4]
	var v verdicts
	for _, call := range permissionCalls(region, account, inst, user) {
		res, err := api.SimulatePrincipalPolicy(ctx, source, call.actions, call.resources, call.keys)
		if err != nil {
			return simulatorFailed(source, err)
		}
		v.add(source, res)
	}
	v.settle()
	forUser := ""
	if user != "" {
		forUser = " (the key push for OS user " + user + ")"
	}
	switch {
	case len(v.denied) > 0:
		c.Status = "fail"
		c.Detail = "IAM's policy simulator says " + source + " may not: " + strings.Join(v.denied, "; ")
		if len(v.unknown) > 0 {
			c.Detail += "; cannot tell: " + strings.Join(v.unknown, "; ")
		}
		c.Fix = "`jitssh policy user` prints a policy that grants what jitssh needs; a service control policy only an administrator of the organisation can change"
	case len(v.unknown) > 0:
		c.Status = "warn"
		c.Detail = "allowed: " + strings.Join(v.allowed, ", ") + "; cannot tell: " + strings.Join(v.unknown, "; ")
		c.Fix = "such conditions are usually session tags (`jitssh policy scp` checks ec2:osuser against your userName tag): the connection itself will tell"
	default:
		c.Status = "ok"
		c.Detail = "allowed" + forUser + ": " + strings.Join(v.allowed, ", ")
	}
	return c
}

// simulatorFailed is the permissions check when the simulator could not
// be asked: skipped, saying why.
func simulatorFailed(source string, err error) check {
	c := check{Name: "permissions", Status: "skip"}
	var ae *awsapi.APIError
	switch {
	case errors.As(err, &ae) && strings.Contains(ae.Code, "AccessDenied"):
		c.Detail = "not checked: you may not use IAM's policy simulator (iam:SimulatePrincipalPolicy on " + source + " is denied); connections do not need it"
		c.Fix = "to have doctor check your permissions, ask for iam:SimulatePrincipalPolicy on " + source
	case errors.As(err, &ae) && ae.Code == "NoSuchEntity":
		c.Detail = "not checked: IAM does not know " + source + " (a role with a path cannot be told from its session ARN)"
	default:
		c.Detail = "not checked: " + errText(err)
	}
	return c
}

// verdicts sorts the simulator's decisions: actions allowed, and what is
// denied or cannot be told, each with its resource and why.
type verdicts struct {
	allowed, denied, unknown []string
}

func (v *verdicts) add(source string, res []awsapi.Simulation) {
	for _, r := range res {
		what := r.Action
		if r.Resource != "*" {
			what += " on " + r.Resource
		}
		switch {
		case r.Allowed():
			if !contains(v.allowed, r.Action) {
				v.allowed = append(v.allowed, r.Action)
			}
		case len(r.Missing) > 0:
			v.unknown = append(v.unknown, fmt.Sprintf("%s (depends on %s, which the simulator does not know for %s)", what, strings.Join(r.Missing, ", "), source))
		case !r.ByOrganizations:
			v.denied = append(v.denied, what+" (denied by a service control policy)")
		default:
			v.denied = append(v.denied, fmt.Sprintf("%s (%s)", what, r.Decision))
		}
	}
}

// settle drops from allowed the actions allowed on one resource and not
// on another.
func (v *verdicts) settle() {
	for i, a := range v.allowed {
		for _, d := range append(append([]string{}, v.denied...), v.unknown...) {
			if strings.HasPrefix(d, a+" ") {
				v.allowed[i] = ""
			}
		}
	}
	v.allowed = slices.DeleteFunc(v.allowed, func(s string) bool { return s == "" })
}

// checkTransport says which transport jitssh would use for inst and why,
// and whether its host key is pinned.
func checkTransport(ctx context.Context, g *globals, api connect.API, inst targets.Instance) check {
	c := check{Name: "transport"}
	configured, via, err := g.transportChoice("", "")
	if err != nil {
		c.Status, c.Detail, c.Fix = "fail", errText(err), "correct --transport/--via or jitssh's config"
		return c
	}
	f, err := transport.GatherFacts(ctx, api, inst, true)
	if err != nil {
		c.Status, c.Detail = "fail", errText(err)
		return c
	}
	reach := "none"
	if r := transport.Reaches(inst, f); len(r) > 0 {
		reach = strings.Join(r, ", ")
	}
	if f.EndpointErr != nil && !errors.Is(f.EndpointErr, eice.ErrNoEndpoint) {
		reach += fmt.Sprintf(" (EICE endpoints unknown: %s)", errText(f.EndpointErr))
	}
	if f.SSMErr != nil {
		reach += fmt.Sprintf(" (SSM agent status unknown: %s)", errText(f.SSMErr))
	}
	pinned := "no host key pinned yet"
	if p, err := defaultPaths(); err == nil {
		if keys, err := pinStore(p).Lookup(inst.ID); err == nil && len(keys) > 0 {
			pinned = "host key pinned: " + keys[0].Type()
		}
	}
	switch {
	case via != nil:
		c.Status, c.Detail = "ok", fmt.Sprintf("bastion via %s (configured); reachable directly over: %s; %s", via, reach, pinned)
	case configured != "" && configured != transport.NameAuto:
		c.Detail = fmt.Sprintf("%s (configured); reachable over: %s; %s", configured, reach, pinned)
		c.Status = "ok"
		if !contains(transport.Reaches(inst, f), configured) {
			c.Status, c.Fix = "warn", "the configured transport does not look usable for this instance: try --transport auto"
		}
	default:
		name, why, err := transport.Auto(inst, f)
		if err != nil {
			c.Status, c.Detail, c.Fix = "fail", errText(err), "see `jitssh proxy --help` for the transports"
			return c
		}
		c.Status, c.Detail = "ok", fmt.Sprintf("auto would use %s: %s (reachable over: %s; %s)", name, why, reach, pinned)
	}
	if pinned == "no host key pinned yet" && f.SSM != "Online" && f.Endpoint == nil {
		c.Status = "warn"
		c.Fix = "no pin and no SSM or EICE path to learn one: direct and bastion connections will refuse until the host key is pinned (see `jitssh proxy --help`)"
	}
	return c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// opensshRe finds the version in `ssh -V`: "OpenSSH_9.2p1 Debian-2", or
// Win32-OpenSSH's "OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2".
var opensshRe = regexp.MustCompile(`OpenSSH_(?:for_Windows_)?([0-9]+)\.([0-9]+)`)

func checkOpenSSH() check {
	c := check{Name: "openssh"}
	sshPath, err := findSSH()
	var out []byte
	if err == nil {
		out, err = exec.Command(sshPath, "-V").CombinedOutput()
	}
	if err != nil {
		c.Status, c.Detail, c.Fix = "fail", "ssh not found or failed: "+err.Error(), "install the OpenSSH client (8.5 or later)"
		return c
	}
	line := strings.TrimSpace(string(out))
	m := opensshRe.FindStringSubmatch(line)
	if m == nil {
		c.Status, c.Detail, c.Fix = "warn", "cannot tell the version of "+line, "jitssh needs OpenSSH 8.5 or later (KnownHostsCommand)"
		return c
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	c.Detail = line
	if major < minOpenSSH[0] || major == minOpenSSH[0] && minor < minOpenSSH[1] {
		c.Status, c.Fix = "fail", "upgrade the OpenSSH client to 8.5 or later: jitssh answers host-key checks through KnownHostsCommand"
		return c
	}
	c.Status = "ok"
	return c
}

// checkSkew compares AWS's Date header with the local clock at the middle
// of the request.
func checkSkew(date, before, after time.Time) check {
	c := check{Name: "clock"}
	if date.IsZero() {
		c.Status, c.Detail = "skip", "no Date header from AWS to compare with"
		return c
	}
	local := before.Add(after.Sub(before) / 2)
	skew := local.Sub(date)
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	// The header has one-second resolution.
	c.Detail = fmt.Sprintf("local clock is %s %s AWS", abs.Round(time.Second), map[bool]string{true: "ahead of", false: "behind"}[skew >= 0])
	switch {
	case abs > skewFail:
		c.Status, c.Fix = "fail", "AWS rejects signatures more than 5 minutes off: sync the clock (e.g. `timedatectl set-ntp true`)"
	case abs > skewWarn:
		c.Status, c.Fix = "warn", "sync the clock (e.g. `timedatectl set-ntp true`)"
	default:
		c.Status = "ok"
	}
	return c
}

// printChecks prints checks as doctor's table: a detail or fix of several
// lines (an AWS error with its advice) stays in its column.
func printChecks(w io.Writer, checks []check) {
	indent := strings.NewReplacer("\n", "\n"+strings.Repeat(" ", 21))
	for _, c := range checks {
		fmt.Fprintf(w, "%-4s  %-14s %s\n", strings.ToUpper(c.Status), c.Name, indent.Replace(c.Detail))
		if c.Fix != "" {
			fmt.Fprintf(w, "      %-14s fix: %s\n", "", indent.Replace(c.Fix))
		}
	}
}

// credentialsFix is the fix for credentials that do not work: an AWS
// config or credentials file named in the environment that does not exist
// (a stopped sandbox's, in a shell that sourced its env file) comes first.
func credentialsFix() string {
	var gone []string
	for _, v := range []string{"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"} {
		if f := os.Getenv(v); f != "" {
			if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
				gone = append(gone, v+"="+f)
			}
		}
	}
	if len(gone) > 0 {
		return strings.Join(gone, " and ") + ": no such file (a stopped sandbox's? source the env file of the one running now), or unset it and configure AWS credentials"
	}
	return "configure AWS credentials (e.g. `jitssh login` for an SSO or MFA profile, AWS_PROFILE) and retry"
}

// checkUserSSHConfig checks ~/.ssh/config when it holds jitssh's managed
// block: an earlier Host or Match section must not override it.
func checkUserSSHConfig(ctx context.Context, g *globals) check {
	c := check{Name: "ssh config"}
	home, err := os.UserHomeDir()
	if err != nil {
		c.Status, c.Detail = "warn", "find home directory: "+err.Error()
		return c
	}
	path := filepath.Join(home, ".ssh", "config")
	block, found, err := sshconfig.Installed(path)
	switch {
	case err != nil:
		c.Status, c.Detail, c.Fix = "fail", err.Error(), "fix the markers by hand, then run `jitssh config install`"
		return c
	case !found:
		c.Status, c.Detail = "ok", "no jitssh block in "+path+" (`jitssh ssh` passes its options itself)"
		return c
	}
	// ssh ignores an Include of a missing file: every option would then
	// look overridden, while the cause is the file (e.g. the state
	// directory of a sandbox that has stopped).
	for _, line := range strings.Split(block, "\n") {
		if inc, ok := strings.CutPrefix(strings.TrimSpace(line), "Include "); ok {
			inc = strings.Trim(strings.TrimSpace(inc), `"`)
			if _, err := os.Stat(inc); errors.Is(err, fs.ErrNotExist) {
				c.Status = "fail"
				c.Detail = "the jitssh block in " + path + " includes " + inc + ", which does not exist (a stopped sandbox's state directory?): ssh ignores it, so i-* and mi-* hosts do not go through jitssh"
				c.Fix = "run `jitssh config install` again (in a sandbox shell: after sourcing its current env file)"
				return c
			}
			if p, err := defaultPaths(); err == nil && inc != p.SSHConfig {
				c.Status = "fail"
				c.Detail = "the jitssh block in " + path + " includes " + inc + ", not " + p.SSHConfig + ", the file of this jitssh (" + envStateDir + " or the user config directory differ from when it was installed): ssh uses the other one's keys and pins"
				c.Fix = "run `jitssh config install` again from this shell, or use the shell (env file) it was installed from"
				return c
			}
		}
	}
	o, err := sshConfigOptions(g)
	if err != nil {
		c.Status, c.Detail = "warn", err.Error()
		return c
	}
	return checkSSHConfig(ctx, path, o)
}
