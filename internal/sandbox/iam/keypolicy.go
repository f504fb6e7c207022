package iam

import (
	"fmt"
	"strings"

	"github.com/jitssh/jitssh/internal/policy"
)

// Key policy decisions (EvaluateKeyPolicy); Allowed is shared with Evaluate.
const (
	// ExplicitDenyResource: a statement of the key policy denies.
	ExplicitDenyResource Decision = iota + 200
	// NoResourceAllow: the key policy neither allows the caller nor
	// delegates to the caller's account (its root principal) whose
	// identity policies would allow.
	NoResourceAllow
)

// EvaluateKeyPolicy decides req (a KMS action on a key in the caller's
// account) as KMS does, with the key policy as the resource policy that
// must always allow:
//
//   - an explicit deny in an SCP, an identity policy or the key policy wins;
//   - SCPs in force must allow;
//   - the key policy must allow, either naming the caller (its user ARN,
//     its role's ARN or its session's, or "*"): then no identity policy is
//     needed; or naming the account (its id or arn:aws:iam::ACCT:root):
//     then an identity policy must allow too.
func EvaluateKeyPolicy(req Request, keyPolicy policy.Document, p Policies) Result {
	id := Evaluate(req, p)
	switch id.Decision {
	case ExplicitDenySCP, ExplicitDenyIdentity, NoSCPAllow:
		return id
	}
	ctx := newContext(req)
	var direct, account, deny *policy.Statement
	for i := range keyPolicy.Statement {
		s := &keyPolicy.Statement[i]
		if s.Principal == nil || !trustApplies(s, req, ctx) {
			continue
		}
		d, a := keyPrincipal(s.Principal, req.Principal)
		switch {
		case !d && !a:
			continue
		case s.Effect == policy.Deny:
			if deny == nil {
				deny = s
			}
		case d && direct == nil:
			direct = s
		case a && account == nil:
			account = s
		}
	}
	r := Result{Missing: append(id.Missing, ctx.missing...)}
	switch {
	case deny != nil:
		r.Decision, r.Sid = ExplicitDenyResource, deny.Sid
	case direct != nil:
		r.Decision, r.Sid = Allowed, direct.Sid
	case account != nil && id.Decision == Allowed:
		r.Decision, r.Sid = Allowed, id.Sid
	case account != nil:
		r.Decision = NoIdentityAllow
	default:
		r.Decision = NoResourceAllow
	}
	return r
}

// keyPrincipal reports whether a key policy statement's principal names
// the caller itself (direct) or the caller's account (account).
func keyPrincipal(p *policy.Principal, caller Principal) (direct, account bool) {
	if caller.ARN == "" {
		return false, false
	}
	names := []string{caller.ARN}
	if typ, _, role := principalKind(caller.ARN); typ == "AssumedRole" {
		names = append(names, role)
	}
	for _, a := range p.AWS {
		switch {
		case a == "*":
			direct = true
		case caller.Account != "" && (a == caller.Account || a == "arn:aws:iam::"+caller.Account+":root"):
			account = true
		}
		for _, n := range names {
			if a == n {
				direct = true
			}
		}
	}
	return direct, account
}

// KeyMessage returns KMS's AccessDeniedException text for r on req.
func (r Result) KeyMessage(req Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "User: %s is not authorized to perform: %s on resource: %s", req.Principal.ARN, req.Action, req.Resource)
	switch r.Decision {
	case ExplicitDenyResource:
		b.WriteString(" with an explicit deny in a resource-based policy")
	case NoResourceAllow:
		fmt.Fprintf(&b, " because no resource-based policy allows the %s action", req.Action)
	default:
		return r.Message(req)
	}
	return b.String()
}
