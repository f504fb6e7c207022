package iam

import (
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
)

// TestMFAConditionKeys: aws:MultiFactorAuthPresent is absent for
// long-term keys, "false" for sessions without MFA and "true" with it;
// aws:MultiFactorAuthAge counts seconds since the MFA sign-in;
// aws:TokenIssueTime is the session's issue time.
func TestMFAConditionKeys(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	allowIf := func(op, key, val string) Policies {
		return Policies{Identity: []policy.Document{{Version: policy.Version, Statement: []policy.Statement{{
			Effect: policy.Allow, Action: policy.Strings{"ec2:DescribeInstances"}, Resource: policy.Strings{"*"},
			Condition: policy.Condition{op: {key: {val}}}}}}}}
	}
	longTerm := userBob
	noMFA := aliceP
	noMFA.TokenIssueTime = now.Add(-time.Hour)
	withMFA := noMFA
	withMFA.MFAAuthTime = now.Add(-10 * time.Minute)
	for _, tc := range []struct {
		name string
		p    Principal
		pol  Policies
		want bool
	}{
		{"MFA present, MFA session", withMFA, allowIf("Bool", "aws:MultiFactorAuthPresent", "true"), true},
		{"MFA present, session without MFA", noMFA, allowIf("Bool", "aws:MultiFactorAuthPresent", "true"), false},
		{"MFA present, long-term key", longTerm, allowIf("Bool", "aws:MultiFactorAuthPresent", "true"), false},
		{"MFA false, session without MFA", noMFA, allowIf("Bool", "aws:MultiFactorAuthPresent", "false"), true},
		{"MFA false, long-term key (absent)", longTerm, allowIf("Bool", "aws:MultiFactorAuthPresent", "false"), false},
		{"BoolIfExists false, long-term key", longTerm, allowIf("BoolIfExists", "aws:MultiFactorAuthPresent", "false"), true},
		{"Null true, long-term key", longTerm, allowIf("Null", "aws:MultiFactorAuthPresent", "true"), true},
		{"Null true, session", noMFA, allowIf("Null", "aws:MultiFactorAuthPresent", "true"), false},
		{"MFA age 600 < 3600", withMFA, allowIf("NumericLessThan", "aws:MultiFactorAuthAge", "3600"), true},
		{"MFA age 600 < 300", withMFA, allowIf("NumericLessThan", "aws:MultiFactorAuthAge", "300"), false},
		{"MFA age without MFA", noMFA, allowIf("NumericLessThan", "aws:MultiFactorAuthAge", "3600"), false},
		{"token issue time", noMFA, allowIf("StringEquals", "aws:TokenIssueTime", "2026-01-02T02:04:05Z"), true},
		{"token issue time, long-term key", longTerm, allowIf("Null", "aws:TokenIssueTime", "true"), true},
		{"principal ARN of a session is the role's", withMFA, allowIf("ArnEquals", "aws:PrincipalArn", "arn:aws:iam::123456789012:role/Dev"), true},
	} {
		req := Request{Principal: tc.p, Action: "ec2:DescribeInstances", Resource: "*", Time: now}
		if got := Evaluate(req, tc.pol).Allowed(); got != tc.want {
			t.Errorf("%s: allowed = %v, want %v", tc.name, got, tc.want)
		}
	}
}
