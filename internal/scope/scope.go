// Package scope is where jitssh searches for instances when one account
// and one region are not enough (docs/scopes.md): a Location is one
// (profile, account, region) triple; Each runs a function over many
// locations at once, bounded in total, per account and per region, and
// collects what failed where (Failure) without stopping the rest; Cache
// remembers where each instance id was found (id → location, with a TTL)
// so that the next connection searches one location, re-verified by the
// normal lookup; Profiles reads the profile names of the AWS config files
// and expands globs over them.
package scope

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"sync"
)

// Location is one place instances live: an AWS profile (the credentials
// used there), the account it reaches (12 digits; "" until known) and a
// region.
type Location struct {
	Profile string `json:"profile"`
	Account string `json:"account,omitempty"`
	Region  string `json:"region"`
}

// String is "account/region (profile)", or "profile/region" while the
// account is unknown.
func (l Location) String() string {
	if l.Account == "" {
		return fmt.Sprintf("profile %s, %s", orDefault(l.Profile), l.Region)
	}
	return fmt.Sprintf("account %s, %s (profile %s)", l.Account, l.Region, orDefault(l.Profile))
}

func orDefault(p string) string {
	if p == "" {
		return "default"
	}
	return p
}

// accountKey groups locations by account: the account id, else the
// profile (two profiles of one unknown account are bounded apart).
func (l Location) accountKey() string {
	if l.Account != "" {
		return "a:" + l.Account
	}
	return "p:" + l.Profile
}

// Limits bound the calls Each makes at once.
type Limits struct {
	Total      int // in all; 0: DefaultLimits.Total
	PerAccount int // per account (AWS throttles per account and region); 0: default
	PerRegion  int // per region, across accounts; 0: default
}

// DefaultLimits suit a fleet of 50 accounts × 4 regions on a laptop: AWS
// throttles DescribeInstances per account and region, so a handful per
// account keeps every account under its bucket while many accounts run
// side by side.
var DefaultLimits = Limits{Total: 64, PerAccount: 4, PerRegion: 32}

// SearchLimits suit looking one target up everywhere (an id, a name):
// each answer is small and the first exact match ends the search, so
// every location of a 50 × 4 scope is asked at once but for a few
// (their client's setup, not the network, is what costs), still a handful
// per account for AWS's per-account, per-region throttling, and below
// macOS's default 256 open files.
var SearchLimits = Limits{Total: 128, PerAccount: 4, PerRegion: 128}

func (l Limits) withDefaults() Limits {
	if l.Total <= 0 {
		l.Total = DefaultLimits.Total
	}
	if l.PerAccount <= 0 {
		l.PerAccount = DefaultLimits.PerAccount
	}
	if l.PerRegion <= 0 {
		l.PerRegion = DefaultLimits.PerRegion
	}
	return l
}

// Failure is what failed in one location; the others went on.
type Failure struct {
	Location Location
	Err      error
}

func (f Failure) Error() string { return f.Location.String() + ": " + f.Err.Error() }

func (f Failure) Unwrap() error { return f.Err }

// Each calls fn for every location, at most lim's calls at once in total,
// per account and per region, and returns the failures sorted by
// location. fn's context is cancelled when ctx is, or when Stop is called
// from any fn (the first exact match found); locations not started by
// then are skipped, and their cancellation is no failure.
func Each(ctx context.Context, locs []Location, lim Limits, fn func(ctx context.Context, l Location, stop func()) error) []Failure {
	lim = lim.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	total := make(chan struct{}, lim.Total)
	var (
		mu       sync.Mutex
		accounts = map[string]chan struct{}{}
		regions  = map[string]chan struct{}{}
		failures []Failure
		wg       sync.WaitGroup
		stopped  bool
	)
	sem := func(m map[string]chan struct{}, k string, n int) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		c := m[k]
		if c == nil {
			c = make(chan struct{}, n)
			m[k] = c
		}
		return c
	}
	stop := func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		cancel()
	}
	for _, l := range locs {
		a, r := sem(accounts, l.accountKey(), lim.PerAccount), sem(regions, l.Region, lim.PerRegion)
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, ok := acquire(ctx, a, r, total)
			if !ok {
				return
			}
			defer release()
			err := fn(ctx, l, stop)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !(stopped && errors.Is(err, context.Canceled)) {
				failures = append(failures, Failure{Location: l, Err: err})
			}
		}()
	}
	wg.Wait()
	sort.Slice(failures, func(i, j int) bool { return less(failures[i].Location, failures[j].Location) })
	return failures
}

// acquire takes one slot of each semaphore in order (account, region,
// total: the same order everywhere, so no two callers deadlock), or none
// if ctx ends first.
func acquire(ctx context.Context, sems ...chan struct{}) (func(), bool) {
	var held []chan struct{}
	release := func() {
		for _, s := range held {
			<-s
		}
	}
	for _, s := range sems {
		if ctx.Err() != nil { // a select picks at random among ready cases
			release()
			return nil, false
		}
		select {
		case s <- struct{}{}:
			held = append(held, s)
		case <-ctx.Done():
			release()
			return nil, false
		}
	}
	if ctx.Err() != nil {
		release()
		return nil, false
	}
	return release, true
}

// less orders locations by account (else profile), then region.
func less(a, b Location) bool {
	if a.Account != b.Account {
		return a.Account < b.Account
	}
	if a.Profile != b.Profile {
		return a.Profile < b.Profile
	}
	return a.Region < b.Region
}

// Sort sorts locations by account, profile, region.
func Sort(locs []Location) {
	sort.Slice(locs, func(i, j int) bool { return less(locs[i], locs[j]) })
}

// Describe says what a list of locations covers: "3 accounts, 4 regions"
// (profiles counted where accounts are unknown).
func Describe(locs []Location) string {
	acc, reg := map[string]bool{}, map[string]bool{}
	for _, l := range locs {
		acc[l.accountKey()] = true
		reg[l.Region] = true
	}
	return fmt.Sprintf("%d %s, %d %s", len(acc), plural(len(acc), "account"), len(reg), plural(len(reg), "region"))
}

func plural(n int, w string) string {
	if n == 1 {
		return w
	}
	return w + "s"
}

// Match reports whether name matches a glob of * (any run) and ?
// (one character), as path.Match (profile names hold no '/'; the globs
// jitssh accepts hold no '[' or '\\').
func Match(glob, name string) bool {
	ok, err := path.Match(glob, name)
	return err == nil && ok
}
