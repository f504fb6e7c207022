package world

import (
	"testing"

	"github.com/jitssh/jitssh/internal/policy"
)

// TestSCPsAndInlinePoliciesAcrossWorlds: an organisation's SCPs are one
// state for all its worlds (ShareSCPs), attached to the root or to one
// account; a role's inline policies are the account's, whatever region's
// world changes them.
func TestSCPsAndInlinePoliciesAcrossWorlds(t *testing.T) {
	full := policy.Document{Version: policy.Version, Statement: []policy.Statement{{Effect: policy.Allow, Action: policy.Strings{"*"}, Resource: policy.Strings{"*"}}}}
	dev := Identity{AccessKeyID: "AKIATESTDEV000000001", SecretAccessKey: "s", ARN: "arn:aws:sts::111111111111:assumed-role/Dev/alice"}
	mgmt, err := New(Config{Region: "us-east-1", Account: "111111111111", SCPs: []policy.Document{full}, Identities: []Identity{dev}})
	if err != nil {
		t.Fatal(err)
	}
	west, err := New(Config{Region: "us-west-2", Account: "111111111111", SCPs: mgmt.SCPs, IAM: mgmt})
	if err != nil {
		t.Fatal(err)
	}
	member, err := New(Config{Region: "us-east-1", Account: "222222222222", SCPs: []policy.Document{full}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*World{mgmt, west, member} {
		w.ShareSCPs(mgmt)
	}
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ssm:StartSession","Resource":"*"}]}`
	p, err := member.CreateSCP("jitssh-revoke-alice", "d", deny)
	if err != nil {
		t.Fatal(err)
	}
	if err := west.AttachSCP(p.ID, "222222222222"); err != nil {
		t.Fatal(err)
	}
	if n := len(member.SCPsInForce()); n != 2 {
		t.Errorf("member: %d SCPs in force, want FullAWSAccess and the deny", n)
	}
	if n := len(mgmt.SCPsInForce()); n != 1 {
		t.Errorf("management: %d SCPs in force, want FullAWSAccess only", n)
	}
	if err := mgmt.AttachSCP(p.ID, member.OrgRootID()); err != nil {
		t.Fatal(err)
	}
	if member.OrgRootID() != mgmt.OrgRootID() || len(west.SCPsInForce()) != 2 {
		t.Errorf("root %s / %s; west has %d SCPs", member.OrgRootID(), mgmt.OrgRootID(), len(west.SCPsInForce()))
	}
	if err := mgmt.AttachSCP(p.ID, "r-nope"); err != ErrNoSuchTarget {
		t.Errorf("attach to r-nope: %v", err)
	}

	if _, err := west.PutRolePolicy("Dev", "jitssh-revoke-alice", deny); err != nil {
		t.Fatal(err)
	}
	if got := len(mgmt.PoliciesOf(dev)); got != 1 {
		t.Errorf("the home world sees %d inline policies of Dev, want 1", got)
	}
	if _, err := member.PutRolePolicy("Dev", "x", deny); err != ErrNoSuchRole {
		t.Errorf("another account's role: %v", err)
	}
}

// TestMemberSCPsSurviveFirstOrganizationsCall: a member account's own
// configured SCPs stay in force, attached to it, once an Organizations
// call has made the organisation's SCP state (before, that state held the
// management account's SCPs alone, attached to the root, and the member's
// deny was lost).
func TestMemberSCPsSurviveFirstOrganizationsCall(t *testing.T) {
	full := policy.Document{Version: policy.Version, Statement: []policy.Statement{{Effect: policy.Allow, Action: policy.Strings{"*"}, Resource: policy.Strings{"*"}}}}
	deny := policy.Document{Version: policy.Version, Statement: []policy.Statement{{Effect: policy.Deny, Action: policy.Strings{"ec2:DescribeInstances"}, Resource: policy.Strings{"*"}}}}
	mgmt, err := New(Config{Region: "us-east-1", Account: "111111111111", SCPs: []policy.Document{full}})
	if err != nil {
		t.Fatal(err)
	}
	var members []*World
	for _, a := range []string{"222222222222", "333333333333"} {
		home, err := New(Config{Region: "us-east-1", Account: a, SCPs: []policy.Document{full, deny}})
		if err != nil {
			t.Fatal(err)
		}
		west, err := New(Config{Region: "us-west-2", Account: a, SCPs: home.SCPs, IAM: home})
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, home, west)
	}
	for _, w := range append([]*World{mgmt}, members...) {
		w.ShareSCPs(mgmt)
	}
	if _, err := mgmt.SCPList(); err != nil {
		t.Fatal(err)
	}
	for _, w := range members {
		if n := len(w.SCPsInForce()); n != 2 {
			t.Errorf("%s/%s: %d SCPs in force after ListPolicies, want FullAWSAccess and its deny", w.Account, w.Region, n)
		}
	}
	if n := len(mgmt.SCPsInForce()); n != 1 {
		t.Errorf("management: %d SCPs in force, want FullAWSAccess", n)
	}
	list, _ := mgmt.SCPList()
	if len(list) != 2 || len(list[1].Targets) != 2 {
		t.Errorf("SCPs %+v: want FullAWSAccess and the members' deny attached to both", list)
	}
}
