package iam

import (
	"github.com/jitssh/jitssh/internal/policy"
)

// Trust decisions (EvaluateTrust); Allowed is shared with Evaluate.
const (
	// ExplicitDenyTrust: a statement of the role's trust policy denies.
	ExplicitDenyTrust Decision = iota + 100
	// NoTrustAllow: no statement of the role's trust policy allows.
	NoTrustAllow
)

// TrustRequest is a question to a role's trust policy: may Principal (or,
// for web identity, the token of identity provider Federated) perform
// Action (sts:AssumeRole, sts:AssumeRoleWithWebIdentity, sts:TagSession)
// on the role?
type TrustRequest struct {
	Request
	// Federated is the IAM identity provider's ARN
	// (arn:aws:iam::ACCT:oidc-provider/HOST/PATH) for web identity; empty
	// for AWS principals.
	Federated string
}

// EvaluateTrust decides req under a role's trust policy, as AWS does for
// a resource policy's principal element: a statement applies when its
// Principal names the caller and its Action and Condition match; an
// applicable Deny wins, else an applicable Allow allows. An AWS principal
// matches "*", its account ("123456789012" or arn:aws:iam::ACCT:root),
// its IAM user's ARN, or for a role session the role's ARN or the session's
// own ARN. A federated one matches the provider's ARN.
func EvaluateTrust(req TrustRequest, trust policy.Document) Result {
	ctx := newContext(req.Request)
	var allow, deny *policy.Statement
	for i := range trust.Statement {
		s := &trust.Statement[i]
		if s.Principal == nil || !principalMatches(s.Principal, req) || !trustApplies(s, req.Request, ctx) {
			continue
		}
		if s.Effect == policy.Deny && deny == nil {
			deny = s
		} else if s.Effect == policy.Allow && allow == nil {
			allow = s
		}
	}
	r := Result{Missing: ctx.missing}
	switch {
	case deny != nil:
		r.Decision, r.Sid = ExplicitDenyTrust, deny.Sid
	case allow == nil:
		r.Decision = NoTrustAllow
	default:
		r.Decision, r.Sid = Allowed, allow.Sid
	}
	return r
}

// trustApplies matches a trust statement's actions and conditions.
func trustApplies(s *policy.Statement, req Request, ctx *context) bool {
	if len(s.Action) > 0 && !anyMatch(s.Action, req.Action, matchAction) {
		return false
	}
	if len(s.NotAction) > 0 && anyMatch(s.NotAction, req.Action, matchAction) {
		return false
	}
	return ctx.conditionsHold(s)
}

// principalMatches reports whether the statement's principal names the
// caller of req.
func principalMatches(p *policy.Principal, req TrustRequest) bool {
	if req.Federated != "" {
		for _, f := range p.Federated {
			if f == req.Federated {
				return true
			}
		}
		return false
	}
	caller := req.Principal
	if caller.ARN == "" {
		return false
	}
	names := []string{caller.ARN}
	if typ, _, role := principalKind(caller.ARN); typ == "AssumedRole" {
		names = append(names, role)
	}
	for _, a := range p.AWS {
		switch {
		case a == "*":
			return true
		case a == caller.Account, a == "arn:aws:iam::"+caller.Account+":root":
			return caller.Account != ""
		}
		for _, n := range names {
			if a == n {
				return true
			}
		}
	}
	return false
}

// TrustMessage returns AWS's text for a trust policy's refusal of req on
// the role whose ARN is roleARN: the caller is not authorized to assume
// it (for web identity, STS names no caller).
func (r Result) TrustMessage(req TrustRequest, roleARN string) string {
	if req.Federated != "" {
		return "Not authorized to perform " + req.Action
	}
	return "User: " + req.Principal.ARN + " is not authorized to perform: " + req.Action + " on resource: " + roleARN
}
