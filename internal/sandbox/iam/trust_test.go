package iam

import (
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
)

func TestEvaluateTrust(t *testing.T) {
	const (
		carol    = "arn:aws:iam::123456789012:user/carol"
		roleARN  = "arn:aws:iam::123456789012:role/Target"
		provider = "arn:aws:iam::123456789012:oidc-provider/127.0.0.1:8080/oidc"
	)
	user := Principal{ARN: carol, UserID: "AIDACAROL", Account: acct, Tags: map[string]string{"userName": "carol"}}
	mfaUser := user
	mfaUser.MFAAuthTime = time.Now()
	session := aliceP // assumed-role/Dev/alice
	other := Principal{ARN: "arn:aws:iam::999999999999:user/eve", Account: "999999999999"}
	trust := func(principal policy.Principal, cond policy.Condition, effect policy.Effect) policy.Document {
		return policy.Document{Version: policy.Version, Statement: []policy.Statement{{Effect: effect, Principal: &principal,
			Action: policy.Strings{"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"}, Condition: cond}}}
	}
	aws := func(v ...string) policy.Principal { return policy.Principal{AWS: v} }
	for _, tc := range []struct {
		name string
		p    Principal
		fed  string
		doc  policy.Document
		ctx  map[string][]string
		want Decision
	}{
		{"user by ARN", user, "", trust(aws(carol), nil, policy.Allow), nil, Allowed},
		{"account id", user, "", trust(aws(acct), nil, policy.Allow), nil, Allowed},
		{"account root", user, "", trust(aws("arn:aws:iam::123456789012:root"), nil, policy.Allow), nil, Allowed},
		{"another account's root", other, "", trust(aws("arn:aws:iam::123456789012:root"), nil, policy.Allow), nil, NoTrustAllow},
		{"wildcard", other, "", trust(aws("*"), nil, policy.Allow), nil, Allowed},
		{"role session by role ARN", session, "", trust(aws("arn:aws:iam::123456789012:role/Dev"), nil, policy.Allow), nil, Allowed},
		{"role session by its own ARN", session, "", trust(aws(session.ARN), nil, policy.Allow), nil, Allowed},
		{"other user", session, "", trust(aws(carol), nil, policy.Allow), nil, NoTrustAllow},
		{"MFA required, none", user, "", trust(aws(carol), policy.Condition{"Bool": {"aws:MultiFactorAuthPresent": {"true"}}}, policy.Allow), nil, NoTrustAllow},
		{"MFA required, given", mfaUser, "", trust(aws(carol), policy.Condition{"Bool": {"aws:MultiFactorAuthPresent": {"true"}}}, policy.Allow), nil, Allowed},
		{"external id", user, "", trust(aws(acct), policy.Condition{"StringEquals": {"sts:ExternalId": {"x-1"}}}, policy.Allow),
			map[string][]string{"sts:ExternalId": {"x-1"}}, Allowed},
		{"external id missing", user, "", trust(aws(acct), policy.Condition{"StringEquals": {"sts:ExternalId": {"x-1"}}}, policy.Allow), nil, NoTrustAllow},
		{"deny wins", user, "", policy.Document{Version: policy.Version, Statement: append(trust(aws(carol), nil, policy.Allow).Statement,
			trust(aws("*"), nil, policy.Deny).Statement...)}, nil, ExplicitDenyTrust},
		{"federated", Principal{}, provider, trust(policy.Principal{Federated: policy.Strings{provider}},
			policy.Condition{"StringEquals": {"127.0.0.1:8080/oidc:sub": {"ci"}}}, policy.Allow),
			map[string][]string{"127.0.0.1:8080/oidc:sub": {"ci"}}, Allowed},
		{"federated, other provider", Principal{}, provider + "x", trust(policy.Principal{Federated: policy.Strings{provider}}, nil, policy.Allow), nil, NoTrustAllow},
		{"AWS principal for a federated caller", Principal{}, provider, trust(aws("*"), nil, policy.Allow), nil, NoTrustAllow},
		{"identity policy statement (no principal)", user, "", policy.Document{Version: policy.Version, Statement: []policy.Statement{{
			Effect: policy.Allow, Action: policy.Strings{"sts:AssumeRole"}, Resource: policy.Strings{"*"}}}}, nil, NoTrustAllow},
	} {
		action := "sts:AssumeRole"
		if tc.fed != "" {
			action = "sts:AssumeRoleWithWebIdentity"
		}
		req := TrustRequest{Request: Request{Principal: tc.p, Action: action, Resource: roleARN, Context: tc.ctx}, Federated: tc.fed}
		if got := EvaluateTrust(req, tc.doc).Decision; got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	req := TrustRequest{Request: Request{Principal: user, Action: "sts:AssumeRole"}}
	if got := (Result{Decision: NoTrustAllow}).TrustMessage(req, roleARN); got != "User: "+carol+" is not authorized to perform: sts:AssumeRole on resource: "+roleARN {
		t.Errorf("TrustMessage = %q", got)
	}
}
