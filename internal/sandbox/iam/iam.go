// Package iam evaluates IAM policies for the sandbox the way AWS does, for
// the subset of the policy language jitssh's documents and tests use:
// Allow and Deny, Action/NotAction and Resource/NotResource with * and ?
// wildcards, policy variables (${aws:PrincipalTag/K}, ${aws:username},
// ${aws:userid}, defaults like ${aws:PrincipalTag/K, 'x'}, and the ${*},
// ${?}, ${$} escapes), and the String, Arn, Bool, Null, Numeric, Date and
// IpAddress condition operators with IfExists, ForAnyValue and ForAllValues.
//
// Evaluate applies AWS's logic for a principal in one account: an explicit
// deny in a service control policy or an identity policy wins; otherwise
// the SCPs must allow the action (when SCPs are in force) and an identity
// policy must allow it. EvaluateTrust decides a role's trust policy (its
// Principal element: AWS principals, accounts, federated providers) for
// STS. EvaluateKeyPolicy decides a KMS action under a key's key policy
// together with the identity and SCP layers. Other resource policies,
// permission boundaries and session policies are not modelled. For temporary credentials the principal's
// context has aws:TokenIssueTime, aws:MultiFactorAuthPresent and
// aws:MultiFactorAuthAge as on AWS (absent for long-term keys).
package iam

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jitssh/jitssh/internal/policy"
)

// Principal is who makes a request.
type Principal struct {
	// ARN is the caller's ARN: arn:aws:sts::ACCT:assumed-role/ROLE/SESSION
	// or arn:aws:iam::ACCT:user/PATH/NAME.
	ARN string
	// UserID is aws:userid: AROA…:SESSION for a role session, AIDA… for a user.
	UserID string
	// Account is the principal's account id.
	Account string
	// Tags are principal tags (aws:PrincipalTag/K); for a role session,
	// its session tags and then the role's tags.
	Tags map[string]string
	// TokenIssueTime is when temporary credentials were issued (zero for
	// long-term keys): it sets aws:TokenIssueTime and
	// aws:MultiFactorAuthPresent ("true" or "false"; for long-term keys
	// the key is absent, as on AWS).
	TokenIssueTime time.Time
	// MFAAuthTime is when the session's holder authenticated with MFA
	// (zero: not at all); aws:MultiFactorAuthAge is the seconds since.
	MFAAuthTime time.Time
}

// Request is one authorisation question.
type Request struct {
	Principal Principal
	// Action is service:Operation, e.g. ec2-instance-connect:SendSSHPublicKey.
	Action string
	// Resource is the resource ARN, or "*" for actions without resources.
	Resource string
	// Context holds the request's condition keys besides the principal's
	// (e.g. ec2:osuser, aws:ResourceTag/Name); names are case-insensitive.
	Context map[string][]string
	// Time is when the request is made (aws:CurrentTime, aws:EpochTime,
	// aws:MultiFactorAuthAge); zero means now.
	Time time.Time
}

// Decision is the outcome of an evaluation.
type Decision int

// Decisions; everything but Allowed is a denial.
const (
	Allowed Decision = iota
	// ExplicitDenySCP: a service control policy statement denies.
	ExplicitDenySCP
	// ExplicitDenyIdentity: an identity policy statement denies.
	ExplicitDenyIdentity
	// NoSCPAllow: SCPs are in force and none allows the action.
	NoSCPAllow
	// NoIdentityAllow: no identity policy allows the action.
	NoIdentityAllow
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "Allow"
	case ExplicitDenySCP:
		return "ExplicitDeny(SCP)"
	case ExplicitDenyIdentity:
		return "ExplicitDeny(identity)"
	case NoSCPAllow:
		return "ImplicitDeny(SCP)"
	case NoIdentityAllow:
		return "ImplicitDeny(identity)"
	case ExplicitDenyTrust:
		return "ExplicitDeny(trust)"
	case NoTrustAllow:
		return "ImplicitDeny(trust)"
	case ExplicitDenyResource:
		return "ExplicitDeny(resource)"
	case NoResourceAllow:
		return "ImplicitDeny(resource)"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// Result is a Decision and the statement that decided it.
type Result struct {
	Decision Decision
	// Sid is the Sid of the deciding statement (deny, or the first allow),
	// "" for implicit denials and statements without Sid.
	Sid string
	// Missing are the condition keys (and policy variables) a statement
	// whose action and resource matched needed and the request lacked, as
	// the policy simulator reports them (MissingContextValues).
	Missing []string
}

// Allowed reports whether the request may proceed.
func (r Result) Allowed() bool { return r.Decision == Allowed }

// Message returns AWS's authorisation failure text for r:
//
//	User: ARN is not authorized to perform: ACTION on resource: RES with an explicit deny in a service control policy
//	User: ARN is not authorized to perform: ACTION because no identity-based policy allows the ACTION action
//
// The "on resource" part is left out for "*".
func (r Result) Message(req Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "User: %s is not authorized to perform: %s", req.Principal.ARN, req.Action)
	if req.Resource != "" && req.Resource != "*" {
		fmt.Fprintf(&b, " on resource: %s", req.Resource)
	}
	switch r.Decision {
	case ExplicitDenySCP:
		b.WriteString(" with an explicit deny in a service control policy")
	case ExplicitDenyIdentity:
		b.WriteString(" with an explicit deny in an identity-based policy")
	case NoSCPAllow:
		fmt.Fprintf(&b, " because no service control policy allows the %s action", req.Action)
	default:
		fmt.Fprintf(&b, " because no identity-based policy allows the %s action", req.Action)
	}
	return b.String()
}

// Policies are the policies in force for one principal.
type Policies struct {
	// Identity are the principal's identity-based policies.
	Identity []policy.Document
	// SCPs are the service control policies of the principal's account;
	// nil means the account is not in an organisation (no SCP layer).
	SCPs []policy.Document
}

// Evaluate decides req under p.
func Evaluate(req Request, p Policies) Result {
	ctx := newContext(req)
	scpAllow, scpDeny := evalLayer(p.SCPs, req, ctx)
	idAllow, idDeny := evalLayer(p.Identity, req, ctx)
	r := Result{Missing: ctx.missing}
	switch {
	case scpDeny != nil:
		r.Decision, r.Sid = ExplicitDenySCP, scpDeny.Sid
	case idDeny != nil:
		r.Decision, r.Sid = ExplicitDenyIdentity, idDeny.Sid
	case p.SCPs != nil && scpAllow == nil:
		r.Decision = NoSCPAllow
	case idAllow == nil:
		r.Decision = NoIdentityAllow
	default:
		r.Decision, r.Sid = Allowed, idAllow.Sid
	}
	return r
}

// evalLayer returns the first allowing and the first denying statement of
// docs that apply to req.
func evalLayer(docs []policy.Document, req Request, ctx *context) (allow, deny *policy.Statement) {
	for i := range docs {
		for j := range docs[i].Statement {
			s := &docs[i].Statement[j]
			if !applies(s, req, ctx) {
				continue
			}
			if s.Effect == policy.Deny {
				if deny == nil {
					deny = s
				}
			} else if allow == nil {
				allow = s
			}
		}
	}
	return allow, deny
}

func applies(s *policy.Statement, req Request, ctx *context) bool {
	if s.Principal != nil {
		return false // trust policies do not grant identity permissions
	}
	if len(s.Action) > 0 && !anyMatch(s.Action, req.Action, matchAction) {
		return false
	}
	if len(s.NotAction) > 0 && anyMatch(s.NotAction, req.Action, matchAction) {
		return false
	}
	resMatch := func(pattern, res string) bool {
		p, ok := ctx.expand(pattern)
		return ok && matchARN(p, res)
	}
	if len(s.Resource) > 0 && !anyMatch(s.Resource, req.Resource, resMatch) {
		return false
	}
	if len(s.NotResource) > 0 && anyMatch(s.NotResource, req.Resource, resMatch) {
		return false
	}
	return ctx.conditionsHold(s)
}

// conditionsHold reports whether every condition of s holds in ctx (no
// conditions: true).
func (ctx *context) conditionsHold(s *policy.Statement) bool {
	for op, keys := range s.Condition {
		for key, vals := range keys {
			if !ctx.condition(op, key, vals) {
				return false
			}
		}
	}
	return true
}

func anyMatch(patterns []string, v string, match func(p, v string) bool) bool {
	for _, p := range patterns {
		if match(p, v) {
			return true
		}
	}
	return false
}

func matchAction(pattern, action string) bool {
	return glob(strings.ToLower(pattern), strings.ToLower(action))
}

// matchARN matches an ARN against a pattern segment by segment (the first
// five colon-separated fields, then the resource, which may contain
// colons); * and ? do not cross segment boundaries, as in IAM.
func matchARN(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	p := strings.SplitN(pattern, ":", 6)
	a := strings.SplitN(arn, ":", 6)
	if len(p) != len(a) {
		return false
	}
	for i := range p {
		if !glob(p[i], a[i]) {
			return false
		}
	}
	return true
}

// glob matches s against a pattern where * matches any run of characters
// and ? exactly one. It runs in O(len(p)·len(s)) without recursion.
func glob(p, s string) bool {
	px, sx := 0, 0
	nextP, nextS := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				nextP, nextS = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					_, n := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += n
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if nextS > 0 && nextS <= len(s) {
			px, sx = nextP, nextS
			continue
		}
		return false
	}
	return true
}
