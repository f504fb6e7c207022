package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestBuiltinOrg: the built-in organization resolves to the management
// account and three members in two regions, with the access role, the
// regional fleets, the real instance of dev in us-west-2 and the Identity
// Center assignments in the members.
func TestBuiltinOrg(t *testing.T) {
	a, err := BuiltinOrg().Resolve("developer")
	if err != nil {
		t.Fatal(err)
	}
	o := a.Org
	if o == nil || o.Name != "management" || !slices.Equal(o.Regions, []string{"us-east-1", "us-west-2"}) || !slices.Equal(o.Disabled, []string{"ap-east-1"}) {
		t.Fatalf("org %+v", o)
	}
	var names []string
	for _, m := range o.Members {
		names = append(names, m.Name+"="+m.Account.Account)
		if len(m.Roles) != 1 || m.Roles[0].Name != DefaultAccessRole || m.Roles[0].Tags["userName"] != "developer" {
			t.Errorf("%s: roles %+v, want only the access role tagged userName=developer", m.Name, m.Roles)
		}
	}
	if want := []string{"dev=210987654321", "prod=345678901234", "audit=456789012345"}; !slices.Equal(names, want) {
		t.Errorf("members %v, want %v", names, want)
	}
	aliases := []string{a.Alias}
	for _, m := range o.Members {
		aliases = append(aliases, m.Alias)
	}
	if want := []string{"jitssh-management", "jitssh-dev", "jitssh-prod", "jitssh-audit"}; !slices.Equal(aliases, want) {
		t.Errorf("account aliases %v, want %v", aliases, want)
	}
	dev := o.Members[0]
	if len(dev.Regional) != 1 || dev.Regional[0].Region != "us-west-2" || len(dev.Regional[0].Instances) != 1 ||
		dev.Regional[0].Instances[0].Virtual || dev.Regional[0].Instances[0].AZ != "us-west-2a" {
		t.Errorf("dev's us-west-2 fleet %+v", dev.Regional)
	}
	if len(a.Identities[0].Policies) != 2 {
		t.Errorf("default identity: %d policies, want jitssh-user and the organization's reach", len(a.Identities[0].Policies))
	}
	var assigned []string
	for _, as := range a.SSOUsers[0].Assignments {
		assigned = append(assigned, as.Account)
	}
	if !slices.Contains(assigned, "210987654321") || !slices.Contains(assigned, "345678901234") {
		t.Errorf("SSO assignments in %v, want dev and prod too", assigned)
	}
	// Without [organization], nothing of it.
	b, err := Builtin().Resolve("developer")
	if err != nil {
		t.Fatal(err)
	}
	if b.Org != nil || len(b.Identities[0].Policies) != 1 {
		t.Errorf("the built-in account has an organization or extra policies: %+v", b.Org)
	}
}

// TestOrgConfigErrors: a bad organization is refused with the key named.
func TestOrgConfigErrors(t *testing.T) {
	base := BuiltinText + "\n[organization]\nregions = [\"us-east-1\", \"us-west-2\"]\n"
	member := "\n[[organization.accounts]]\naccount = \"210987654321\"\nname = \"dev\"\n"
	for _, tc := range []struct{ conf, want string }{
		{strings.Replace(BuiltinText, "region = \"us-east-1\"", "region = \"us-east-1\"\nname = \"x\"", 1), "name: an account's name is for an organization"},
		{base + "disabled_regions = [\"us-west-2\"]\n", "us-west-2 is listed twice"},
		{base + "disabled_regions = [\"Mars\"]\n", `region "Mars"`},
		{base + "access_role = \"bad role\"\n", "organization.access_role"},
		{base + "[[organization.regional]]\nregion = \"eu-west-1\"\n", "want one of the account's enabled regions"},
		{base + "[[organization.regional]]\nregion = \"us-east-1\"\n", "other than its home"},
		{base + "[[organization.regional]]\nregion = \"us-west-2\"\n[[organization.regional]]\nregion = \"us-west-2\"\n", "merge them"},
		{base + "[[organization.regional]]\nregion = \"us-west-2\"\naccount = \"210987654321\"\n", "a regional block has only"},
		{base + "[[organization.regional]]\nregion = \"us-west-2\"\n[[organization.regional.instances]]\nid = \"i-0123456789abcdef0\"\nprivate_ip = \"10.9.0.1\"\naz = \"us-east-1a\"\n", "want an availability zone of us-west-2"},
		{base + "[[organization.accounts]]\nname = \"dev\"\n", "account (12 digits) is required"},
		{base + member + member, "is already in the organization"},
		{base + member + "[[organization.accounts]]\naccount = \"345678901234\"\nname = \"dev\"\n", `name "dev" is already another account's`},
		{base + "[[organization.accounts]]\naccount = \"123456789012\"\n", "account 123456789012 is already in the organization"},
		{base + "[[organization.accounts]]\naccount = \"210987654321\"\nname = \"alice\"\n", `"alice" is both an account's name and an identity's`},
		{base + member + "[organization.accounts.latency]\n\"*\" = \"1ms\"\n", "are the organization's"},
		{base + member + "[[organization.accounts.roles]]\nname = \"OrganizationAccountAccessRole\"\ntrust = \"FullAWSAccess\"\n", "the organization's access role"},
		{base + member + "[[organization.accounts.identities]]\nname = \"x\"\nrole = \"R\"\naccess_key_id = \"AKIAJITSSHSANDBOX001\"\n", "access key AKIAJITSSHSANDBOX001 is both"},
		{base + member + "[[organization.accounts.instances]]\nid = \"i-0a1b2c3d4e5f00001\"\nprivate_ip = \"10.9.0.1\"\n", "instance i-0a1b2c3d4e5f00001 is both"},
		{base + member + "[organization.accounts.organization]\naccess_role = \"X\"\n", "no accounts or access_role of its own"},
		{base + "[[organization.accounts]]\naccount = \"210987654321\"\nname = \"default\"\n", `name "default"`},
		{base + member + "[[organization.accounts.instances]]\nid = \"i-0123456789abcdef0\"\nprivate_ip = \"10.9.0.1\"\npublic = true\n", "public = true is for the management account's home region only"},
		{base + "[[organization.regional]]\nregion = \"us-west-2\"\n[[organization.regional.instances]]\nid = \"i-0123456789abcdef0\"\nprivate_ip = \"10.9.0.1\"\npublic = true\n", "public = true is for"},
	} {
		_, err := Parse([]byte(tc.conf), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error with %q, got %v\nconfiguration tail:\n%s", tc.want, err, tc.conf[max(0, len(tc.conf)-300):])
		}
	}
	// An SSO assignment may name a member, and no other account.
	ok := base + member
	if _, err := Parse([]byte(strings.Replace(ok, `assignments = [{ permission_set = "JitsshUser" }, { permission_set = "AdministratorAccess" }]`,
		`assignments = [{ account = "210987654321", permission_set = "JitsshUser" }]`, 1)), ""); err != nil {
		t.Errorf("assignment in a member: %v", err)
	}
	if _, err := Parse([]byte(strings.Replace(ok, `assignments = [{ permission_set = "JitsshUser" }, { permission_set = "AdministratorAccess" }]`,
		`assignments = [{ account = "999999999999", permission_set = "JitsshUser" }]`, 1)), ""); err == nil || !strings.Contains(err.Error(), "nor one of its organization's members") {
		t.Errorf("assignment outside the organization: %v", err)
	}
}

// TestAccountAliases: an account's IAM alias follows IAM's rule (3 to 63
// lowercase letters, digits and single hyphens, neither first nor last)
// and is unique across the organization, generated members included; a
// bad one is refused with the key and the rule named.
func TestAccountAliases(t *testing.T) {
	top := func(alias string) string {
		return strings.Replace(BuiltinText, "account = \"123456789012\"\n", "account = \"123456789012\"\nalias = \""+alias+"\"\n", 1)
	}
	for _, ok := range []string{"abc", "my-org-prod", "0a9", strings.Repeat("a", 63), "a-b-c"} {
		f, err := Parse([]byte(top(ok)), "")
		if err != nil {
			t.Errorf("alias %q refused: %v", ok, err)
			continue
		}
		if a, err := f.Resolve("developer"); err != nil || a.Alias != ok {
			t.Errorf("alias %q resolved to %q, %v", ok, a.Alias, err)
		}
	}
	const rule = "want an IAM account alias: 3 to 63 lowercase letters, digits and hyphens"
	for _, bad := range []string{"ab", strings.Repeat("a", 64), "Prod", "-prod", "prod-", "pr--od", "prod_1", "prod.x", "pröd", "a b"} {
		_, err := Parse([]byte(top(bad)), "")
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("alias %q: %s", bad, rule)) {
			t.Errorf("alias %q: %v, want the alias and the rule named", bad, err)
		}
	}
	base := top("acme-mgmt") + "\n[organization]\nregions = [\"us-east-1\", \"us-west-2\"]\n"
	member := func(id, alias string) string {
		return "\n[[organization.accounts]]\naccount = \"" + id + "\"\nalias = \"" + alias + "\"\n"
	}
	for _, tc := range []struct{ conf, want string }{
		{base + member("210987654321", "Dev"), `organization.accounts[0] (210987654321): alias "Dev": ` + rule},
		{base + member("210987654321", "acme-dev") + member("345678901234", "acme-dev"), `alias "acme-dev" is both account 210987654321's and account 345678901234's`},
		{base + member("210987654321", "acme-mgmt"), `alias "acme-mgmt" is both account 123456789012's and account 210987654321's`},
		{base + "[[organization.regional]]\nregion = \"us-west-2\"\nalias = \"west\"\n", "a regional block has only"},
		{base + member("210987654321", "gen-002") + "\n[generate]\naccounts = 3\nregions = 2\ncount = 1\n", `alias "gen-002" is both account 210987654321's and account 100000000002 (generated)'s`},
		{top("gen-001") + "\n[generate]\naccounts = 3\ncount = 1\n", `alias "gen-001" is both account 123456789012's`},
	} {
		_, err := Parse([]byte(tc.conf), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error with %q, got %v\nconfiguration tail:\n%s", tc.want, err, tc.conf[max(0, len(tc.conf)-200):])
		}
	}
	// A member without an alias has none; with one, its own.
	f, err := Parse([]byte(base+member("210987654321", "acme-dev")+"\n[[organization.accounts]]\naccount = \"345678901234\"\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Resolve("developer")
	if err != nil {
		t.Fatal(err)
	}
	if a.Alias != "acme-mgmt" || a.Org.Members[0].Alias != "acme-dev" || a.Org.Members[1].Alias != "" {
		t.Errorf("aliases %q, %q, %q; want acme-mgmt, acme-dev and none", a.Alias, a.Org.Members[0].Alias, a.Org.Members[1].Alias)
	}
}

// TestGeneratedOrg: 3 accounts × 2 regions × 4 instances: every account in
// both regions, ids unique, names carrying account and region, the opt-in
// region disabled, the SSO users assigned in the generated members.
func TestGeneratedOrg(t *testing.T) {
	f := Builtin()
	if err := f.SetGenerate(GenerateSpec{Accounts: 3, Regions: 2, Count: 4, NamePrefix: "node"}); err != nil {
		t.Fatal(err)
	}
	a, err := f.Resolve("developer")
	if err != nil {
		t.Fatal(err)
	}
	o := a.Org
	if o == nil || len(o.Members) != 2 || !slices.Equal(o.Regions, []string{"us-east-1", "us-west-2"}) || !slices.Equal(o.Disabled, []string{"ap-east-1"}) {
		t.Fatalf("org %+v", o)
	}
	ids := map[string]bool{}
	count := func(list ...[]*Account) {
		for _, l := range list {
			for _, x := range l {
				for _, in := range x.Instances {
					if !in.Virtual {
						continue
					}
					if ids[in.ID] {
						t.Errorf("duplicate generated id %s", in.ID)
					}
					ids[in.ID] = true
					if !strings.Contains(in.Name(), "-"+x.Region+"-") || !strings.HasPrefix(in.AZ, x.Region) {
						t.Errorf("%s: name %s, AZ %s in %s", in.ID, in.Name(), in.AZ, x.Region)
					}
				}
			}
		}
	}
	count([]*Account{a}, o.Regional)
	for i, m := range o.Members {
		count([]*Account{m.Account}, m.Regional)
		if m.Account.Account != "100000000001" && m.Account.Account != "100000000002" {
			t.Errorf("generated member id %s", m.Account.Account)
		}
		if want := fmt.Sprintf("gen-%03d", i+1); m.Alias != want || m.Name != want {
			t.Errorf("generated member %s: name %q, alias %q, want both %q", m.Account.Account, m.Name, m.Alias, want)
		}
	}
	if len(ids) != 3*2*4 {
		t.Errorf("%d generated instances, want 24", len(ids))
	}
	n := 0
	for _, as := range a.SSOUsers[0].Assignments {
		if as.Account == "100000000002" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("first SSO user has %d permission sets in gen-002, want 2 (as in the management account)", n)
	}
}

func TestParseGenerate(t *testing.T) {
	for in, want := range map[string]GenerateSpec{
		"10000":    {Count: 10000, NamePrefix: "node"},
		"0":        {NamePrefix: "node"},
		"50x4x200": {Accounts: 50, Regions: 4, Count: 200, NamePrefix: "node"},
		"1x1x5":    {Accounts: 1, Regions: 1, Count: 5, NamePrefix: "node"},
	} {
		got, err := ParseGenerate(in)
		if err != nil || got != want {
			t.Errorf("ParseGenerate(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "50x4", "50x4x200x1", "-1", "0x4x200", "50x0x1", "1x9x1", "501x1x1", "100001", "500x8x200", "1e3", "50X4X200", " 5", "5x5x+5"} {
		if g, err := ParseGenerate(in); err == nil {
			t.Errorf("ParseGenerate(%q) = %+v, want an error", in, g)
		}
	}
}

func FuzzParseGenerate(f *testing.F) {
	for _, s := range []string{"10000", "50x4x200", "1x1x1", "x", "0x0x0", "999999x1x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGenerate(s)
		if err != nil {
			return
		}
		if g.Count < 0 || g.Accounts < 0 || g.Regions < 0 || max(g.Accounts, 1)*max(g.Regions, 1)*g.Count > MaxGeneratedOrg {
			t.Fatalf("ParseGenerate(%q) accepted %+v", s, g)
		}
		// What it accepts, [generate] accepts.
		file := Builtin()
		g.Count = min(g.Count, 3)
		g.Accounts = min(g.Accounts, 3)
		if err := file.SetGenerate(g); err != nil {
			t.Fatalf("ParseGenerate(%q) = %+v, which [generate] refuses: %v", s, g, err)
		}
	})
}

// TestOrgCheckedTwice: a file is checked again when --generate is added
// (SetGenerate): the built-in organization with a generated one passes,
// keeps its members and regional fleets, and adds the generated members.
func TestOrgCheckedTwice(t *testing.T) {
	f := BuiltinOrg()
	if err := f.SetGenerate(GenerateSpec{Accounts: 6, Regions: 3, Count: 2, NamePrefix: "node"}); err != nil {
		t.Fatal(err)
	}
	a, err := f.Resolve("developer")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range a.Org.Members {
		names = append(names, m.Name)
	}
	if want := []string{"dev", "prod", "audit", "gen-004", "gen-005"}; !slices.Equal(names, want) {
		t.Errorf("members %v, want %v", names, want)
	}
	if !slices.Equal(a.Org.Regions, []string{"us-east-1", "us-west-2", "eu-west-1"}) {
		t.Errorf("regions %v", a.Org.Regions)
	}
}

// TestOrgPoliciesSpanAccountsAndRegions: in an organization (configured or
// generated) the built-in policies name every region, and permission sets'
// every account, so an SSO user may push keys in a member's second region.
func TestOrgPoliciesSpanAccountsAndRegions(t *testing.T) {
	gen := Builtin()
	if err := gen.SetGenerate(GenerateSpec{Accounts: 2, Regions: 2, Count: 1, NamePrefix: "node"}); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]*File{"--org": BuiltinOrg(), "generated": gen} {
		a, err := f.Resolve("developer")
		if err != nil {
			t.Fatal(err)
		}
		user, _ := json.Marshal(a.Identities[0].Policies[0])
		if !strings.Contains(string(user), "arn:aws:ec2:*:123456789012:instance/*") {
			t.Errorf("%s: the default identity's policy is not for every region: %s", name, user)
		}
		var set []byte
		for _, ps := range a.PermissionSets {
			if ps.Name == "JitsshUser" {
				set, _ = json.Marshal(ps.Policies)
			}
		}
		if !strings.Contains(string(set), "arn:aws:ec2:*:*:instance/*") {
			t.Errorf("%s: the JitsshUser permission set is not for every account and region: %s", name, set)
		}
	}
	// One account in one region keeps its policies as they were.
	a, err := Builtin().Resolve("developer")
	if err != nil {
		t.Fatal(err)
	}
	user, _ := json.Marshal(a.Identities[0].Policies[0])
	if !strings.Contains(string(user), "arn:aws:ec2:us-east-1:123456789012:instance/*") {
		t.Errorf("the built-in account's policy changed: %s", user)
	}
}
