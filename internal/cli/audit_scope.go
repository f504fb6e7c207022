package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/jitssh/jitssh/internal/audit"
	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/scope"
)

// auditSources is what `jitssh audit` reads: a source per location, and
// the locations that could not be read at all (their clients, their
// regions of "all").
type auditSources struct {
	scopes   []audit.Scope
	where    map[string]scope.Location // by audit.Scope.Name
	failures []scope.Failure
}

// auditScopes builds audit's sources: the one location of --profile and
// --region, or every location of the scope in effect (--scope, a
// --profile glob, --region all; expanded as ls does), each with its
// account (the files', else GetCallerIdentity once a profile) so that
// LookupEvents is paced per account and region.
func (g *globals) auditScopes(ctx context.Context) (*auditSources, error) {
	req, err := g.scopeRequested()
	if err != nil {
		return nil, err
	}
	if req == nil {
		c, err := g.api(ctx, "")
		if err != nil {
			return nil, err
		}
		profile, _ := g.profileName()
		l := scope.Location{Profile: orDefaultProfile(profile), Region: c.Region}
		s := audit.Scope{Name: l.String(), Trail: c.AuditTrail(), Logs: c.AuditLogs(), Region: c.Region}
		return &auditSources{scopes: []audit.Scope{s}, where: map[string]scope.Location{s.Name: l}}, nil
	}
	s, err := g.expand(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &auditSources{where: map[string]scope.Location{}}
	var mu sync.Mutex
	accounts := &profileAccounts{m: map[string]*profileAccount{}}
	fails := scope.Each(ctx, s.locs, scope.Limits{}, func(ctx context.Context, l scope.Location, _ func()) error {
		api, err := s.client(ctx, l)
		if err != nil {
			return err
		}
		if l.Account == "" {
			// asked in the location's region: a region the account has
			// not enabled fails here, as it would for CloudTrail
			if l.Account, err = accounts.of(ctx, l.Profile+"\x00"+l.Region, api); err != nil {
				return err
			}
		}
		as := audit.Scope{Name: l.String(), Trail: api.AuditTrail(), Logs: api.AuditLogs(), Account: l.Account, Region: l.Region}
		mu.Lock()
		defer mu.Unlock()
		out.scopes = append(out.scopes, as)
		out.where[as.Name] = l
		return nil
	})
	out.failures = append(s.failures, fails...)
	if len(out.scopes) == 0 && len(out.failures) > 0 {
		errs := make([]error, len(out.failures))
		for i, f := range out.failures {
			errs[i] = &locationError{f}
		}
		return nil, fmt.Errorf("no location of scope %s could be read: %w", s.name, errors.Join(errs...))
	}
	return out, nil
}

// profileAccounts asks each location's account once (GetCallerIdentity).
type profileAccounts struct {
	mu sync.Mutex
	m  map[string]*profileAccount
}

type profileAccount struct {
	once    sync.Once
	account string
	err     error
}

func (p *profileAccounts) of(ctx context.Context, key string, api *awsapi.Client) (string, error) {
	p.mu.Lock()
	a := p.m[key]
	if a == nil {
		a = &profileAccount{}
		p.m[key] = a
	}
	p.mu.Unlock()
	a.once.Do(func() {
		c, err := api.CallerIdentity(ctx)
		if err != nil {
			a.err = err
			return
		}
		a.account = c.Account
	})
	return a.account, a.err
}

// auditFailures are the locations and sources audit could not read, each
// with its account, region and fix, as ls words them.
func auditFailures(src *auditSources, res *audit.Result) []string {
	var out, read []string
	for _, f := range src.failures {
		out = append(out, fmt.Sprintf("%s: %v; %s", f.Location, f.Err, locationFix(f)))
	}
	seen := map[string]bool{} // each stream of a source fails alike: once a source
	for _, se := range res.Errors {
		if seen[se.Scope+"\x00"+se.Source] {
			continue
		}
		seen[se.Scope+"\x00"+se.Source] = true
		l, ok := src.where[se.Scope]
		if !ok {
			read = append(read, auditSourceAdvice(se))
			continue
		}
		read = append(read, fmt.Sprintf("%s: %s: %v; %s", l, se.Source, se.Err, auditFix(l, se)))
	}
	slices.Sort(read)
	return append(out, read...)
}

// auditFix says what to do about a source audit could not read.
func auditFix(l scope.Location, se audit.SourceError) string {
	var api *awsapi.APIError
	profile := firstOf(l.Profile, "default")
	switch {
	case errors.As(se.Err, &api) && regionDisabled(api.Code):
		return locationFix(scope.Failure{Location: l, Err: se.Err})
	case errors.As(se.Err, &api) && strings.HasPrefix(api.Code, "AccessDenied"), strings.Contains(se.Err.Error(), "AccessDenied"):
		what := "cloudtrail:LookupEvents"
		if se.Source != "CloudTrail" {
			what = "logs:FilterLogEvents on the log group of --log-group"
		}
		return fmt.Sprintf("fix: profile %s may not call %s in this account: grant it (`jitssh policy auditor` prints a policy), or take the profile out of the scope", profile, what)
	case strings.Contains(se.Err.Error(), "ResourceNotFound"):
		return "fix: no such log group here: is jitssh-host shipping to CloudWatch Logs in this account and region? see --log-group and docs/audit.md"
	}
	return fmt.Sprintf("fix: check profile %s with `jitssh doctor --profile %s --region %s`", profile, profile, l.Region)
}

// writeAuditFailures lists on w what could not be read.
func writeAuditFailures(w io.Writer, fails []string, total int) {
	if len(fails) == 0 {
		return
	}
	fmt.Fprintf(w, "jitssh: warning: %d of %d sources not read; the timeline lacks them, and gaps they would show are not flagged:\n", len(fails), total)
	for _, f := range fails {
		fmt.Fprintf(w, "  %s\n", f)
	}
}
