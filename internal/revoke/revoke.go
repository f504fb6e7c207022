// Package revoke takes a person's access away across an account and
// region, and gives it back: (1) an explicit deny of the access actions
// for the person (by the principal tag naming the OS user, or one
// principal ARN), plus a deny of everything to the person's credentials
// issued before now, as a service control policy when the caller can
// manage the organisation's, else as an inline policy on the roles the
// person uses; (2) the person's active SSM sessions terminated; (3) on
// every SSM-managed instance, jitssh-host blocks the user name and kills
// its processes through Run Command. MakePlan works out what would change
// in one account and region and Apply does it, reporting each step;
// MakeScopePlan and ApplyScope do the same over the locations of a scope
// (one SCP for the organisation, inline denies where it does not bind,
// every location's sessions and instances). All are safe to repeat.
package revoke

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/hostcmd"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/scope"
)

// Where a revocation's deny goes.
const (
	// DenyAuto is an SCP when the caller can manage the organisation's
	// policies, else inline role policies.
	DenyAuto = "auto"
	DenySCP  = "scp"
	DenyRole = "role"
)

// Options are what to revoke (or give back) and how.
type Options struct {
	Person policy.Person
	// Policy scopes the deny's document (its UserTag names the tag).
	Policy policy.Options
	// DenyIn is DenyAuto, DenySCP or DenyRole.
	DenyIn string
	// Roles are roles to put the inline deny on besides those the
	// person's SSM sessions show.
	Roles []string
	// Undo gives the access back instead.
	Undo bool
	// Now is the revocation's time (credentials issued before it are
	// denied); zero means time.Now.
	Now time.Time
	// CommandTimeout bounds the wait for Run Command's results (default
	// 60 s).
	CommandTimeout time.Duration
}

// Plan is what Apply will do.
type Plan struct {
	Person string `json:"person"`
	Undo   bool   `json:"undo"`
	// DenyIn is where the deny goes (or is taken from): "scp" or "role".
	DenyIn string `json:"deny_in"`
	// PolicyName is the SCP's or inline policies' name.
	PolicyName string `json:"policy_name"`
	// OrgRoot is the organisation root the SCP is attached to.
	OrgRoot string `json:"org_root,omitempty"`
	// Roles are the roles the inline deny goes on (or comes off).
	Roles []string `json:"roles,omitempty"`
	// Document is the deny, as JSON (revoking only).
	Document string `json:"document,omitempty"`
	// Sessions are the person's active SSM sessions to terminate.
	Sessions []awsapi.SessionInfo `json:"sessions"`
	// Instances are the instances of the region, managed or not.
	Instances []Instance `json:"instances"`
	// Location is where the plan's sessions and instances are, over a
	// scope (MakeScopePlan).
	Location *scope.Location `json:"location,omitempty"`
	// Caller is the caller's ARN there, over a scope.
	Caller string `json:"caller,omitempty"`

	scpID  string
	script []string
	opts   Options
}

// Instance is an instance of the scope and whether Run Command reaches it.
type Instance struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Managed bool   `json:"managed"`
	// Why is why an instance is not managed.
	Why string `json:"why,omitempty"`
}

// Step results.
const (
	Done       = "done"
	Unchanged  = "unchanged" // already as wanted
	NotManaged = "not managed"
	Failed     = "failed"
)

// Result is one change Apply made, or tried to.
type Result struct {
	// Kind is "scp", "role policy", "session" or "instance".
	Kind   string `json:"kind"`
	Target string `json:"target"`
	Name   string `json:"name,omitempty"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Location is where the change was made, over a scope.
	Location *scope.Location `json:"location,omitempty"`
}

// Report is what Apply did.
type Report struct {
	Plan    *Plan    `json:"plan"`
	Results []Result `json:"results"`
}

// Failed reports how many steps failed.
func (r *Report) Failed() int {
	n := 0
	for _, x := range r.Results {
		if x.Status == Failed {
			n++
		}
	}
	return n
}

// NoRolesError: the deny must go on roles and none is known.
type NoRolesError struct{ Person string }

func (e *NoRolesError) Error() string {
	return "no role is known for " + e.Person + ": the caller cannot manage service control policies and the person has no SSM session that names a role"
}

// SCPUnavailableError: the deny was to go in an SCP and the caller cannot
// manage the organisation's.
type SCPUnavailableError struct{ Err error }

func (e *SCPUnavailableError) Error() string {
	return "service control policies are out of reach: " + e.Err.Error()
}
func (e *SCPUnavailableError) Unwrap() error { return e.Err }

// MakePlan works out what revoking (or undoing) o.Person changes.
func MakePlan(ctx context.Context, c *awsapi.Client, o Options) (*Plan, error) {
	if err := o.Person.Validate(); err != nil {
		return nil, err
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.DenyIn == "" {
		o.DenyIn = DenyAuto
	}
	p := &Plan{Person: personLabel(o.Person), Undo: o.Undo, PolicyName: o.Person.Name(), opts: o}
	if err := p.planDeny(ctx, c); err != nil {
		return nil, err
	}
	if !o.Undo {
		all, err := c.Sessions(ctx, false)
		if err != nil {
			return nil, err
		}
		for _, s := range all {
			if owns(o.Person, s.Owner) {
				p.Sessions = append(p.Sessions, s)
			}
		}
	}
	if p.Sessions == nil {
		p.Sessions = []awsapi.SessionInfo{}
	}
	if err := p.planInstances(ctx, c); err != nil {
		return nil, err
	}
	return p, nil
}

func personLabel(p policy.Person) string {
	if p.User != "" {
		return p.User
	}
	return p.PrincipalARN
}

// owns reports whether an SSM session's owner ARN is the person's: the
// principal itself, or (by user name) a role session or IAM user of that
// name.
func owns(p policy.Person, owner string) bool {
	if p.PrincipalARN != "" {
		return owner == p.PrincipalARN
	}
	if i := strings.LastIndexAny(owner, "/"); i >= 0 {
		head := owner[:i]
		return owner[i+1:] == p.User && (strings.Contains(head, ":assumed-role/") || strings.Contains(head, ":user"))
	}
	return false
}

// roleOf returns the role name of a role session ARN.
func roleOf(arn string) string {
	_, rest, ok := strings.Cut(arn, ":assumed-role/")
	if !ok {
		return ""
	}
	r, _, _ := strings.Cut(rest, "/")
	return r
}

// planDeny decides where the deny goes and writes it.
func (p *Plan) planDeny(ctx context.Context, c *awsapi.Client) error {
	o := p.opts
	if !o.Undo {
		p.Document = string(policy.Revoke(o.Policy, o.Person, o.Now).JSON())
	}
	if o.DenyIn != DenyRole {
		root, err := c.OrgRoot(ctx)
		if err == nil {
			var scp awsapi.SCP
			var found bool
			if scp, found, err = c.FindSCP(ctx, p.PolicyName); err == nil {
				p.DenyIn, p.OrgRoot = DenySCP, root
				if found {
					p.scpID = scp.ID
				}
			}
		}
		if err != nil && o.DenyIn == DenySCP {
			return &SCPUnavailableError{Err: err}
		}
	}
	// Inline: the roles given and those the person's sessions name. With
	// an SCP too: the caller manages the organisation's policies, so this
	// is (but for a delegated administrator) its management account, which
	// AWS exempts from every SCP. (An undo takes inline denies off too.)
	roles := slices.Clone(o.Roles)
	if o.Person.PrincipalARN != "" {
		if r := roleOf(o.Person.PrincipalARN); r != "" {
			roles = append(roles, r)
		}
	}
	for _, history := range []bool{false, true} {
		all, err := c.Sessions(ctx, history)
		if err != nil {
			if p.DenyIn == DenySCP {
				break // the roles are only for taking old inline denies off
			}
			return err
		}
		for _, s := range all {
			if r := roleOf(s.Owner); r != "" && owns(o.Person, s.Owner) {
				roles = append(roles, r)
			}
		}
	}
	sort.Strings(roles)
	p.Roles = slices.Compact(roles)
	if p.DenyIn == "" {
		p.DenyIn = DenyRole
		if len(p.Roles) == 0 && !o.Undo {
			return &NoRolesError{Person: p.Person}
		}
	}
	return nil
}

// planInstances lists the region's instances and which SSM manages.
func (p *Plan) planInstances(ctx context.Context, c *awsapi.Client) error {
	user := p.opts.Person.SessionName()
	steps := []hostcmd.Step{{Action: hostcmd.Block, User: user}, {Action: hostcmd.Kill, User: user}}
	if p.opts.Undo {
		steps = []hostcmd.Step{{Action: hostcmd.Unblock, User: user}}
	}
	script, err := hostcmd.Script(steps)
	if err != nil {
		return err
	}
	p.script = script
	infos, err := c.InstanceInformation(ctx, nil)
	if err != nil {
		return err
	}
	online := map[string]awsapi.ManagedInstance{}
	for _, i := range infos {
		online[i.ID] = i
	}
	ec2, err := c.DescribeInstances(ctx, nil, map[string][]string{"instance-state-name": {"pending", "running", "stopping", "stopped"}})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, in := range ec2 {
		seen[in.ID] = true
		i := instanceOf(in.ID, in.Name, online)
		if in.State != "running" {
			i.Managed, i.Why = false, "instance "+in.State
		}
		p.Instances = append(p.Instances, i)
	}
	for _, i := range infos {
		if !seen[i.ID] {
			p.Instances = append(p.Instances, instanceOf(i.ID, i.Name, online))
		}
	}
	sort.Slice(p.Instances, func(a, b int) bool { return p.Instances[a].ID < p.Instances[b].ID })
	if p.Instances == nil {
		p.Instances = []Instance{}
	}
	return nil
}

func instanceOf(id, name string, online map[string]awsapi.ManagedInstance) Instance {
	in := Instance{ID: id, Name: name}
	switch m, ok := online[id]; {
	case !ok:
		in.Why = "not registered with SSM"
	case m.PingStatus != "Online":
		in.Why = "SSM agent " + m.PingStatus
	case m.PlatformType == "Windows":
		in.Why = "Windows: no jitssh-host"
	default:
		in.Managed = true
	}
	return in
}

// Apply carries p out: the deny, the sessions, the instances, in that
// order (new access is stopped before what runs is ended). A failed step
// is reported and the others still run; running it again finishes.
func Apply(ctx context.Context, c *awsapi.Client, p *Plan) *Report {
	r := &Report{Plan: p}
	r.applyDeny(ctx, c)
	r.applySessions(ctx, c)
	r.applyInstances(ctx, c)
	return r
}

// applySessions terminates the plan's sessions.
func (r *Report) applySessions(ctx context.Context, c *awsapi.Client) {
	for _, s := range r.Plan.Sessions {
		res := Result{Kind: "session", Target: s.ID, Name: s.Target, Status: Done, Detail: "terminated (owner " + s.Owner + ")"}
		if err := c.TerminateSession(ctx, s.ID); err != nil {
			res.Status, res.Detail = Failed, err.Error()
		}
		r.Results = append(r.Results, res)
	}
}

func (r *Report) add(kind, target, name, status, detail string) {
	r.Results = append(r.Results, Result{Kind: kind, Target: target, Name: name, Status: status, Detail: detail})
}

func (r *Report) applyDeny(ctx context.Context, c *awsapi.Client) {
	p := r.Plan
	switch {
	case p.DenyIn == DenySCP && !p.Undo:
		id, err := c.PutSCP(ctx, p.scpID, p.PolicyName, "Access of "+p.Person+" revoked by jitssh", p.Document)
		if err != nil {
			r.add("scp", p.PolicyName, "", Failed, err.Error())
			return
		}
		verb := "created"
		if p.scpID != "" {
			verb = "updated"
		}
		attached, err := c.AttachSCP(ctx, id, p.OrgRoot)
		switch {
		case err != nil:
			r.add("scp", p.PolicyName, id, Failed, verb+", but attaching it to "+p.OrgRoot+" failed: "+err.Error())
		case attached:
			r.add("scp", p.PolicyName, id, Done, verb+" and attached to "+p.OrgRoot)
		default:
			r.add("scp", p.PolicyName, id, Done, verb+" (already attached to "+p.OrgRoot+")")
		}
	case p.DenyIn == DenySCP:
		if p.scpID == "" {
			r.add("scp", p.PolicyName, "", Unchanged, "no such service control policy")
		} else if err := c.DeleteSCP(ctx, p.scpID, p.OrgRoot); err != nil {
			r.add("scp", p.PolicyName, p.scpID, Failed, err.Error())
		} else {
			r.add("scp", p.PolicyName, p.scpID, Done, "detached from "+p.OrgRoot+" and deleted")
		}
	}
	for _, role := range p.Roles {
		r.applyRole(ctx, c, role)
	}
}

func (r *Report) applyRole(ctx context.Context, c *awsapi.Client, role string) {
	p := r.Plan
	if !p.Undo {
		if err := c.PutRolePolicy(ctx, role, p.PolicyName, p.Document); err != nil {
			r.add("role policy", role, p.PolicyName, Failed, err.Error())
			return
		}
		r.add("role policy", role, p.PolicyName, Done, "inline deny put")
		return
	}
	doc, ok, err := c.RolePolicy(ctx, role, p.PolicyName)
	switch {
	case err != nil:
		r.add("role policy", role, p.PolicyName, Failed, err.Error())
		return
	case !ok:
		r.add("role policy", role, p.PolicyName, Unchanged, "no such inline policy")
		return
	}
	if d, err := policy.Parse([]byte(doc)); err != nil || !policy.IsRevoke(d) {
		r.add("role policy", role, p.PolicyName, Failed, "left alone: the inline policy of that name is not one jitssh wrote")
		return
	}
	if _, err := c.DeleteRolePolicy(ctx, role, p.PolicyName); err != nil {
		r.add("role policy", role, p.PolicyName, Failed, err.Error())
		return
	}
	r.add("role policy", role, p.PolicyName, Done, "inline deny deleted")
}

// applyInstances runs the jitssh-host script on every managed instance,
// MaxCommandTargets at a time, and waits for each one's result.
func (r *Report) applyInstances(ctx context.Context, c *awsapi.Client) {
	p := r.Plan
	var ids []string
	names := map[string]string{}
	for _, in := range p.Instances {
		if !in.Managed {
			r.add("instance", in.ID, in.Name, NotManaged, in.Why)
			continue
		}
		ids = append(ids, in.ID)
		names[in.ID] = in.Name
	}
	timeout := p.opts.CommandTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	comment := "jitssh: revoke " + p.Person
	if p.Undo {
		comment = "jitssh: undo the revocation of " + p.Person
	}
	if len(comment) > 100 {
		comment = comment[:100] // SSM's limit
	}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), awsapi.MaxCommandTargets)]
		ids = ids[len(batch):]
		cid, err := c.SendCommandTo(ctx, batch, p.script, comment, int32(max(timeout/time.Second, 30)))
		if err != nil {
			for _, id := range batch {
				r.add("instance", id, names[id], Failed, err.Error())
			}
			continue
		}
		for _, id := range batch {
			st, detail := waitInvocation(ctx, c, cid, id, timeout)
			r.add("instance", id, names[id], st, detail)
		}
	}
}

// waitInvocation polls one instance's run of command cid until it ends.
func waitInvocation(ctx context.Context, c *awsapi.Client, cid, id string, timeout time.Duration) (status, detail string) {
	deadline := time.Now().Add(timeout)
	delay := 200 * time.Millisecond
	for {
		inv, err := c.CommandInvocation(ctx, cid, id)
		switch {
		case err != nil && !awsapi.IsCode(errors.Unwrap(err), "InvocationDoesNotExist") && !awsapi.IsCode(err, "InvocationDoesNotExist"):
			return Failed, err.Error()
		case err == nil && inv.Done():
			out := strings.TrimSpace(inv.Stdout)
			if inv.Status != "Success" {
				return Failed, fmt.Sprintf("%s (exit %d): %s", inv.Status, inv.ResponseCode, lastLine(inv.Stderr, out))
			}
			return Done, strings.ReplaceAll(out, "\n", "; ")
		}
		if time.Now().After(deadline) {
			return Failed, fmt.Sprintf("no result within %v (command %s)", timeout, cid)
		}
		select {
		case <-ctx.Done():
			return Failed, ctx.Err().Error()
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

func lastLine(texts ...string) string {
	for _, t := range texts {
		lines := strings.Split(strings.TrimSpace(t), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "failed to run commands") {
				return l
			}
		}
	}
	return "no output"
}
