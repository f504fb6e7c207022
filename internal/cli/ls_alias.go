package cli

import (
	"context"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/scope"
)

// ls over a scope shows each account's IAM alias in its ACCOUNT column
// (the id when the account has none, or it could not be asked). The
// aliases are asked as ls starts, once per account
// (iam:ListAccountAliases), alongside the listing: an account's
// credentials are got once for both (scopeSearch.client), and the one
// call is cheaper than any location's listing. The table's columns have
// fixed widths so that streamed rows align, and the ACCOUNT column's is
// the widest alias's: the first rows wait (buffered, not holding up the
// listing) until every account answered, at most lsAliasWait from the
// start. An alias that comes later is not used: that account shows its
// id, the table stays aligned. A denied or failed lookup is no warning
// (ls's job is the instances; -v logs it).

// lsAliasWait bounds how long ls's first rows wait for the accounts'
// aliases (a variable for tests).
var lsAliasWait = 2 * time.Second

// lsAliases are the accounts' aliases of one ls run.
type lsAliases struct {
	// ready is closed when every account answered, or at lsAliasWait;
	// byKey is frozen then.
	ready  chan struct{}
	mu     sync.Mutex
	frozen bool
	byKey  map[string]string // aliasKey → alias
}

// aliasKey is whose alias a location's rows show: its account's when the
// AWS files say which account the profile is in, else its profile's (the
// account that profile reaches).
func aliasKey(l scope.Location) string {
	if l.Account != "" {
		return "account " + l.Account
	}
	return "profile " + firstOf(l.Profile, "default")
}

// iamRegion is the region IAM's global endpoint signs for.
const iamRegion = "us-east-1"

// aliasLocations returns, for each account of s (aliasKey), where to ask
// its alias: in its profile's own region, else in us-east-1 when the
// scope lists it there, else in its first location's region. On AWS any
// region's client reaches IAM's one endpoint, but an endpoint URL signs
// for the client's region, which the account must have enabled.
func aliasLocations(s *scopeSearch) []scope.Location {
	var out []scope.Location
	at := map[string]int{}
	for _, l := range s.locs {
		k := aliasKey(l)
		i, seen := at[k]
		switch {
		case !seen:
			at[k] = len(out)
			out = append(out, scope.Location{Profile: l.Profile, Account: l.Account, Region: firstOf(s.home[l.Profile], l.Region)})
		case l.Region == iamRegion && s.home[out[i].Profile] == "":
			out[i].Region = iamRegion
		}
	}
	return out
}

// startLsAliases asks every account of s for its alias (aliasLocations).
func startLsAliases(ctx context.Context, s *scopeSearch, wait time.Duration) *lsAliases {
	a := &lsAliases{ready: make(chan struct{}), byKey: map[string]string{}}
	locs := aliasLocations(s)
	timer := time.AfterFunc(wait, a.freeze)
	go func() {
		defer a.freeze()
		defer timer.Stop()
		fails := scope.Each(ctx, locs, scope.Limits{}, func(ctx context.Context, l scope.Location, _ func()) error {
			api, err := s.client(ctx, l)
			if err != nil {
				return err
			}
			alias, err := api.AccountAlias(awsapi.Secondary(ctx))
			if err != nil {
				return err
			}
			if validAlias(alias) {
				a.set(aliasKey(l), alias)
			}
			return nil
		})
		if ctx.Err() != nil {
			return // ls is over
		}
		for _, f := range fails {
			s.g.logger().Info("account alias not shown", "location", f.Location.String(), "err", f.Err)
		}
	}()
	return a
}

func (a *lsAliases) set(key, alias string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.frozen {
		a.byKey[key] = alias
	}
}

// freeze ends the wait: the aliases known now are the run's.
func (a *lsAliases) freeze() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.frozen {
		a.frozen = true
		close(a.ready)
	}
}

// of returns the alias of key's account ("" for none), once ready.
func (a *lsAliases) of(key string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byKey[key]
}

// all returns every alias known, once ready.
func (a *lsAliases) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.byKey))
	for _, v := range a.byKey {
		out = append(out, v)
	}
	return out
}

// validAlias reports whether s has the shape of an IAM account alias (3
// to 63 lowercase letters, digits and hyphens, neither first nor last,
// no two in a row): anything else an endpoint answers is not shown.
func validAlias(s string) bool {
	if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}
