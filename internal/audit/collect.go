package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LookupQuery is one LookupEvents stream: one lookup attribute (as
// LookupEvents allows) and a time range.
type LookupQuery struct {
	Attr, Value string // e.g. "Username", "alice"; "" for every event
	Start, End  time.Time
}

// LogQuery is one FilterLogEvents stream.
type LogQuery struct {
	Group      string
	Streams    []string // log stream names (instance ids); nil for all
	Pattern    string   // CloudWatch Logs filter pattern; "" for all
	Start, End time.Time
}

// Trail reads CloudTrail (LookupEvents), one page a call.
type Trail interface {
	LookupPage(ctx context.Context, q LookupQuery, token string) (events []TrailEvent, next string, err error)
}

// Logs reads the instance events (FilterLogEvents), one page a call.
type Logs interface {
	FilterPage(ctx context.Context, q LogQuery, token string) (events []HostEvent, next string, err error)
}

// Scope is one account and region: what to call it, and its sources.
type Scope struct {
	Name  string // e.g. "profile dev, us-west-2"
	Trail Trail
	Logs  Logs
	// Account and Region are where the scope reads: LookupEvents' limit
	// is per account and region, so scopes of one account and region
	// (two profiles of one account) share one Limiter. Account "" (not
	// known) gives the scope its own.
	Account, Region string
	// Limiter paces this scope's LookupEvents calls; nil means the one
	// Collect shares among the scopes of the same account and region
	// (NewLimiter(LookupEventsPerSecond)).
	Limiter *Limiter
}

// paceKey names the LookupEvents budget a scope draws on: its account and
// region, or the scope itself (its index) while its account is unknown.
func (s Scope) paceKey(i int) string {
	if s.Account == "" {
		return fmt.Sprintf("scope %d", i)
	}
	return s.Account + "/" + s.Region
}

// LookupEventsPerSecond is LookupEvents' limit per account and region.
const LookupEventsPerSecond = 2

// Limiter spaces calls evenly at a rate a second: each caller is let go
// at least an interval after the one before it was (callers queue). It is
// safe for concurrent use.
type Limiter struct {
	mu       sync.Mutex
	interval time.Duration
	last     time.Time
}

// NewLimiter returns a limiter of perSecond calls a second.
func NewLimiter(perSecond int) *Limiter {
	return &Limiter{interval: time.Second / time.Duration(perSecond)}
}

// Wait blocks until the caller may make its call.
func (l *Limiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := time.Until(l.last.Add(l.interval)); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	l.last = time.Now()
	return nil
}

// Stats count what Collect asked for.
type Stats struct {
	TrailPages   int64         `json:"cloudtrail_pages"`
	TrailEvents  int64         `json:"cloudtrail_events"`
	LogPages     int64         `json:"log_pages"`
	LogEvents    int64         `json:"log_events"`
	Elapsed      time.Duration `json:"elapsed_ns"`
	TrailElapsed time.Duration `json:"cloudtrail_elapsed_ns"`
	LogElapsed   time.Duration `json:"logs_elapsed_ns"`
}

// Request is what to collect.
type Request struct {
	Filter   Filter
	LogGroup string
}

// SourceError is a failure of one source of one scope.
type SourceError struct {
	Scope  string
	Source string // "CloudTrail" or "CloudWatch Logs"
	Err    error
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("%s in %s: %v", e.Source, e.Scope, e.Err)
}
func (e *SourceError) Unwrap() error { return e.Err }

// InvalidFilterError is a filter value that cannot be put in a query.
type InvalidFilterError struct{ Field, Value string }

func (e *InvalidFilterError) Error() string {
	return fmt.Sprintf("%s %q has a quote, backslash or control character", e.Field, e.Value)
}

// Result is a collected timeline.
type Result struct {
	Entries []Entry       `json:"entries"`
	Errors  []SourceError `json:"-"`
	Stats   Stats         `json:"stats"`
}

// trailPlan is the LookupEvents streams for f: by Username for a person
// (a principal's session name, or the OS user, which jitssh's just-in-time
// users share with the session name), by ResourceName for an instance,
// else one stream per tracked event name.
func trailPlan(f Filter) []LookupQuery {
	q := LookupQuery{Start: f.Since, End: f.Until}
	switch {
	case f.Principal != "":
		name := f.Principal
		if strings.Contains(name, ":") {
			name = SessionName(name)
		}
		if name != "" {
			q.Attr, q.Value = "Username", name
			return []LookupQuery{q}
		}
	case f.User != "":
		q.Attr, q.Value = "Username", f.User
		return []LookupQuery{q}
	case f.Instance != "":
		q.Attr, q.Value = "ResourceName", f.Instance
		return []LookupQuery{q}
	}
	var out []LookupQuery
	for _, n := range TrackedEvents {
		q.Attr, q.Value = "EventName", n
		out = append(out, q)
	}
	return out
}

// logPlan is the FilterLogEvents query for f: a JSON filter pattern on the
// OS user, or on the caller (with every login, which names no caller).
func logPlan(group string, f Filter) (LogQuery, error) {
	q := LogQuery{Group: group, Start: f.Since, End: f.Until}
	for _, v := range []struct{ field, value string }{{"user", f.User}, {"principal", f.Principal}, {"instance", f.Instance}} {
		if strings.ContainsAny(v.value, "\"\\\x00\n\r\t") {
			return q, &InvalidFilterError{Field: v.field, Value: v.value}
		}
	}
	if f.Instance != "" {
		q.Streams = []string{f.Instance}
	}
	switch {
	case f.User != "":
		q.Pattern = fmt.Sprintf(`{ $.os_user = "%s" }`, f.User)
	case f.Principal != "":
		q.Pattern = fmt.Sprintf(`{ $.caller = "%s" || $.caller = "*/%s" || $.event = "%s" || $.event = "%s" }`,
			f.Principal, SessionName(f.Principal), HostSessionOpened, HostSessionClosed)
		if !strings.Contains(f.Principal, ":") {
			q.Pattern = fmt.Sprintf(`{ $.caller = "*/%s" || $.event = "%s" || $.event = "%s" }`, f.Principal, HostSessionOpened, HostSessionClosed)
		}
	}
	return q, nil
}

// Collect reads every scope's CloudTrail and instance events for req at
// once (the scopes in parallel, and in each both sources), joins them and
// filters the timeline. A failing source is reported in Result.Errors and
// the rest is still joined; err is only for a request that cannot be made.
func Collect(ctx context.Context, scopes []Scope, req Request) (*Result, error) {
	lq, err := logPlan(req.LogGroup, req.Filter)
	if err != nil {
		return nil, err
	}
	c := &collector{start: time.Now(), req: req, lq: lq}
	var wg sync.WaitGroup
	limiters := map[string]*Limiter{}
	for i, s := range scopes {
		if s.Limiter == nil {
			k := s.paceKey(i)
			if limiters[k] == nil {
				limiters[k] = NewLimiter(LookupEventsPerSecond)
			}
			s.Limiter = limiters[k]
		}
		wg.Go(func() { c.scope(ctx, s) })
	}
	wg.Wait()
	st := c.st
	st.TrailPages, st.LogPages = c.tpages.Load(), c.lpages.Load()
	st.TrailEvents, st.LogEvents = int64(len(c.trail)), int64(len(c.host))
	res := &Result{Entries: Join(c.trail, c.host, req.Filter), Errors: c.errs, Stats: st}
	unflagUnread(res)
	res.Stats.Elapsed = time.Since(c.start)
	return res, nil
}

// collector gathers what the scopes return.
type collector struct {
	start          time.Time
	req            Request
	lq             LogQuery
	tpages, lpages atomic.Int64

	mu    sync.Mutex
	trail []TrailEvent
	host  []HostEvent
	errs  []SourceError
	st    Stats
}

func (c *collector) add(s Scope, src string, trail []TrailEvent, host []HostEvent, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trail = append(c.trail, trail...)
	c.host = append(c.host, host...)
	el := time.Since(c.start)
	if src == "CloudTrail" {
		c.st.TrailElapsed = max(c.st.TrailElapsed, el)
	} else {
		c.st.LogElapsed = max(c.st.LogElapsed, el)
	}
	if err != nil {
		c.errs = append(c.errs, SourceError{Scope: s.Name, Source: src, Err: err})
	}
}

// scope reads one scope: its LookupEvents streams and its log query at
// once, then the follow-up streams the instance events call for.
func (c *collector) scope(ctx context.Context, s Scope) {
	queried := map[string]bool{}
	var host []HostEvent
	var wg sync.WaitGroup
	var mu sync.Mutex
	var mine []TrailEvent
	lookup := func(q LookupQuery) {
		evs, err := lookupAll(ctx, s, q, &c.tpages)
		mu.Lock()
		mine = append(mine, evs...)
		mu.Unlock()
		c.add(s, "CloudTrail", evs, nil, err)
	}
	for _, q := range trailPlan(c.req.Filter) {
		queried[q.Attr+"="+q.Value] = true
		wg.Go(func() { lookup(q) })
	}
	if s.Logs != nil && c.req.LogGroup != "" {
		wg.Go(func() {
			evs, err := filterAll(ctx, s, c.lq, &c.lpages)
			host = evs
			c.add(s, "CloudWatch Logs", nil, evs, err)
		})
	}
	wg.Wait()
	// Callers the instances name whose records the first plan did not
	// ask for (a person whose session name is not the OS user): one more
	// Username stream each.
	for _, q := range followUps(c.req.Filter, host, queried) {
		wg.Go(func() { lookup(q) })
	}
	wg.Wait()
	// The person's sessions someone else ended (an administrator's
	// TerminateSession, a revocation), asked by the session's id when the
	// instances show an administrator acting on the person.
	for _, q := range sessionFollowUps(c.req.Filter, mine, host) {
		wg.Go(func() { lookup(q) })
	}
	wg.Wait()
	c.revocation(ctx, s, mine, host)
}

// revocation looks up the calls of a revocation of the filter's person
// (revoke.go) when the instances show someone acting on the person: the
// SendCommand calls of that time, then their callers' calls.
func (c *collector) revocation(ctx context.Context, s Scope, mine []TrailEvent, host []HostEvent) {
	start, end, instances, ok := revokeWindow(c.req.Filter, host)
	if !ok {
		return
	}
	sent, err := lookupAll(ctx, s, LookupQuery{Attr: "EventName", Value: "SendCommand", Start: start, End: end}, &c.tpages)
	if err != nil {
		c.add(s, "CloudTrail", nil, nil, err)
		return
	}
	commands, admins := revokeCommands(c.req.Filter, sent, instances)
	var wg sync.WaitGroup
	for _, a := range admins {
		wg.Go(func() {
			evs, err := lookupAll(ctx, s, LookupQuery{Attr: "Username", Value: a, Start: start, End: end}, &c.tpages)
			c.add(s, "CloudTrail", revokeCalls(c.req.Filter, evs, mine, commands), nil, err)
		})
	}
	wg.Wait()
	c.add(s, "CloudTrail", commands, nil, nil)
}

// MaxSessionFollowUps bounds the sessions whose end Collect looks up by
// session id (one LookupEvents page each), newest first.
const MaxSessionFollowUps = 10

// AdminEvents are the instance events of an administrator acting on a
// person (jitssh-host users kill, block, remove): the sign that the
// person's sessions may have been ended by someone else.
var AdminEvents = []string{"sessions-killed", "user-blocked", "user-removed"}

// sessionFollowUps are the ResourceName streams for the person's sessions
// that the person's own records do not end, when the instances show an
// administrator acting on the person; only a plan by Username has any.
func sessionFollowUps(f Filter, trail []TrailEvent, host []HostEvent) []LookupQuery {
	if f.User == "" && f.Principal == "" || !slices.ContainsFunc(host, func(h HostEvent) bool { return slices.Contains(AdminEvents, h.Event) }) {
		return nil
	}
	ended := map[string]bool{}
	for _, t := range trail {
		if t.Name == "TerminateSession" && t.ErrorCode == "" {
			ended[t.SessionID] = true
		}
	}
	var out []LookupQuery
	for _, t := range slices.Backward(trail) {
		if t.Name != "StartSession" || t.ErrorCode != "" || t.SessionID == "" || ended[t.SessionID] || len(out) == MaxSessionFollowUps {
			continue
		}
		ended[t.SessionID] = true
		out = append(out, LookupQuery{Attr: "ResourceName", Value: t.SessionID, Start: t.Time, End: f.Until})
	}
	return out
}

// unflagUnread drops the gaps a failed source makes up: with CloudTrail
// unread nothing is known to lack a record, with the logs unread no push
// is known to lack an instance event.
func unflagUnread(res *Result) {
	var drop []Gap
	for _, e := range res.Errors {
		switch e.Source {
		case "CloudTrail":
			drop = append(drop, GapNoTrail)
		default:
			drop = append(drop, GapNoInstance)
		}
	}
	if drop == nil {
		return
	}
	for i := range res.Entries {
		res.Entries[i].Gaps = slices.DeleteFunc(res.Entries[i].Gaps, func(g Gap) bool { return slices.Contains(drop, g) })
	}
}

// followUps are the Username streams for the callers of served keys that
// the plan's queries did not cover; only a plan by Username has any.
func followUps(f Filter, host []HostEvent, queried map[string]bool) []LookupQuery {
	var out []LookupQuery
	for _, h := range host {
		name := SessionName(h.Caller)
		if h.Event != HostKeyServed || name == "" || queried["Username="+name] || queried["EventName=SendSSHPublicKey"] {
			continue
		}
		if f.Principal != "" || f.User == "" {
			continue
		}
		queried["Username="+name] = true
		out = append(out, LookupQuery{Attr: "Username", Value: name, Start: f.Since, End: f.Until})
	}
	return out
}

func lookupAll(ctx context.Context, s Scope, q LookupQuery, pages *atomic.Int64) ([]TrailEvent, error) {
	var out []TrailEvent
	token := ""
	for {
		if err := s.Limiter.Wait(ctx); err != nil {
			return out, err
		}
		evs, next, err := s.Trail.LookupPage(ctx, q, token)
		pages.Add(1)
		if err != nil {
			return out, err
		}
		out = append(out, evs...)
		if next == "" {
			// oldest first: records of one second (CloudTrail's
			// precision) keep the order they happened in
			slices.Reverse(out)
			return out, nil
		}
		token = next
	}
}

func filterAll(ctx context.Context, s Scope, q LogQuery, pages *atomic.Int64) ([]HostEvent, error) {
	var out []HostEvent
	token := ""
	for {
		evs, next, err := s.Logs.FilterPage(ctx, q, token)
		pages.Add(1)
		if err != nil {
			return out, err
		}
		out = append(out, evs...)
		if next == "" {
			return out, nil
		}
		token = next
	}
}
