package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jitssh/jitssh/internal/revoke"
	"github.com/jitssh/jitssh/internal/scope"
	"github.com/jitssh/jitssh/internal/targets"
)

// runRevokeScope is revoke over a scope: every location's clients made
// (scopeSearch.client), the plan made over all of them, shown, confirmed
// and applied; the locations that could not be reached are listed with
// their fix and make the exit status 1.
func runRevokeScope(ctx context.Context, o *revokeOptions, req *scopeRequest) error {
	s, err := o.Globals.expand(ctx, req)
	if err != nil {
		return err
	}
	var sites []revoke.Site
	fails := append([]scope.Failure(nil), s.failures...)
	for _, l := range s.locs {
		c, err := s.client(ctx, l)
		if err != nil {
			fails = append(fails, scope.Failure{Location: l, Err: err})
			continue
		}
		sites = append(sites, revoke.Site{Location: l, Client: c})
	}
	if len(sites) == 0 {
		if len(fails) == 0 {
			return fmt.Errorf("--scope %s: the scope has no location", s.name)
		}
		printRevokeFailures(o, fails)
		return fmt.Errorf("no location of scope %s could be reached (above)", s.name)
	}
	o.Revoke.Policy.Region = ""
	plan, err := revoke.MakeScopePlan(ctx, sites, o.Revoke, scope.Limits{})
	if err != nil {
		return revokeAdvice(err)
	}
	for _, f := range plan.Failures {
		fails = append(fails, scope.Failure{Location: f.Location, Err: f.Err})
	}
	if o.DryRun || !o.Yes {
		if err := printRevokeScopePlan(o, plan); err != nil {
			return err
		}
		printRevokeFailures(o, fails)
	}
	if o.DryRun {
		return nil
	}
	if !o.Yes {
		if ok, err := confirmRevoke(o.IO); err != nil || !ok {
			return err
		}
	}
	rep := revoke.ApplyScope(ctx, plan, scope.Limits{})
	if err := printRevokeScopeReport(o, rep); err != nil {
		return err
	}
	if o.Yes {
		printRevokeFailures(o, fails)
	}
	if n := rep.Failed() + len(fails) - len(plan.Failures); n > 0 {
		fmt.Fprintf(o.IO.Err, "jitssh: %d step(s) or location(s) failed (above); fix them and run the same command again to finish\n", n)
		return exitError{code: 1}
	}
	return nil
}

// printRevokeFailures lists on stderr the locations that could not be
// reached or planned, each with its fix.
func printRevokeFailures(o *revokeOptions, fails []scope.Failure) {
	if len(fails) == 0 {
		return
	}
	fmt.Fprintf(o.IO.Err, "jitssh: %d location(s) not revoked:\n", len(fails))
	for _, f := range fails {
		var nr *revoke.NoRolesError
		if errors.As(f.Err, &nr) {
			fmt.Fprintf(o.IO.Err, "  %s: %v\n    fix: name the person's roles there with --role ROLE, or run as someone who may manage the organisation's service control policies\n", f.Location, f.Err)
			continue
		}
		fmt.Fprintf(o.IO.Err, "  %s\n", failureText(f))
	}
}

func printRevokeScopePlan(o *revokeOptions, sp *revoke.ScopePlan) error {
	if o.Output == "json" {
		return writeJSON(o.IO.Out, sp)
	}
	w := o.IO.Out
	verb := "Revoke"
	if sp.Undo {
		verb = "Undo the revocation of"
	}
	var locs []scope.Location
	for _, p := range sp.Locations {
		locs = append(locs, *p.Location)
	}
	fmt.Fprintf(w, "%s %s over %s:\n", verb, sp.Person, scope.Describe(locs))
	for _, p := range sp.Locations {
		l := p.Location
		switch {
		case p.DenyIn == revoke.DenySCP && sp.Undo:
			fmt.Fprintf(w, "  - delete the service control policy %s (detach it from %s), from account %s\n", p.PolicyName, p.OrgRoot, l.Account)
		case p.DenyIn == revoke.DenySCP:
			fmt.Fprintf(w, "  - deny, in the service control policy %s attached to %s (every member account), from account %s\n", p.PolicyName, p.OrgRoot, l.Account)
		}
		for _, r := range p.Roles {
			if sp.Undo {
				fmt.Fprintf(w, "  - delete the inline policy %s of role %s in account %s (if jitssh wrote it)\n", p.PolicyName, r, l.Account)
			} else {
				fmt.Fprintf(w, "  - deny, in the inline policy %s of role %s in account %s\n", p.PolicyName, r, l.Account)
			}
		}
	}
	for _, n := range sp.Notes {
		fmt.Fprintf(w, "  - note: %s\n", n)
	}
	action := "block " + sp.Person + " and kill its processes"
	if sp.Undo {
		action = "unblock " + sp.Person
	}
	for _, p := range sp.Locations {
		for _, s := range p.Sessions {
			fmt.Fprintf(w, "  - terminate SSM session %s to %s in %s (%s, since %s)\n", s.ID, s.Target, p.Location, s.Owner, s.Start.UTC().Format(time.RFC3339))
		}
		managed := 0
		for _, in := range p.Instances {
			if in.Managed {
				managed++
			}
		}
		fmt.Fprintf(w, "  - %s on %d managed instance(s) of %d in %s\n", action, managed, len(p.Instances), p.Location)
	}
	return nil
}

func printRevokeScopeReport(o *revokeOptions, r *revoke.ScopeReport) error {
	if o.Output == "json" {
		return writeJSON(o.IO.Out, r)
	}
	table := [][]string{{"ACCOUNT", "REGION", "WHAT", "TARGET", "NAME", "RESULT", "DETAIL"}}
	for _, x := range r.Results {
		acct, region := "-", "-"
		if x.Location != nil {
			acct, region = dash(x.Location.Account), x.Location.Region
		}
		if x.Kind == "scp" || x.Kind == "role policy" {
			region = "-" // organisations and IAM are global
		}
		table = append(table, []string{acct, region, x.Kind, x.Target, dash(x.Name), x.Status, dash(x.Detail)})
	}
	_, err := fmt.Fprint(o.IO.Out, targets.FormatTable(table, ""))
	return err
}
