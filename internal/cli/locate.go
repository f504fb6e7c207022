package cli

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"sync"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/instances"
	"github.com/jitssh/jitssh/internal/scope"
	"github.com/jitssh/jitssh/internal/ssologin"
	"github.com/jitssh/jitssh/internal/targets"
)

// located is a target found across a scope: the instance, where, and the
// clients of that location, which everything after (key push, SSM, EICE,
// pins, doctor, tunnel, shell) uses.
type located struct {
	api  *awsapi.Client
	inst targets.Instance
	loc  scope.Location
}

// locate resolves spec across the scope in effect (or, for a target
// pinned to an account, .REGION.ACCOUNT, across the profiles reaching
// that account), or returns nil when neither applies: the caller resolves
// in its one location as before. A cached location of an instance id is
// looked at first, with the normal lookup (the cache is never trusted);
// else every location is searched at once: an id's first match wins,
// other targets collect every match, several being ambiguous (choose
// picks, if not nil). Locations that failed do not stop the search; they
// are warnings when something was found (a name: the failed location
// might have matched too), and listed in the error when nothing was.
func (g *globals) locate(ctx context.Context, spec targets.Spec, choose targets.Chooser) (*located, error) {
	req, err := g.scopeRequested()
	if err != nil {
		return nil, err
	}
	if req == nil && spec.Account == "" {
		return nil, nil
	}
	if req == nil {
		req = &scopeRequest{name: "account " + spec.Account, entries: accountEntries()}
	}
	if spec.Region != "" {
		req.regions = []string{spec.Region}
	}
	// The cache first: before the scope is expanded (no AWS config read,
	// no DescribeRegions for a scope of "all" regions).
	s, cache := g.newSearch(req), locationCache()
	if l, ok := g.cachedLocation(ctx, s, req, cache, spec); ok {
		return l, nil
	}
	if err := s.expand(ctx, req); err != nil {
		return nil, err
	}
	if spec.Account != "" {
		s.locs = inAccount(s.locs, spec.Account)
	}
	found, fails := s.search(ctx, spec)
	fails = append(s.failures, fails...)
	l, err := s.pick(ctx, spec, found, fails, choose)
	if err != nil {
		return nil, err
	}
	if err := cache.Put(map[string]scope.Location{l.inst.ID: l.loc}); err != nil {
		g.logger().Info("could not remember where the instance is", "err", err)
	}
	return l, nil
}

// accountEntries is every profile of the AWS config files, in their own
// regions: what a target pinned to an account searches without a scope
// (narrowed to the profiles known to reach the account, or not known).
func accountEntries() []clientconf.Scope {
	return []clientconf.Scope{{Name: "profiles", Profiles: []string{"*"}}}
}

// inAccount keeps the locations known to be in account a; if there are
// none, those of an account not known before asking (the instance's
// owner then decides), so that a pinned target asks no other account.
func inAccount(locs []scope.Location, a string) []scope.Location {
	var known, unknown []scope.Location
	for _, l := range locs {
		switch l.Account {
		case a:
			known = append(known, l)
		case "":
			unknown = append(unknown, l)
		}
	}
	if len(known) > 0 {
		return known
	}
	return unknown
}

// cachedLocation looks for an instance id where the cache says it was
// found, if that fits the target's pins; the lookup there decides.
func (g *globals) cachedLocation(ctx context.Context, s *scopeSearch, req *scopeRequest, cache *scope.Cache, spec targets.Spec) (*located, bool) {
	if spec.Kind != targets.KindInstanceID && spec.Kind != targets.KindManagedID {
		return nil, false
	}
	loc, ok := cache.Get(spec.Value)
	if !ok || (spec.Account != "" && loc.Account != spec.Account) || (spec.Region != "" && loc.Region != spec.Region) || !req.covers(loc) {
		return nil, false
	}
	api, err := s.client(ctx, loc)
	if err == nil {
		var found []targets.Instance
		found, err = targets.Candidates(ctx, instances.Lookup{API: api}, spec)
		if err == nil && len(found) == 1 && found[0].ID == spec.Value {
			in := found[0]
			in.Region = loc.Region
			in.Account = firstOf(in.Account, loc.Account)
			return &located{api: api, inst: in, loc: loc}, true
		}
	}
	g.logger().Info("cached location did not answer; searching the scope", "instance", spec.Value, "location", loc.String(), "err", err)
	if err == nil {
		cache.Forget(spec.Value)
	}
	return nil, false
}

// match is one instance a location answered with.
type match struct {
	inst targets.Instance
	loc  scope.Location
	api  *awsapi.Client
}

// search asks every location for spec at once; an id's first match stops
// the rest.
func (s *scopeSearch) search(ctx context.Context, spec targets.Spec) ([]match, []scope.Failure) {
	byID := spec.Kind == targets.KindInstanceID || spec.Kind == targets.KindManagedID
	// Short and allocation-heavy (a client per profile): less GC, as ls.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	var (
		mu    sync.Mutex
		found []match
	)
	fails := scope.Each(ctx, s.locs, scope.SearchLimits, func(ctx context.Context, l scope.Location, stop func()) error {
		api, err := s.client(ctx, l)
		if err != nil {
			return err
		}
		var warned []error
		lookup := instances.Lookup{API: api, Warn: func(err error) { warned = append(warned, err) }}
		got, err := targets.Candidates(ctx, lookup, spec)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, in := range got {
			in.Region = l.Region
			in.Account = firstOf(in.Account, l.Account)
			if spec.Account != "" && in.Account != spec.Account {
				continue // a profile of another account
			}
			found = append(found, match{inst: in, loc: scope.Location{Profile: l.Profile, Account: in.Account, Region: l.Region}, api: api})
		}
		if byID && len(found) > 0 {
			stop()
		}
		return errors.Join(warned...)
	})
	return dedupe(found), fails
}

// dedupe keeps one match per instance (two profiles may reach the same
// account: the first by profile name wins), sorted by account, region, id.
func dedupe(found []match) []match {
	sort.Slice(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if a.inst.ID != b.inst.ID {
			return a.inst.ID < b.inst.ID
		}
		return a.loc.Profile < b.loc.Profile
	})
	var out []match
	for i, m := range found {
		if i > 0 && found[i-1].inst.ID == m.inst.ID && found[i-1].inst.Account == m.inst.Account && found[i-1].inst.Region == m.inst.Region {
			continue
		}
		out = append(out, m)
	}
	return out
}

// pick decides among the matches: none is a NotFoundError saying what
// was searched (and what could not be), one is it, several are for
// choose or an AmbiguousError listing them with their account and region.
func (s *scopeSearch) pick(ctx context.Context, spec targets.Spec, found []match, fails []scope.Failure, choose targets.Chooser) (*located, error) {
	where := fmt.Sprintf("scope %s (%s)", s.name, scope.Describe(s.locs))
	var m match
	switch len(found) {
	case 0:
		return nil, &scopeNotFoundError{NotFoundError: targets.NotFoundError{Spec: spec, Where: where}, failures: fails}
	case 1:
		m = found[0]
	default:
		insts := make([]targets.Instance, len(found))
		for i, f := range found {
			insts[i] = f.inst
		}
		if choose == nil {
			return nil, &targets.AmbiguousError{Spec: spec, Matches: insts}
		}
		in, err := choose(ctx, spec, insts)
		if err != nil {
			return nil, err
		}
		for _, f := range found {
			if f.inst.ID == in.ID && f.inst.Account == in.Account && f.inst.Region == in.Region {
				m = f
			}
		}
	}
	for _, f := range fails {
		if spec.Kind != targets.KindInstanceID && spec.Kind != targets.KindManagedID {
			s.g.warn(&locationError{f})
		} else {
			s.g.logger().Info("location not searched", "location", f.Location.String(), "err", f.Err)
		}
	}
	if m.inst.State != "" && m.inst.State != "running" {
		return nil, fmt.Errorf("instance %s (%s) in %s is %s, not running: start it first", m.inst.ID, m.inst.Name, m.loc, m.inst.State)
	}
	return &located{api: m.api, inst: m.inst, loc: m.loc}, nil
}

// scopeNotFoundError is a target no location of a scope has, with the
// locations that could not be searched.
type scopeNotFoundError struct {
	targets.NotFoundError
	failures []scope.Failure
}

func (e *scopeNotFoundError) Unwrap() error { return &e.NotFoundError }

func (e *scopeNotFoundError) Error() string {
	msg := e.NotFoundError.Error()
	if len(e.failures) > 0 {
		msg += fmt.Sprintf("; %d %s not searched (below)", len(e.failures), "location"+plural(len(e.failures)))
	}
	return msg
}

// locationError is one location of a scope that could not be searched.
type locationError struct{ scope.Failure }

func (e *locationError) Unwrap() error { return e.Failure.Err }

// scopeAdvice is the advice of a search across a scope: each location
// that could not be searched, with what to do about it.
func scopeAdvice(err error) (string, bool) {
	var (
		nf  *scopeNotFoundError
		loc *locationError
	)
	switch {
	case errors.As(err, &nf):
		s := ""
		if nf.ByID() {
			s = "\n  Is the id right, and is its account and region in the scope? `jitssh ls --scope " + scopeWord(nf.Where) + "` lists what the scope reaches"
		}
		for _, f := range nf.failures {
			s += "\n  not searched: " + failureText(f)
		}
		return s, true
	case errors.As(err, &loc):
		return "\n  " + locationFix(loc.Failure), true
	}
	return "", false
}

// scopeWord is the scope's name from a NotFoundError's Where.
func scopeWord(where string) string {
	var name string
	if _, err := fmt.Sscanf(where, "scope %s", &name); err != nil || name == "" {
		return "all"
	}
	return name
}

// failureText is one location that could not be searched, and its fix.
func failureText(f scope.Failure) string {
	return fmt.Sprintf("%s: %v\n    %s", f.Location, f.Err, locationFix(f))
}

// locationFix says what to do about a location that could not be searched.
func locationFix(f scope.Failure) string {
	if fix := ssoFix(f); fix != "" {
		return fix
	}
	var api *awsapi.APIError
	switch {
	case errors.Is(f.Err, awsapi.ErrNoRegion):
		return fmt.Sprintf("fix: set region in profile %s, or regions = [...] in the [[scope]] (\"all\": every enabled region)", f.Location.Profile)
	case errors.As(f.Err, &api) && regionDisabled(api.Code) && api.Action == "ec2:DescribeRegions":
		// asked in the profile's own region: the credentials, not the region
		return fmt.Sprintf("fix: AWS refused the credentials of profile %s: check them with `jitssh doctor --profile %s` (a role session cached for another account or sandbox is refused too)", firstOf(f.Location.Profile, "default"), firstOf(f.Location.Profile, "default"))
	case errors.As(f.Err, &api) && regionDisabled(api.Code):
		return fmt.Sprintf("fix: %s is not enabled for this account: enable it (AWS console, Account, AWS Regions) or take it out of the scope's regions (regions = [\"all\"] searches only enabled regions)", f.Location.Region)
	case errors.As(f.Err, &api) && (api.Code == "AccessDenied" || api.Code == "UnauthorizedOperation" || api.Code == "AccessDeniedException"):
		return fmt.Sprintf("fix: profile %s may not call %s in this account: grant it (`jitssh policy user` prints a policy), or take the profile out of the scope", firstOf(f.Location.Profile, "default"), api.Action)
	}
	return "fix: " + firstOf(trimAdvice(adviceLines(f.Err)), fmt.Sprintf("check profile %s with `jitssh doctor --profile %s --region %s`", firstOf(f.Location.Profile, "default"), firstOf(f.Location.Profile, "default"), f.Location.Region))
}

// regionDisabled: the codes AWS answers with in a region the account has
// not opted in to.
func regionDisabled(code string) bool {
	switch code {
	case "OptInRequired", "AuthFailure", "UnrecognizedClientException", "InvalidClientTokenId":
		return true
	}
	return false
}

func trimAdvice(s string) string {
	for len(s) > 0 && (s[0] == '\n' || s[0] == ' ') {
		s = s[1:]
	}
	return s
}

// targetAPI returns the clients for spec: of the location a search across
// the scope found it in (with the instance: l), else of the one location
// of --profile and --region (l nil: the caller resolves there).
func (g *globals) targetAPI(ctx context.Context, spec targets.Spec, choose targets.Chooser) (*awsapi.Client, *located, error) {
	l, err := g.locate(ctx, spec, choose)
	if err != nil {
		return nil, nil, err
	}
	if l != nil {
		return l.api, l, nil
	}
	api, err := g.api(ctx, spec.Region)
	return api, nil, err
}

// spec is the target as found: its instance id, in its region (the user
// and the account kept).
func (l *located) spec(sp targets.Spec) targets.Spec {
	kind := targets.KindInstanceID
	if l.inst.Managed {
		kind = targets.KindManagedID
	}
	return targets.Spec{User: sp.User, Kind: kind, Value: l.inst.ID, Region: l.loc.Region, Account: sp.Account}
}

// covers reports whether a location is one the request would search, as
// far as the request says without reading any file: a profile matching
// an entry's globs in one of its regions (any region for "all" or none).
// The scope "all" covers the location jitssh uses without a scope too.
func (r *scopeRequest) covers(l scope.Location) bool {
	if r.withDefault {
		return true
	}
	for _, e := range r.entries {
		regions := r.regions
		if regions == nil {
			regions = nonEmpty(e.Regions)
		}
		inRegion := len(regions) == 0 || regions[0] == clientconf.AllRegions || contains(regions, l.Region)
		if ref, ok := ssologin.ParseRef(l.Profile); ok && e.SSOSession != "" {
			if inRegion && ref.Session == e.SSOSession && ref.Account == l.Account {
				return true
			}
			continue
		}
		for _, g := range e.Profiles {
			if inRegion && scope.Match(g, firstOf(l.Profile, "default")) {
				return true
			}
		}
	}
	return false
}
