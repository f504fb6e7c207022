package iam

import (
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
)

// TestRevokeDocument evaluates policy.Revoke's deny, as an SCP and as an
// identity policy, next to jitssh's own policies.
func TestRevokeDocument(t *testing.T) {
	cut := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	o := policy.Options{Region: "us-east-1", Account: acct}
	bobRole := Principal{ARN: "arn:aws:sts::123456789012:assumed-role/Dev/bob", UserID: "AROAEXAMPLE:bob", Account: acct, Tags: map[string]string{"userName": "bob"}}
	push := func(p Principal, issued time.Time) Request {
		p.TokenIssueTime = issued
		return Request{Principal: p, Action: "ec2-instance-connect:SendSSHPublicKey", Resource: instARN,
			Context: map[string][]string{"ec2:osuser": {p.Tags["userName"]}}, Time: cut.Add(time.Minute)}
	}
	describe := func(p Principal, issued time.Time) Request {
		p.TokenIssueTime = issued
		return Request{Principal: p, Action: "ec2:DescribeInstances", Resource: "*", Time: cut.Add(time.Minute)}
	}
	for _, tc := range []struct {
		name   string
		person policy.Person
		req    Request
		want   Decision
		wantAs Decision // as an inline identity policy
	}{
		{"alice may not push", policy.Person{User: "alice"}, push(aliceP, time.Time{}), ExplicitDenySCP, ExplicitDenyIdentity},
		{"bob still may", policy.Person{User: "alice"}, push(bobRole, cut.Add(-time.Hour)), Allowed, Allowed},
		{"alice's new session may describe", policy.Person{User: "alice"}, describe(aliceP, cut.Add(time.Second)), Allowed, Allowed},
		{"alice's older session may not", policy.Person{User: "alice"}, describe(aliceP, cut.Add(-time.Second)), ExplicitDenySCP, ExplicitDenyIdentity},
		{"bob's older session may", policy.Person{User: "alice"}, describe(bobRole, cut.Add(-time.Second)), Allowed, Allowed},
		{"by session ARN", policy.Person{PrincipalARN: aliceP.ARN}, push(aliceP, time.Time{}), ExplicitDenySCP, ExplicitDenyIdentity},
		{"by session ARN, another session", policy.Person{PrincipalARN: aliceP.ARN}, push(bobRole, time.Time{}), Allowed, Allowed},
		{"by user ARN", policy.Person{PrincipalARN: userBob.ARN}, push(userBob, time.Time{}), ExplicitDenySCP, ExplicitDenyIdentity},
	} {
		if err := tc.person.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		deny := policy.Revoke(o, tc.person, cut)
		if err := deny.Validate(); err != nil || !policy.IsRevoke(deny) {
			t.Fatalf("%s: Revoke wrote %s: %v", tc.name, deny.JSON(), err)
		}
		pol := jitssh("", "")
		pol.SCPs = append(pol.SCPs, deny)
		if got := Evaluate(tc.req, pol); got.Decision != tc.want {
			t.Errorf("%s, as an SCP: %v (%s), want %v", tc.name, got.Decision, got.Sid, tc.want)
		}
		pol = jitssh("", "")
		pol.Identity = append(pol.Identity, deny)
		pol.Identity = append(pol.Identity, policy.Document{Version: policy.Version, Statement: []policy.Statement{{Effect: policy.Allow, Action: policy.Strings{"ec2:Describe*"}, Resource: policy.Strings{"*"}}}})
		if got := Evaluate(tc.req, pol); got.Decision != tc.wantAs {
			t.Errorf("%s, inline: %v (%s), want %v", tc.name, got.Decision, got.Sid, tc.wantAs)
		}
	}
}

func TestPersonValidate(t *testing.T) {
	for _, p := range []policy.Person{{}, {User: "a", PrincipalARN: aliceP.ARN}, {User: "a b"}, {PrincipalARN: "arn:aws:iam::123456789012:role/Dev"}, {PrincipalARN: "alice"}} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v is valid", p)
		}
	}
	if n := (policy.Person{PrincipalARN: aliceP.ARN}).Name(); n != "jitssh-revoke-Dev.alice" {
		t.Errorf("Name = %q", n)
	}
}
