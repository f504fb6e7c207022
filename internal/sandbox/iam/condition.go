package iam

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// matchIP reports whether the address c lies in the policy's CIDR block
// or equals its address p (IpAddress); anything unparsable matches
// nothing.
func matchIP(p, c string) bool {
	addr, err := netip.ParseAddr(c)
	if err != nil {
		return false
	}
	if pfx, err := netip.ParsePrefix(p); err == nil {
		return pfx.Contains(addr)
	}
	pa, err := netip.ParseAddr(p)
	return err == nil && pa == addr
}

// context is a request's condition keys, lower-cased, including the
// principal's.
type context struct {
	keys map[string][]string
	// missing are the keys looked up and absent (in the order first
	// looked up), for the policy simulator's MissingContextValues.
	missing []string
}

func newContext(req Request) *context {
	c := &context{keys: make(map[string][]string, len(req.Context)+len(req.Principal.Tags)+6)}
	for k, v := range req.Context {
		c.keys[strings.ToLower(k)] = v
	}
	p := req.Principal
	set := func(k, v string) {
		if v != "" {
			c.keys[strings.ToLower(k)] = []string{v}
		}
	}
	for k, v := range p.Tags {
		set("aws:PrincipalTag/"+k, v)
	}
	set("aws:userid", p.UserID)
	set("aws:PrincipalAccount", p.Account)
	switch typ, name, role := principalKind(p.ARN); typ {
	case "User":
		set("aws:username", name)
		set("aws:PrincipalArn", p.ARN)
		set("aws:PrincipalType", "User")
	case "AssumedRole":
		set("aws:PrincipalArn", role)
		set("aws:PrincipalType", "AssumedRole")
	default:
		set("aws:PrincipalArn", p.ARN)
	}
	now := req.Time
	if now.IsZero() {
		now = time.Now()
	}
	set("aws:CurrentTime", now.UTC().Format(time.RFC3339))
	set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	if !p.TokenIssueTime.IsZero() {
		set("aws:TokenIssueTime", p.TokenIssueTime.UTC().Format(time.RFC3339))
	}
	// A request made with long-term keys has no MFA context, unless it is
	// one that presents a code (AssumeRole with SerialNumber and
	// TokenCode, whose trust evaluation sees MFA present).
	if !p.TokenIssueTime.IsZero() || !p.MFAAuthTime.IsZero() {
		set("aws:MultiFactorAuthPresent", strconv.FormatBool(!p.MFAAuthTime.IsZero()))
	}
	if !p.MFAAuthTime.IsZero() {
		age := int64(now.Sub(p.MFAAuthTime) / time.Second)
		set("aws:MultiFactorAuthAge", strconv.FormatInt(max(age, 0), 10))
	}
	return c
}

// principalKind classifies an ARN: for an IAM user it returns "User" and
// the user name; for a role session "AssumedRole" and the role's IAM ARN.
func principalKind(arn string) (typ, name, roleARN string) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 {
		return "", "", ""
	}
	switch {
	case f[2] == "iam" && strings.HasPrefix(f[5], "user/"):
		return "User", f[5][strings.LastIndex(f[5], "/")+1:], ""
	case f[2] == "sts" && strings.HasPrefix(f[5], "assumed-role/"):
		parts := strings.Split(f[5], "/")
		if len(parts) >= 3 {
			return "AssumedRole", parts[len(parts)-1], "arn:" + f[1] + ":iam::" + f[4] + ":role/" + parts[1]
		}
	}
	return "", "", ""
}

func (c *context) lookup(key string) ([]string, bool) {
	v, ok := c.keys[strings.ToLower(key)]
	if !ok || len(v) == 0 {
		c.noteMissing(key)
		return v, false
	}
	return v, true
}

func (c *context) noteMissing(key string) {
	for _, m := range c.missing {
		if strings.EqualFold(m, key) {
			return
		}
	}
	c.missing = append(c.missing, key)
}

// expand substitutes policy variables in s. It reports false when a
// variable names a key the request lacks and has no default: the policy
// element then matches nothing, as in IAM. Only single-valued keys can be
// variables. The escapes ${*}, ${?} and ${$} expand to the bare
// characters, so in Like operators and resources they still act as
// wildcards: a known over-match (IAM matches them literally) that none of
// jitssh's documents can trigger.
func (c *context) expand(s string) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), true // not a variable: literal text
		}
		b.WriteString(s[:i])
		v := s[i+2 : i+j]
		s = s[i+j+1:]
		switch v {
		case "*", "?", "$":
			b.WriteString(v)
			continue
		}
		name, def, hasDef := strings.Cut(v, ",")
		name = strings.TrimSpace(name)
		if vals, ok := c.lookup(name); ok && len(vals) == 1 {
			b.WriteString(vals[0])
			continue
		}
		if hasDef {
			def = strings.TrimSpace(def)
			if len(def) >= 2 && def[0] == '\'' && def[len(def)-1] == '\'' {
				b.WriteString(def[1 : len(def)-1])
				continue
			}
		}
		return "", false
	}
}

// condition evaluates one operator/key/values triple.
func (c *context) condition(op, key string, vals []string) bool {
	quant := ""
	if q, rest, ok := strings.Cut(op, ":"); ok {
		quant, op = q, rest
		if quant != "ForAnyValue" && quant != "ForAllValues" {
			return false // unknown qualifier: fail closed
		}
	}
	ifExists := false
	if base, ok := strings.CutSuffix(op, "IfExists"); ok && op != "Null" {
		op, ifExists = base, true
	}
	ctxVals, present := c.lookup(key)
	if op == "Null" {
		return nullCondition(vals, present)
	}
	match, negated, ok := operator(op)
	if !ok {
		return false // unknown operator: fail closed
	}
	// Expand variables in the policy's values; a value whose variable is
	// missing matches nothing. A condition left without values is false.
	expanded := make([]string, 0, len(vals))
	for _, v := range vals {
		if e, ok := c.expand(v); ok {
			expanded = append(expanded, e)
		}
	}
	if len(expanded) == 0 {
		return false
	}
	if !present {
		switch {
		case quant == "ForAllValues":
			return true
		case ifExists:
			return true
		case quant == "ForAnyValue":
			return false
		}
		return negated
	}
	return matchValues(quant, negated, ctxVals, expanded, match)
}

// matchValues applies a condition to the request's values of its key
// (present): with ForAllValues every one must match, with ForAnyValue
// one, and without a qualifier one, negated for a Not operator.
func matchValues(quant string, negated bool, ctxVals, expanded []string, match func(policyVal, ctxVal string) bool) bool {
	matchOne := func(cv string) bool {
		for _, pv := range expanded {
			if match(pv, cv) {
				return true
			}
		}
		return false
	}
	switch quant {
	case "ForAllValues":
		for _, cv := range ctxVals {
			if matchOne(cv) == negated {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, cv := range ctxVals {
			if matchOne(cv) != negated {
				return true
			}
		}
		return false
	}
	any := false
	for _, cv := range ctxVals {
		if matchOne(cv) {
			any = true
			break
		}
	}
	return any != negated
}

// nullCondition is the Null operator: "true" matches an absent key,
// "false" a present one; anything else matches nothing.
func nullCondition(vals []string, present bool) bool {
	if len(vals) != 1 {
		return false
	}
	switch strings.ToLower(vals[0]) {
	case "true":
		return !present
	case "false":
		return present
	}
	return false
}

// dateComparisons are the Date operators' tests of the request's time c
// against the policy's p (DateNotEquals is DateEquals negated).
var dateComparisons = map[string]func(c, p time.Time) bool{
	"DateEquals":            func(c, p time.Time) bool { return c.Equal(p) },
	"DateNotEquals":         func(c, p time.Time) bool { return c.Equal(p) },
	"DateLessThan":          func(c, p time.Time) bool { return c.Before(p) },
	"DateLessThanEquals":    func(c, p time.Time) bool { return !c.After(p) },
	"DateGreaterThan":       func(c, p time.Time) bool { return c.After(p) },
	"DateGreaterThanEquals": func(c, p time.Time) bool { return !c.Before(p) },
}

// parseDate reads a Date operator's value as IAM does: an ISO 8601 date
// and time (2026-12-02T15:04:05Z, with or without fractional seconds or
// an offset), a bare date (2026-12-02, midnight UTC), or seconds since
// the epoch (aws:EpochTime's form).
func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && s != "" && s[0] != '+' {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

// operator returns the positive match function of op and whether op is
// its negation.
func operator(op string) (match func(policyVal, ctxVal string) bool, negated, ok bool) {
	switch op {
	case "StringEquals", "StringNotEquals":
		return func(p, c string) bool { return p == c }, op == "StringNotEquals", true
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		return strings.EqualFold, op == "StringNotEqualsIgnoreCase", true
	case "StringLike", "StringNotLike":
		return glob, op == "StringNotLike", true
	case "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike":
		return matchARN, strings.Contains(op, "Not"), true
	case "Bool":
		return strings.EqualFold, false, true
	case "IpAddress", "NotIpAddress":
		return matchIP, op == "NotIpAddress", true
	case "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals",
		"DateGreaterThan", "DateGreaterThanEquals":
		cmp := dateComparisons[op]
		return func(p, c string) bool {
			pt, ok1 := parseDate(p)
			ct, ok2 := parseDate(c)
			return ok1 && ok2 && cmp(ct, pt)
		}, op == "DateNotEquals", true
	case "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
		"NumericGreaterThan", "NumericGreaterThanEquals":
		cmp := map[string]func(c, p float64) bool{
			"NumericEquals":            func(c, p float64) bool { return c == p },
			"NumericNotEquals":         func(c, p float64) bool { return c == p },
			"NumericLessThan":          func(c, p float64) bool { return c < p },
			"NumericLessThanEquals":    func(c, p float64) bool { return c <= p },
			"NumericGreaterThan":       func(c, p float64) bool { return c > p },
			"NumericGreaterThanEquals": func(c, p float64) bool { return c >= p },
		}[op]
		return func(p, c string) bool {
			pf, err1 := strconv.ParseFloat(p, 64)
			cf, err2 := strconv.ParseFloat(c, 64)
			return err1 == nil && err2 == nil && cmp(cf, pf)
		}, op == "NumericNotEquals", true
	}
	return nil, false, false
}
