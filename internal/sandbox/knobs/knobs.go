// Package knobs owns the sandbox's API latency, throttling and failure
// rules: their text form (what the configuration file, `jitssh-sandbox up
// --latency --throttle --fail`, the admin endpoints and `jitssh-sandbox
// ctl` accept), their
// validation, and the per-call decision the API handler asks for. A Table
// is safe for concurrent use and changes at run time.
//
// Rules are keyed by API: "ec2:DescribeInstances" (signing name and
// operation), "ssm:*" (every operation of a service) or "*" (every API);
// the most specific key wins. Latency values are Go durations ("200ms").
// Throttle values are a probability ("25%" or "0.25"), a rate ("5/s",
// "30/m": a token bucket holding one second's worth, at least one token,
// like AWS's per-API buckets) or a count ("next:3": the next three calls,
// then none, for deterministic tests) or a period ("for:2m": every call
// for that long from when the rule is set, then none: an outage). Fail rules take the throttle forms
// and make the calls they pick fail as a service failing inside does
// (HTTP 500, the service's internal-error code), which the SDKs retry as
// transient.
//
// Rate rules count per scope (DecideIn, FailedIn): the sandbox's API
// handler passes the (account, region) of the call, as AWS's buckets are
// per account and region; the other forms are shared by every scope.
package knobs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Services are the signing names of the signed APIs the sandbox serves,
// and IAM Identity Center's sso (the portal API) and sso-oauth (OIDC), as
// CloudTrail names them; an API key must name one of them.
var Services = []string{"ec2", "ec2-instance-connect", "ssm", "sts", "sso", "sso-oauth", "logs"}

// MaxLatency bounds a latency rule (a sandbox that never answers helps no
// one; use the data-channel faults for stalls).
const MaxLatency = 60 * time.Second

// MaxRules bounds each table.
const MaxRules = 256

var opPattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,127}$`)

// ParseAPI checks an API key: "*", "SERVICE:*" or "SERVICE:Operation".
func ParseAPI(key string) error {
	if key == "*" {
		return nil
	}
	svc, op, ok := strings.Cut(key, ":")
	if !ok {
		return fmt.Errorf("API %q: want SERVICE:Operation (e.g. ec2:DescribeInstances), SERVICE:* or *", key)
	}
	known := false
	for _, s := range Services {
		known = known || s == svc
	}
	if !known {
		return fmt.Errorf("API %q: unknown service %q (want one of %s)", key, svc, strings.Join(Services, ", "))
	}
	if op != "*" && !opPattern.MatchString(op) {
		return fmt.Errorf("API %q: operation %q is not an operation name like DescribeInstances", key, op)
	}
	return nil
}

// ParseLatency parses a latency value: a Go duration from 0 to MaxLatency.
func ParseLatency(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("latency %q: want a duration like 200ms or 1.5s", s)
	}
	if d < 0 || d > MaxLatency {
		return 0, fmt.Errorf("latency %q: want 0 to %v", s, MaxLatency)
	}
	return d, nil
}

// Throttle is one parsed throttling rule.
type Throttle struct {
	// Probability throttles each call with this probability (0-1).
	Probability float64
	// PerSecond, when > 0, is the refill rate of a token bucket of
	// Burst tokens; a call finding it empty is throttled.
	PerSecond float64
	Burst     float64
	// Count, when > 0, throttles that many calls, then none.
	Count int
	// For, when > 0, throttles every call for this long from when the
	// rule is installed, then none.
	For time.Duration

	text string
}

// String returns the rule in its text form.
func (t Throttle) String() string { return t.text }

// ParseThrottle parses a throttle value (see the package doc).
func ParseThrottle(s string) (Throttle, error) { return parseRule("throttle", s) }

// parseRule parses a rule of the throttle forms; kind names it in errors.
func parseRule(kind, s string) (Throttle, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (Throttle, error) {
		return Throttle{}, fmt.Errorf("%s %q: %s (want a probability like 25%% or 0.25, a rate like 5/s or 30/m, next:N or for:DURATION)", kind, s, why)
	}
	switch {
	case strings.HasPrefix(s, "next:"):
		n, err := strconv.Atoi(s[len("next:"):])
		if err != nil || n < 1 || n > 1_000_000 {
			return bad("the count must be 1 to 1000000")
		}
		return Throttle{Count: n, text: s}, nil
	case strings.HasPrefix(s, "for:"):
		d, err := time.ParseDuration(s[len("for:"):])
		if err != nil || d <= 0 || d > 24*time.Hour {
			return bad("the period must be a duration from 1ns to 24h, like for:2m")
		}
		return Throttle{For: d, text: s}, nil
	case strings.HasSuffix(s, "/s") || strings.HasSuffix(s, "/m"):
		n, err := strconv.ParseFloat(s[:len(s)-2], 64)
		if err != nil || math.IsNaN(n) || n <= 0 || n > 1e6 {
			return bad("the rate must be a number above 0")
		}
		per := n
		if strings.HasSuffix(s, "/m") {
			per = n / 60
		}
		return Throttle{PerSecond: per, Burst: math.Max(1, math.Ceil(per)), text: s}, nil
	case strings.HasSuffix(s, "%"):
		p, err := strconv.ParseFloat(s[:len(s)-1], 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return bad("the percentage must be 0 to 100")
		}
		return Throttle{Probability: p / 100, text: s}, nil
	}
	p, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(p) || p < 0 || p > 1 || !strings.Contains(s, ".") && p != 0 {
		return bad("not understood")
	}
	return Throttle{Probability: p, text: s}, nil
}

// ParseAssignments splits "API=VALUE" arguments (flags, the CLI) into a
// map, refusing duplicates and malformed ones.
func ParseAssignments(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q: want API=VALUE, e.g. ec2:DescribeInstances=200ms", a)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s is given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// CheckLatency validates a latency table without installing it.
func CheckLatency(rules map[string]string) error {
	_, err := compileLatency(rules)
	return err
}

// CheckThrottle validates a throttle table without installing it.
func CheckThrottle(rules map[string]string) error {
	_, err := compileThrottle(rules)
	return err
}

func compileLatency(rules map[string]string) (map[string]time.Duration, error) {
	if len(rules) > MaxRules {
		return nil, fmt.Errorf("%d latency rules, at most %d", len(rules), MaxRules)
	}
	out := make(map[string]time.Duration, len(rules))
	for _, k := range sortedKeys(rules) {
		if err := ParseAPI(k); err != nil {
			return nil, err
		}
		d, err := ParseLatency(rules[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = d
	}
	return out, nil
}

// CheckFail validates a fail table without installing it.
func CheckFail(rules map[string]string) error {
	_, err := compileFail(rules)
	return err
}

func compileFail(rules map[string]string) (map[string]*bucket, error) {
	return compileBuckets("fail", rules)
}

func compileThrottle(rules map[string]string) (map[string]*bucket, error) {
	return compileBuckets("throttle", rules)
}

// compileBuckets compiles a table of rules of the throttle forms.
func compileBuckets(kind string, rules map[string]string) (map[string]*bucket, error) {
	if len(rules) > MaxRules {
		return nil, fmt.Errorf("%d %s rules, at most %d", len(rules), kind, MaxRules)
	}
	out := make(map[string]*bucket, len(rules))
	for _, k := range sortedKeys(rules) {
		if err := ParseAPI(k); err != nil {
			return nil, err
		}
		t, err := parseRule(kind, rules[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = &bucket{rule: t, tokens: t.Burst, left: t.Count}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// bucket is a throttle rule's state.
type bucket struct {
	rule   Throttle
	tokens float64   // rate rules, scope ""
	last   time.Time // last refill
	left   int       // count rules: calls still to throttle
	until  time.Time // period rules: the end of the period
	// scoped are rate rules' buckets of other scopes (DecideIn).
	scoped map[string]*rate
}

// rate is a rate rule's bucket in one scope.
type rate struct {
	tokens float64
	last   time.Time
}

// Table holds the latency and throttle rules in force. The zero value has
// none.
type Table struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	latency  map[string]time.Duration
	latText  map[string]string
	throttle map[string]*bucket
	fail     map[string]*bucket
}

// SetLatency replaces the latency rules; on error nothing changes.
func (t *Table) SetLatency(rules map[string]string) error {
	c, err := compileLatency(rules)
	if err != nil {
		return err
	}
	text := make(map[string]string, len(c))
	for k, d := range c {
		text[k] = d.String()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latency, t.latText = c, text
	return nil
}

// SetThrottle replaces the throttle rules (their state starts afresh); on
// error nothing changes.
func (t *Table) SetThrottle(rules map[string]string) error {
	c, err := compileThrottle(rules)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.startPeriods(c)
	t.throttle = c
	return nil
}

// startPeriods starts the periods of m's period rules now (t.mu held).
func (t *Table) startPeriods(m map[string]*bucket) {
	now := t.now()
	for _, b := range m {
		if b.rule.For > 0 {
			b.until = now.Add(b.rule.For)
		}
	}
}

func (t *Table) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Latency returns the latency rules in force, in text form.
func (t *Table) Latency() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]string, len(t.latText))
	for k, v := range t.latText {
		out[k] = v
	}
	return out
}

// SetFail replaces the fail rules (their state starts afresh); on error
// nothing changes.
func (t *Table) SetFail(rules map[string]string) error {
	c, err := compileFail(rules)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.startPeriods(c)
	t.fail = c
	return nil
}

// Throttle returns the throttle rules in force, in text form; a count rule
// shows the calls it still throttles ("next:2"), a spent one "next:0".
func (t *Table) Throttle() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bucketsText(t.throttle)
}

// Fail returns the fail rules in force, in text form, as Throttle does.
func (t *Table) Fail() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bucketsText(t.fail)
}

func bucketsText(m map[string]*bucket) map[string]string {
	out := make(map[string]string, len(m))
	for k, b := range m {
		if b.rule.Count > 0 {
			out[k] = "next:" + strconv.Itoa(b.left)
			continue
		}
		out[k] = b.rule.text
	}
	return out
}

// lookup returns the most specific key of m for service and op.
func lookup[V any](m map[string]V, service, op string) (V, bool) {
	for _, k := range []string{service + ":" + op, service + ":*", "*"} {
		if v, ok := m[k]; ok {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// Decide returns how long to delay a call to service:op and whether to
// throttle it. Each call counts against its throttle rule.
func (t *Table) Decide(service, op string) (delay time.Duration, throttled bool) {
	return t.DecideIn("", service, op)
}

// DecideIn is Decide for a call in scope (e.g. "ACCOUNT/REGION"): rate
// rules keep a bucket per scope.
func (t *Table) DecideIn(scope, service, op string) (delay time.Duration, throttled bool) {
	if t == nil {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delay, _ = lookup(t.latency, service, op)
	return delay, t.take(t.throttle, scope, service, op)
}

// Failed reports whether a call to service:op is to fail (a fail rule
// picks it). Each call counts against its fail rule.
func (t *Table) Failed(service, op string) bool { return t.FailedIn("", service, op) }

// FailedIn is Failed for a call in scope (see DecideIn).
func (t *Table) FailedIn(scope, service, op string) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.take(t.fail, scope, service, op)
}

// take applies the rule of m for service:op to one call (t.mu held).
func (t *Table) take(m map[string]*bucket, scope, service, op string) bool {
	b, ok := lookup(m, service, op)
	if !ok {
		return false
	}
	switch r := b.rule; {
	case r.Count > 0:
		if b.left > 0 {
			b.left--
			return true
		}
	case r.For > 0:
		return t.now().Before(b.until)
	case r.PerSecond > 0:
		st := &rate{tokens: b.tokens, last: b.last}
		if scope != "" {
			if b.scoped == nil {
				b.scoped = map[string]*rate{}
			}
			if st = b.scoped[scope]; st == nil {
				st = &rate{tokens: r.Burst}
				b.scoped[scope] = st
			}
		}
		now := t.now()
		if !st.last.IsZero() {
			st.tokens = math.Min(r.Burst, st.tokens+now.Sub(st.last).Seconds()*r.PerSecond)
		}
		st.last = now
		throttled := st.tokens < 1
		if !throttled {
			st.tokens--
		}
		if scope == "" {
			b.tokens, b.last = st.tokens, st.last
		}
		return throttled
	default:
		return r.Probability > 0 && rand.Float64() < r.Probability
	}
	return false
}
