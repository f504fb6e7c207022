package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/revoke"
	"github.com/jitssh/jitssh/internal/targets"
)

// revokeOptions is `jitssh revoke` after flag parsing.
type revokeOptions struct {
	IO IOStreams
	// Globals is the scope in effect (runRevokeScope) and the config file.
	Globals *globals
	// API builds the AWS clients of the one location of --profile and
	// --region (without a scope).
	API    func(ctx context.Context) (*awsapi.Client, error)
	Revoke revoke.Options
	DryRun bool
	Yes    bool
	Output string // text or json
}

func newRevokeCmd(g *globals, runF func(context.Context, *revokeOptions) error) *cobra.Command {
	o := &revokeOptions{IO: g.io, Globals: g, API: func(ctx context.Context) (*awsapi.Client, error) { return g.api(ctx, "") }}
	var principal, userTag string
	cmd := &cobra.Command{
		Use:   "revoke USER | --principal ARN",
		Short: "Incident response: take a person's access away now (deny, end sessions, kill processes), or give it back with --undo",
		Long: `revoke takes a person's access to the account's instances away, in the
region, and prints exactly what it changed:

 1. stop new access: an explicit deny of SendSSHPublicKey, OpenTunnel,
    StartSession and SendCommand for the person (the userName principal
    tag equal to USER, or the principal --principal names), plus a deny
    of everything to the person's credentials issued before now (AWS's
    "revoke active sessions", narrowed to the person). It is a service
    control policy attached to the organisation root when you can manage
    the organisation's policies (--deny-in scp), else an inline policy on
    the roles the person uses (--deny-in role): those the person's SSM
    sessions name, and any --role. The policy is named jitssh-revoke-USER.
 2. end what runs: the person's active SSM sessions are terminated, and
    every SSM-managed instance runs "jitssh-host users block USER" and
    "jitssh-host users kill --if-exists USER" through Run Command; each
    instance is reported done, not managed (with why) or failed (with why).

Over a scope (--scope NAME or all, --profile 'GLOB', --region all; see
docs/scopes.md) it does this in every account and region of the scope:
one SCP at the organisation root when you can manage the organisation's
policies (it covers every member account), and an inline deny on the
person's roles in the management account all the same, because AWS
applies no SCP to the management account; else an inline deny on the
person's roles in each account. Every location's sessions are ended and
its managed instances run jitssh-host, some locations at once; a
location that cannot be reached (its account denies, its region is
disabled) is reported with its account, region and fix, the others are
done, and the exit status is 1.

--undo gives the access back: the deny is taken off (only a policy jitssh
wrote) and every managed instance runs "jitssh-host users unblock USER".

It shows the plan and asks before changing anything on a terminal; --yes
skips the question (scripts), --dry-run shows the plan and stops. Running
it again is safe, and finishes what a partial failure left undone: its
exit status is 1 when any step failed.`,
		Example: `  jitssh revoke alice --dry-run
  jitssh revoke alice --yes --output json
  jitssh revoke --principal arn:aws:sts::111122223333:assumed-role/Developer/alice
  jitssh revoke alice --deny-in role --role Developer --role Support
  jitssh revoke --undo alice
  jitssh revoke alice --scope all --yes
  jitssh revoke alice --profile 'prod-*' --region all --dry-run`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Revoke.Person.User = args[0]
			}
			o.Revoke.Person.PrincipalARN = principal
			o.Revoke.Policy.UserTag = userTag
			if err := checkRevokeFlags(o); err != nil {
				return usageError{err}
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runRevoke(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&principal, "principal", "", "revoke one IAM principal (an IAM user's ARN or a role session's) instead of a user name")
	f.BoolVar(&o.Revoke.Undo, "undo", false, "give the access back: take the deny off and unblock the user on the instances")
	f.BoolVar(&o.DryRun, "dry-run", false, "show the plan and change nothing")
	f.BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
	f.StringVar(&o.Revoke.DenyIn, "deny-in", revoke.DenyAuto, "where the deny goes: auto, scp (the organisation's) or role (inline role policies)")
	f.StringSliceVar(&o.Revoke.Roles, "role", nil, "a role the person uses, to put the inline deny on (repeatable)")
	f.StringVar(&userTag, "user-tag", policy.DefaultUserTag, "the principal tag that names the person's OS user")
	f.StringVarP(&o.Output, "output", "o", "text", "text or json")
	return cmd
}

// checkRevokeFlags checks the flags, naming them.
func checkRevokeFlags(o *revokeOptions) error {
	p := o.Revoke.Person
	switch {
	case p.User == "" && p.PrincipalARN == "":
		return errors.New("name the person: jitssh revoke USER, or --principal ARN")
	case p.User != "" && p.PrincipalARN != "":
		return errors.New("give USER or --principal, not both")
	}
	if err := p.Validate(); err != nil {
		if p.PrincipalARN != "" {
			return fmt.Errorf("--principal: %w", err)
		}
		return err
	}
	switch o.Revoke.DenyIn {
	case revoke.DenyAuto, revoke.DenySCP, revoke.DenyRole:
	default:
		return fmt.Errorf("--deny-in %q: want auto, scp or role", o.Revoke.DenyIn)
	}
	if o.Output != "text" && o.Output != "json" {
		return fmt.Errorf("--output %q: want text or json", o.Output)
	}
	if o.Output == "json" && !o.Yes && !o.DryRun {
		return errors.New("--output json needs --yes or --dry-run: it cannot ask for confirmation")
	}
	return nil
}

func runRevoke(ctx context.Context, o *revokeOptions) error {
	req, err := o.Globals.scopeRequested()
	if err != nil {
		return err
	}
	if req != nil {
		return runRevokeScope(ctx, o, req)
	}
	c, err := o.API(ctx)
	if err != nil {
		return err
	}
	o.Revoke.Policy.Region = c.Region
	plan, err := revoke.MakePlan(ctx, c, o.Revoke)
	if err != nil {
		return revokeAdvice(err)
	}
	if o.DryRun {
		return printRevokePlan(o, plan)
	}
	if !o.Yes {
		if err := printRevokePlan(o, plan); err != nil {
			return err
		}
		if ok, err := confirmRevoke(o.IO); err != nil || !ok {
			return err
		}
	}
	rep := revoke.Apply(ctx, c, plan)
	if err := printRevokeReport(o, rep); err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		fmt.Fprintf(o.IO.Err, "jitssh: %d step(s) failed (above); run the same command again to finish\n", n)
		return exitError{code: 1}
	}
	return nil
}

// revokeAdvice words the library's errors with the flags that help.
func revokeAdvice(err error) error {
	var nr *revoke.NoRolesError
	var su *revoke.SCPUnavailableError
	var api *awsapi.APIError
	if errors.As(err, &api) && api.Fix == awsapi.FixPolicyUser {
		// A responder's denied call: the user policy would not grant it.
		api.Fix = awsapi.FixPolicyRevoker
	}
	switch {
	case errors.As(err, &nr):
		return fmt.Errorf("%w; name the roles with --role ROLE (repeatable), or run as someone who may manage the organisation's service control policies", err)
	case errors.As(err, &su):
		return fmt.Errorf("%w; use --deny-in role to put the deny on the person's roles instead", err)
	}
	return err
}

// confirmRevoke asks on a terminal; elsewhere it refuses to go on.
func confirmRevoke(io IOStreams) (bool, error) {
	in, ok := io.terminal(io.In)
	if !ok {
		return false, errors.New("not a terminal: cannot ask for confirmation; pass --yes to go ahead (or --dry-run to see the plan)")
	}
	fmt.Fprint(io.Err, "Go ahead? [y/N] ")
	return readYes(in), nil
}

func readYes(r io.Reader) bool {
	line, _ := bufio.NewReader(r).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

func printRevokePlan(o *revokeOptions, p *revoke.Plan) error {
	if o.Output == "json" {
		return writeJSON(o.IO.Out, p)
	}
	w := o.IO.Out
	verb := "Revoke"
	if p.Undo {
		verb = "Undo the revocation of"
	}
	fmt.Fprintf(w, "%s %s:\n", verb, p.Person)
	switch {
	case p.DenyIn == revoke.DenySCP && p.Undo:
		fmt.Fprintf(w, "  - delete the service control policy %s (detach it from %s)\n", p.PolicyName, p.OrgRoot)
	case p.DenyIn == revoke.DenySCP:
		fmt.Fprintf(w, "  - deny, in the service control policy %s attached to %s\n", p.PolicyName, p.OrgRoot)
	}
	for _, r := range p.Roles {
		if p.Undo {
			fmt.Fprintf(w, "  - delete the inline policy %s of role %s (if jitssh wrote it)\n", p.PolicyName, r)
		} else {
			fmt.Fprintf(w, "  - deny, in the inline policy %s of role %s\n", p.PolicyName, r)
		}
	}
	for _, s := range p.Sessions {
		fmt.Fprintf(w, "  - terminate SSM session %s to %s (%s, since %s)\n", s.ID, s.Target, s.Owner, s.Start.UTC().Format(time.RFC3339))
	}
	managed := 0
	for _, in := range p.Instances {
		if in.Managed {
			managed++
		}
	}
	action := "block " + p.Person + " and kill its processes"
	if p.Undo {
		action = "unblock " + p.Person
	}
	fmt.Fprintf(w, "  - %s on %d managed instance(s) of %d, with jitssh-host through Run Command\n", action, managed, len(p.Instances))
	return nil
}

func printRevokeReport(o *revokeOptions, r *revoke.Report) error {
	if o.Output == "json" {
		return writeJSON(o.IO.Out, r)
	}
	table := [][]string{{"WHAT", "TARGET", "NAME", "RESULT", "DETAIL"}}
	for _, x := range r.Results {
		table = append(table, []string{x.Kind, x.Target, dash(x.Name), x.Status, dash(x.Detail)})
	}
	_, err := fmt.Fprint(o.IO.Out, targets.FormatTable(table, ""))
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
