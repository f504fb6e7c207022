package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/scope"
)

// A scope is the set of (profile, region) locations a command searches
// instead of one (docs/scopes.md): --scope NAME|all, a --profile glob,
// --region all, or the config file's default_scope.

// scopeRequest is what the command line and the config file ask to search.
type scopeRequest struct {
	name    string             // the scope's name, or a description ("profiles prod-*")
	entries []clientconf.Scope // what to expand
	// withDefault adds the location jitssh uses without a scope (--scope all).
	withDefault bool
	// regions, if set, replaces every entry's regions (--region R, or a
	// target's .REGION suffix).
	regions []string
}

// scopeRequested returns the scope in effect, or nil for the one location
// of --profile and --region (or the environment's and the config's), as
// before scopes. The proxy a `jitssh ssh` started searches nothing: the
// hand-off names the profile and the region the instance was found in.
func (g *globals) scopeRequested() (*scopeRequest, error) {
	if g.handedOff {
		return nil, nil
	}
	conf, err := g.config()
	if err != nil {
		return nil, err
	}
	globProfile := strings.ContainsAny(g.profile, "*?")
	allRegions := g.region == clientconf.AllRegions
	name := g.scope
	switch {
	case name != "" && g.profile != "":
		return nil, fmt.Errorf("--scope %s and --profile %s: give one (a scope names its profiles)", name, g.profile)
	case name == "" && (globProfile || allRegions):
		p := firstOf(g.profile, os.Getenv("AWS_PROFILE"), conf.Profile, "default")
		if !clientconf.ValidProfileGlob(p) {
			return nil, fmt.Errorf("--profile %q: use letters, digits and _ . @ + -, with * and ? as wildcards", p)
		}
		return &scopeRequest{name: "profiles " + p, entries: []clientconf.Scope{{Name: p, Profiles: []string{p}, Regions: []string{g.region}}}}, nil
	case name == "":
		if g.profile != "" || g.region != "" || os.Getenv("AWS_PROFILE") != "" || conf.Scope == "" {
			return nil, nil
		}
		name = conf.Scope
	}
	req := &scopeRequest{name: name}
	if g.region != "" && !allRegions {
		req.regions = []string{g.region}
	}
	if name == clientconf.AllScopes {
		req.entries, req.withDefault = conf.Scopes, true
		return req, nil
	}
	for _, s := range conf.Scopes {
		if s.Name == name {
			req.entries = []clientconf.Scope{s}
			return req, nil
		}
	}
	return nil, &unknownScopeError{name: name, known: conf.ScopeNames(), path: conf.Path}
}

// unknownScopeError is a --scope that the config file does not define.
type unknownScopeError struct {
	name, path string
	known      []string
}

func (e *unknownScopeError) Error() string {
	if len(e.known) == 0 {
		return fmt.Sprintf("--scope %s: jitssh's config file defines no [[scope]] (add one, see docs/scopes.md, or use --scope all, --profile 'GLOB' or --region all)", e.name)
	}
	return fmt.Sprintf("--scope %s: no such scope in %s (defined: %s, and all)", e.name, firstOf(e.path, "jitssh's config"), strings.Join(e.known, ", "))
}

// scopeSearch is a scope expanded into locations, with a client for each.
type scopeSearch struct {
	g        *globals
	name     string
	locs     []scope.Location
	failures []scope.Failure // of the expansion (regions of "all", profiles without a region)

	mu      sync.Mutex
	clients map[string]*profileClient // by profile
	home    map[string]string         // the profiles' own regions (set by expand)
}

// expand turns a request into locations: each entry's profiles (globs
// over the AWS config files' profiles) times its regions (its own list;
// none: the profile's region, else jitssh's; "all": the account's enabled
// regions, asked of EC2 for each profile at once), without duplicates.
func (g *globals) expand(ctx context.Context, req *scopeRequest) (*scopeSearch, error) {
	s := g.newSearch(req)
	return s, s.expand(ctx, req)
}

// newSearch is a search of req, its locations not yet expanded.
func (g *globals) newSearch(req *scopeRequest) *scopeSearch {
	return &scopeSearch{g: g, name: req.name, clients: map[string]*profileClient{}}
}

// expand fills in s's locations (see globals.expand).
func (s *scopeSearch) expand(ctx context.Context, req *scopeRequest) error {
	g := s.g
	cfgFile, credsFile, err := scope.ConfigFiles()
	if err != nil {
		return err
	}
	profiles, err := scope.ReadProfiles(cfgFile, credsFile)
	if err != nil {
		return err
	}
	conf, err := g.config()
	if err != nil {
		return err
	}
	type want struct {
		p       scope.Profile
		regions []string
	}
	var wants []want
	if req.withDefault {
		p, err := g.profileName()
		if err != nil {
			return err
		}
		r, err := g.regionFor("")
		if err != nil {
			return err
		}
		wants = append(wants, want{p: profileOf(profiles, p), regions: []string{r}})
	}
	for _, e := range req.entries {
		ps := scope.Expand(profiles, e.Profiles)
		if e.SSOSession != "" {
			ps = s.ssoProfiles(ctx, e.SSOSession, conf.SSORoles)
		}
		for _, p := range ps {
			wants = append(wants, want{p: p, regions: e.Regions})
		}
	}
	s.home = map[string]string{}
	for _, w := range wants {
		s.home[w.p.Name] = w.p.Region
	}
	var all []scope.Profile
	seen := map[scope.Location]bool{}
	add := func(l scope.Location) {
		if !seen[l] {
			seen[l] = true
			s.locs = append(s.locs, l)
		}
	}
	for _, w := range wants {
		regions := w.regions
		if req.regions != nil {
			regions = req.regions
		}
		regions = nonEmpty(regions)
		switch {
		case len(regions) == 1 && regions[0] == clientconf.AllRegions:
			all = append(all, w.p)
			continue
		case len(regions) == 0:
			r := firstOf(w.p.Region, conf.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"))
			if r == "" {
				s.failures = append(s.failures, scope.Failure{Location: scope.Location{Profile: w.p.Name, Account: w.p.Account, Region: "-"}, Err: awsapi.ErrNoRegion})
				continue
			}
			regions = []string{r}
		}
		for _, r := range regions {
			add(scope.Location{Profile: w.p.Name, Account: w.p.Account, Region: r})
		}
	}
	for _, l := range s.enabledRegions(ctx, all, conf.Region) {
		add(l)
	}
	scope.Sort(s.locs)
	return nil
}

func nonEmpty(l []string) []string {
	var out []string
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// profileOf is the profile named p ("" is default), as the files say.
func profileOf(profiles []scope.Profile, p string) scope.Profile {
	name := firstOf(p, os.Getenv("AWS_PROFILE"))
	for _, x := range profiles {
		if x.Name == firstOf(name, "default") {
			return x
		}
	}
	return scope.Profile{Name: name}
}

// enabledRegions asks EC2, for each profile at once, which regions its
// account has enabled (DescribeRegions, in the profile's own region, else
// jitssh's, else us-east-1); a profile that cannot say is a failure.
func (s *scopeSearch) enabledRegions(ctx context.Context, profiles []scope.Profile, fallback string) []scope.Location {
	if len(profiles) == 0 {
		return nil
	}
	locs := make([]scope.Location, len(profiles))
	for i, p := range profiles {
		locs[i] = scope.Location{Profile: p.Name, Account: p.Account, Region: firstOf(p.Region, fallback, os.Getenv("AWS_REGION"), "us-east-1")}
	}
	var (
		mu  sync.Mutex
		out []scope.Location
	)
	fails := scope.Each(ctx, locs, scope.Limits{}, func(ctx context.Context, l scope.Location, _ func()) error {
		api, err := s.client(ctx, l)
		if err != nil {
			return err
		}
		regions, err := api.EnabledRegions(ctx)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range regions {
			out = append(out, scope.Location{Profile: l.Profile, Account: l.Account, Region: r})
		}
		return nil
	})
	s.failures = append(s.failures, fails...)
	return out
}

// client returns the AWS clients of a location: the profile's clients,
// made once per profile (its configuration read, its credentials got:
// one role session, MFA prompt or SSO check for all its regions), in the
// location's region.
func (s *scopeSearch) client(ctx context.Context, l scope.Location) (*awsapi.Client, error) {
	s.mu.Lock()
	pc := s.clients[l.Profile]
	if pc == nil {
		pc = &profileClient{}
		s.clients[l.Profile] = pc
	}
	s.mu.Unlock()
	// Made in the profile's own region when the files name one: its
	// credentials (a role's AssumeRole, say) come from that region's STS,
	// which a location in a region the account has not enabled would refuse.
	pc.once.Do(func() { pc.c, pc.err = s.g.apiAt(ctx, l.Profile, firstOf(s.home[l.Profile], l.Region)) })
	if pc.err != nil {
		return nil, pc.err
	}
	return pc.c.InRegion(l.Region), nil
}

// profileClient is one profile's clients, made once.
type profileClient struct {
	once sync.Once
	c    *awsapi.Client
	err  error
}

// apiAt builds the AWS clients of profile in region (a location of a
// scope), as g.api does for the one location of --profile and --region.
func (g *globals) apiAt(ctx context.Context, profile, region string) (*awsapi.Client, error) {
	if c, ok, err := g.ssoLabelAPI(ctx, profile, region); ok {
		return c, err
	}
	opts := awsapi.Options{Region: region, Profile: profile, MFACode: g.mfaCode, NoPrompt: g.noPrompt,
		BeforePrompt: func() { g.line.Load().Clear() }, ConfigFile: g.sharedAWSFile()}
	c, err := awsapi.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	return g.ssoReady(ctx, opts, c)
}

// locationCache is where jitssh remembers which location each instance
// was found in (scope.Cache): the user's cache directory, or the state
// directory of JITSSH_STATE_DIR.
func locationCache() *scope.Cache {
	dir := os.Getenv(envStateDir)
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil
		}
		dir = filepath.Join(cache, "jitssh")
	}
	return &scope.Cache{Path: filepath.Join(dir, "locations")}
}
