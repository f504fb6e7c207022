package world

import (
	"strings"
	"testing"
)

// TestOrgSharesIAMAcrossRegions: a regional world answers its account's
// identities, roles and sessions from the home world, and the org finds
// accounts by key, worlds by region, instances and sessions by id.
func TestOrgSharesIAMAcrossRegions(t *testing.T) {
	key := Identity{AccessKeyID: "AKIAORGTEST000000001", SecretAccessKey: "s", ARN: "arn:aws:iam::111111111111:user/u"}
	home, err := New(Config{Region: "us-east-1", Account: "111111111111", Identities: []Identity{key},
		Roles: []Role{{Name: "R"}}, Instances: []Instance{{ID: "i-0000000000000000a"}}})
	if err != nil {
		t.Fatal(err)
	}
	west, err := New(Config{Region: "us-west-2", Account: "111111111111", IAM: home, Instances: []Instance{{ID: "i-0000000000000000b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := west.Identity(key.AccessKeyID); !ok {
		t.Error("the regional world does not know its account's key")
	}
	if _, ok := west.Role("R"); !ok {
		t.Error("the regional world does not know its account's role")
	}
	c := west.IssueSession(west.RoleSession(Role{Name: "R", ID: "AROAX"}, "s", nil), 3600e9)
	if _, ok := home.Identity(c.AccessKeyID); !ok {
		t.Error("a session issued in a regional world is unknown to the home world")
	}
	if _, err := New(Config{Region: "us-west-2", Account: "111111111111", IAM: home, Identities: []Identity{key}}); err == nil {
		t.Error("a regional world with identities of its own was accepted")
	}
	if _, err := New(Config{Region: "us-west-2", Account: "222222222222", IAM: home}); err == nil {
		t.Error("a regional world of another account's IAM was accepted")
	}
	other, err := New(Config{Region: "us-east-1", Account: "222222222222", Instances: []Instance{{ID: "i-0000000000000000a"}}})
	if err != nil {
		t.Fatal(err)
	}
	a := &OrgAccount{ID: "111111111111", Home: home, Regions: map[string]*World{"us-east-1": home, "us-west-2": west}, Disabled: []string{"ap-east-1"}}
	if _, err := NewOrg(a, &OrgAccount{ID: "222222222222", Home: other, Regions: map[string]*World{"us-east-1": other}}); err == nil || !strings.Contains(err.Error(), "unique") {
		t.Errorf("an instance id in two accounts: %v", err)
	}
	// A virtual (API-only) copy of a machine's id in another account is
	// accepted (the pin tests' other machine claiming the id); the id's
	// world stays the machine's.
	claim, err := New(Config{Region: "us-east-1", Account: "333333333333", Instances: []Instance{{ID: "i-0000000000000000a", Virtual: true}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, order := range [][]*OrgAccount{
		{a, {ID: "333333333333", Home: claim, Regions: map[string]*World{"us-east-1": claim}}},
		{{ID: "333333333333", Home: claim, Regions: map[string]*World{"us-east-1": claim}}, a},
	} {
		co, err := NewOrg(order...)
		if err != nil {
			t.Fatalf("a virtual copy of an id: %v", err)
		}
		if w, ok := co.InstanceWorld("i-0000000000000000a"); !ok || w != home {
			t.Error("InstanceWorld of a claimed id is not the machine's world")
		}
	}
	o, err := NewOrg(a)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := o.ByAccessKey(c.AccessKeyID); !ok || got != a {
		t.Error("ByAccessKey does not find a session's account")
	}
	if w, ok := o.InstanceWorld("i-0000000000000000b"); !ok || w != west {
		t.Error("InstanceWorld")
	}
	if w, ok := o.World("111111111111", "us-west-2"); !ok || w != west {
		t.Error("World")
	}
	if _, ok := o.World("111111111111", "ap-east-1"); ok || !a.RegionDisabled("ap-east-1") {
		t.Error("a disabled region has a world")
	}
	s := west.StartSession(Session{Target: "i-0000000000000000b"}, "u")
	if w, ok := o.SessionWorld(s.ID); !ok || w != west {
		t.Error("SessionWorld")
	}
}
