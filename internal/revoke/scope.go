package revoke

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/scope"
)

// Site is one location of a scope and the AWS clients that reach it.
type Site struct {
	Location scope.Location
	Client   *awsapi.Client
}

// ScopePlan is what ApplyScope will do over the locations of a scope:
// one deny for the organisation (an SCP attached once at its root, which
// covers every member account) plus inline role denies where the SCP
// does not reach (the management account, which AWS exempts from SCPs),
// or inline role denies in every account; then, in every location, the
// person's SSM sessions and the managed instances.
type ScopePlan struct {
	Person     string `json:"person"`
	Undo       bool   `json:"undo"`
	DenyIn     string `json:"deny_in"`
	PolicyName string `json:"policy_name"`
	OrgRoot    string `json:"org_root,omitempty"`
	// Management is the account the SCP is managed from: the
	// organisation's management account (or a delegated administrator),
	// where AWS applies no SCP, so the person's roles there get the
	// inline deny too.
	Management string `json:"management_account,omitempty"`
	Document   string `json:"document,omitempty"`
	// Locations are the plans of the locations that could be planned.
	Locations []*Plan `json:"locations"`
	// Failures are the locations that could not be planned (or whose
	// deny cannot be put), with why; the others go on.
	Failures []LocationFailure `json:"failures,omitempty"`
	// Notes are what the plan cannot do and the reader should know.
	Notes []string `json:"notes,omitempty"`

	sites map[*Plan]Site
}

// LocationFailure is a location a revocation could not plan or change.
type LocationFailure struct {
	Location scope.Location `json:"location"`
	Error    string         `json:"error"`
	Err      error          `json:"-"`
}

// MakeScopePlan works out what revoking (or undoing) o.Person changes in
// every site, at most lim's at once. A site that cannot be planned (its
// account denies, its region is disabled) is a Failure, and the others
// are planned; only a deny that cannot go anywhere is an error.
func MakeScopePlan(ctx context.Context, sites []Site, o Options, lim scope.Limits) (*ScopePlan, error) {
	if err := o.Person.Validate(); err != nil {
		return nil, err
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.DenyIn == "" {
		o.DenyIn = DenyAuto
	}
	sp := &ScopePlan{Person: personLabel(o.Person), Undo: o.Undo, PolicyName: o.Person.Name(), Locations: []*Plan{}, sites: map[*Plan]Site{}}
	if !o.Undo {
		sp.Document = string(policy.Revoke(o.Policy, o.Person, o.Now).JSON())
	}
	var mu sync.Mutex
	roles := map[*Plan][]string{}
	locs := make([]scope.Location, len(sites))
	byLoc := map[scope.Location]Site{}
	for i, s := range sites {
		locs[i], byLoc[s.Location] = s.Location, s
	}
	fails := scope.Each(ctx, locs, lim, func(ctx context.Context, l scope.Location, _ func()) error {
		site := byLoc[l]
		p, r, err := planLocation(ctx, site, o)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		sp.Locations = append(sp.Locations, p)
		sp.sites[p] = Site{Location: *p.Location, Client: site.Client}
		roles[p] = r
		return nil
	})
	for _, f := range fails {
		sp.Failures = append(sp.Failures, LocationFailure{Location: f.Location, Error: f.Err.Error(), Err: f.Err})
	}
	sort.Slice(sp.Locations, func(a, b int) bool { return locLess(*sp.Locations[a].Location, *sp.Locations[b].Location) })
	if err := sp.planDeny(ctx, o, roles); err != nil {
		return nil, err
	}
	return sp, nil
}

func locLess(a, b scope.Location) bool {
	l := []scope.Location{b, a}
	scope.Sort(l)
	return l[0] == a && a != b
}

// planLocation plans one site: its account (asked of STS when the
// location does not say), the person's active sessions, the roles the
// person's sessions (active and past) name, and the instances.
func planLocation(ctx context.Context, site Site, o Options) (*Plan, []string, error) {
	c, l := site.Client, site.Location
	caller, err := c.CallerIdentity(ctx)
	if err != nil {
		return nil, nil, err
	}
	l.Account = firstNonEmpty(l.Account, caller.Account)
	p := &Plan{Person: personLabel(o.Person), Undo: o.Undo, PolicyName: o.Person.Name(), opts: o, Location: &l, Sessions: []awsapi.SessionInfo{}, Caller: caller.ARN}
	var roles []string
	for _, history := range []bool{false, true} {
		all, err := c.Sessions(ctx, history)
		if err != nil {
			return nil, nil, err
		}
		for _, s := range all {
			if !owns(o.Person, s.Owner) {
				continue
			}
			if r := roleOf(s.Owner); r != "" {
				roles = append(roles, r)
			}
			if !history && !o.Undo {
				p.Sessions = append(p.Sessions, s)
			}
		}
	}
	if err := p.planInstances(ctx, c); err != nil {
		return nil, nil, err
	}
	return p, roles, nil
}

// planDeny decides where the deny goes: the SCP, managed from the first
// account that can (unless o.DenyIn is DenyRole), and inline role denies
// in the accounts the SCP does not cover (all of them without one); each
// account's inline denies go on the plan of its first location.
func (sp *ScopePlan) planDeny(ctx context.Context, o Options, roles map[*Plan][]string) error {
	first := map[string]*Plan{}
	var accounts []string
	for _, p := range sp.Locations {
		if a := p.Location.Account; first[a] == nil {
			first[a] = p
			accounts = append(accounts, a)
		}
	}
	var scpErr error
	if o.DenyIn != DenyRole {
		for _, a := range accounts {
			p := first[a]
			c := sp.sites[p].Client
			root, err := c.OrgRoot(ctx)
			var scp awsapi.SCP
			found := false
			if err == nil {
				scp, found, err = c.FindSCP(ctx, sp.PolicyName)
			}
			if err != nil {
				scpErr = err
				continue
			}
			sp.DenyIn, sp.OrgRoot, sp.Management = DenySCP, root, a
			p.DenyIn, p.OrgRoot, p.Document = DenySCP, root, sp.Document
			if found {
				p.scpID = scp.ID
			}
			break
		}
		if sp.DenyIn == "" && o.DenyIn == DenySCP {
			if scpErr == nil {
				scpErr = errNoLocation
			}
			return &SCPUnavailableError{Err: scpErr}
		}
	}
	if sp.DenyIn == "" {
		sp.DenyIn = DenyRole
	}
	for _, p := range sp.Locations {
		if !o.Undo && owns(o.Person, p.Caller) {
			sp.Notes = append(sp.Notes, "in "+p.Location.String()+" you are "+p.Caller+", a session named like "+sp.Person+": the deny may refuse your own calls there (reach the account through a role that is not the person's)")
		}
	}
	for _, a := range accounts {
		var rs []string
		for _, p := range sp.Locations {
			if p.Location.Account == a {
				rs = append(rs, roles[p]...)
			}
		}
		rs = append(rs, o.Roles...)
		if r := roleOf(o.Person.PrincipalARN); r != "" && arnAccount(o.Person.PrincipalARN) == a {
			rs = append(rs, r)
		}
		sort.Strings(rs)
		rs = slices.Compact(rs)
		inline := sp.DenyIn == DenyRole || a == sp.Management || o.Undo
		p := first[a]
		switch {
		case !inline:
		case len(rs) > 0:
			p.Roles = rs
			p.Document = sp.Document
		case o.Undo:
		case a == sp.Management:
			sp.Notes = append(sp.Notes, "the management account "+a+" is exempt from service control policies and no role of "+sp.Person+" is known there: no inline deny is put in it")
		default:
			sp.Failures = append(sp.Failures, LocationFailure{Location: *p.Location, Error: (&NoRolesError{Person: sp.Person}).Error(), Err: &NoRolesError{Person: sp.Person}})
		}
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// errNoLocation: no location of the scope could be planned.
var errNoLocation = &noLocationError{}

type noLocationError struct{}

func (*noLocationError) Error() string { return "no location of the scope could be reached" }

// arnAccount is the account field of an ARN ("" when it has none).
func arnAccount(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 {
		return ""
	}
	return f[4]
}

// ScopeReport is what ApplyScope did: every result carries its location.
type ScopeReport struct {
	Plan    *ScopePlan `json:"plan"`
	Results []Result   `json:"results"`
}

// Failed reports how many steps failed, the locations that could not be
// planned included.
func (r *ScopeReport) Failed() int {
	n := len(r.Plan.Failures)
	for _, x := range r.Results {
		if x.Status == Failed {
			n++
		}
	}
	return n
}

// ApplyScope carries sp out: first the deny everywhere (the SCP, then
// each account's inline denies), then, in every location at once (at
// most lim's), the sessions and the instances. Failed steps are reported
// and the rest goes on; running it again finishes.
func ApplyScope(ctx context.Context, sp *ScopePlan, lim scope.Limits) *ScopeReport {
	rep := &ScopeReport{Plan: sp}
	reports := make([]*Report, len(sp.Locations))
	for i, p := range sp.Locations {
		reports[i] = &Report{Plan: p}
		reports[i].applyDeny(ctx, sp.sites[p].Client)
	}
	locs := make([]scope.Location, len(sp.Locations))
	index := map[scope.Location]int{}
	for i, p := range sp.Locations {
		locs[i], index[*p.Location] = *p.Location, i
	}
	scope.Each(ctx, locs, lim, func(ctx context.Context, l scope.Location, _ func()) error {
		i := index[l]
		r, c := reports[i], sp.sites[sp.Locations[i]].Client
		r.applySessions(ctx, c)
		r.applyInstances(ctx, c)
		return nil
	})
	for i, r := range reports {
		for _, x := range r.Results {
			x.Location = sp.Locations[i].Location
			rep.Results = append(rep.Results, x)
		}
	}
	return rep
}
