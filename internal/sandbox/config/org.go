package config

import (
	"fmt"
	"slices"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/sso"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// OrgSpec is `[organization]`: the file's account becomes the management
// account of an AWS Organization with member accounts, and every account
// has worlds in several regions (package world's Org).
//
//	[organization]
//	regions = ["us-east-1", "us-west-2"]   # enabled regions, the file's region first (default: it alone)
//	disabled_regions = ["ap-east-1"]       # opt-in regions not enabled: calls there fail as on AWS
//	access_role = "OrganizationAccountAccessRole"  # in every member, trusting the management account
//
//	[[organization.regional]]              # the management account's fleet in another region
//	region = "us-west-2"
//	[[organization.regional.instances]]  …  (also vpcs, subnets, endpoints, managed_instances)
//
//	[[organization.accounts]]              # a member account: the keys of a file's account …
//	account = "210987654321"
//	name = "dev"
//	[[organization.accounts.identities]] … roles, scps, instances, vpcs, …
//	[[organization.accounts.regional]] …   # … and its fleets in other regions
type OrgSpec struct {
	Regions         []string `toml:"regions"`
	DisabledRegions []string `toml:"disabled_regions"`
	AccessRole      string   `toml:"access_role"`
	// Regional are the management account's fleets in regions other than
	// the file's.
	Regional []File `toml:"regional"`
	// Accounts are the member accounts, each described with a file's
	// account keys (no organization, sso, knobs, generate or session
	// preferences of its own); name and regional apply to them.
	Accounts []File `toml:"accounts"`
}

// DefaultAccessRole is the role every member account has, trusting the
// management account, as AWS Organizations creates it.
const DefaultAccessRole = "OrganizationAccountAccessRole"

// DefaultOrgRegions extend a generated organization's regions to
// GenerateSpec.Regions.
var DefaultOrgRegions = []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1", "eu-central-1", "ap-northeast-1", "us-east-2", "ca-central-1"}

// MaxAccounts bounds the organization's accounts, configured and
// generated.
const MaxAccounts = 500

// checkOrg validates [organization]: regions, the members (each checked
// as a file of its own with the management account's policies) and the
// regional fleets; access keys and profile names unique across accounts.
func (f *File) checkOrg() error {
	o := f.Organization
	if o == nil {
		return nil
	}
	if f.member {
		return nil // a member's regions and regional fleets: checkMember
	}
	if f.Name == "" {
		f.Name = "management"
	}
	if !profilePattern.MatchString(f.Name) || f.Name == "default" {
		return fmt.Errorf("name %q: want letters, digits, _, . and - (not default)", f.Name)
	}
	if o.AccessRole == "" {
		o.AccessRole = DefaultAccessRole
	}
	if !roleNamePattern.MatchString(o.AccessRole) {
		return fmt.Errorf("organization.access_role %q: want 1 to 64 of letters, digits and +=,.@_-", o.AccessRole)
	}
	if err := checkRegions("organization", f.Region, &o.Regions, o.DisabledRegions); err != nil {
		return err
	}
	if err := f.checkRegional("organization", f.Account, o.Regions, o.Regional); err != nil {
		return err
	}
	if len(o.Accounts)+1 > MaxAccounts {
		return fmt.Errorf("organization.accounts: %d accounts, at most %d", len(o.Accounts), MaxAccounts-1)
	}
	accounts := map[string]bool{f.Account: true}
	names := map[string]bool{f.Name: true}

	keys, profiles := map[string]string{}, map[string]string{}
	note := func(m *File, acct string) error {
		for _, id := range m.Identities {
			if other, dup := keys[id.AccessKeyID]; dup {
				return fmt.Errorf("access key %s is both %s's and %s's: keys are unique across the organization", id.AccessKeyID, other, acct)
			}
			keys[id.AccessKeyID] = acct
			if other, dup := profiles[id.Name]; dup {
				return fmt.Errorf("identity name %q is both %s's and %s's: the names are the AWS profiles the sandbox writes", id.Name, other, acct)
			}
			profiles[id.Name] = acct
		}
		return nil
	}
	if err := note(f, "the management account"); err != nil {
		return err
	}
	for i := range o.Accounts {
		m := &o.Accounts[i]
		where := fmt.Sprintf("organization.accounts[%d]", i)
		if err := f.checkMember(m, where); err != nil {
			return err
		}
		if accounts[m.Account] {
			return fmt.Errorf("%s: account %s is already in the organization", where, m.Account)
		}
		accounts[m.Account] = true
		if names[m.Name] {
			return fmt.Errorf("%s: name %q is already another account's", where, m.Name)
		}
		names[m.Name] = true
		if err := note(m, "account "+m.Account); err != nil {
			return err
		}
	}

	if err := f.checkOrgInstanceIDs(); err != nil {
		return err
	}
	for p := range profiles {
		if names[p] {
			return fmt.Errorf("organization: %q is both an account's name and an identity's: both name AWS profiles", p)
		}
	}
	return nil
}

// checkAliases refuses an IAM account alias that two accounts of the
// organization have, configured or generated: aliases are unique, as
// AWS's (each alias was checked with its account).
func (f *File) checkAliases() error {
	if f.member {
		return nil
	}
	aliases := map[string]string{} // alias → account
	add := func(alias, account string) error {
		if alias == "" {
			return nil
		}
		if other, dup := aliases[alias]; dup {
			return fmt.Errorf("alias %q is both account %s's and account %s's: account aliases are unique", alias, other, account)
		}
		aliases[alias] = account
		return nil
	}
	if err := add(f.Alias, f.Account); err != nil {
		return err
	}
	configured := 0
	if f.Organization != nil {
		for _, m := range f.Organization.Accounts {
			if err := add(m.Alias, m.Account); err != nil {
				return fmt.Errorf("organization.accounts: %w", err)
			}
		}
		configured = len(f.Organization.Accounts)
	}
	if g := f.Generate; g != nil && g.org() {
		for i := configured + 1; i < g.Accounts; i++ {
			if err := add(generatedAlias(i), generatedAccountID(i)+" (generated)"); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkMember validates a member account m (its keys as a file's).
func (f *File) checkMember(m *File, where string) error {
	m.member, m.dir, m.Policies = true, f.dir, f.Policies
	if m.Region == "" {
		m.Region = f.Region
	}
	if m.Account == "" {
		return fmt.Errorf("%s: account (12 digits) is required", where)
	}
	switch {
	case m.Generate != nil, m.Latency != nil, m.Throttle != nil, m.Fail != nil,
		m.SSO != (SSOSpec{}), len(m.PermissionSets) > 0, len(m.SSOUsers) > 0, m.SessionPreferences != (SessionPrefsSpec{}):
		return fmt.Errorf("%s: generate, latency, throttle, fail, sso, permission_sets, sso_users and session_preferences are the organization's; set them at the top level", where)
	}
	o := f.Organization
	regions, disabled := o.Regions, o.DisabledRegions
	if m.Organization != nil {
		if len(m.Organization.Accounts) > 0 || m.Organization.AccessRole != "" {
			return fmt.Errorf("%s: a member account has no accounts or access_role of its own", where)
		}
		if m.Organization.Regions != nil {
			regions = m.Organization.Regions
		}
		if m.Organization.DisabledRegions != nil {
			disabled = m.Organization.DisabledRegions
		}
	}
	for _, r := range m.Roles {
		if r.Name == o.AccessRole {
			return fmt.Errorf("%s: role %s is the organization's access role, which every member has; leave it out", where, r.Name)
		}
		if r.WebIdentity != nil {
			return fmt.Errorf("%s: role %s: web identity roles are the management account's only", where, r.Name)
		}
	}
	if err := m.check(); err != nil {
		return fmt.Errorf("%s (%s): %w", where, m.Account, err)
	}
	if err := checkNoPublic(where, m); err != nil {
		return err
	}
	if m.Name == "" {
		m.Name = "account-" + m.Account
	}
	if !profilePattern.MatchString(m.Name) || m.Name == "default" {
		return fmt.Errorf("%s: name %q: want letters, digits, _, . and - (not default)", where, m.Name)
	}
	if m.Organization == nil {
		m.Organization = &OrgSpec{}
	}
	m.Organization.Regions = slices.Clone(regions)
	m.Organization.DisabledRegions = slices.Clone(disabled)
	if err := checkRegions(where, m.Region, &m.Organization.Regions, disabled); err != nil {
		return err
	}
	return m.checkRegional(where, m.Account, m.Organization.Regions, m.Organization.Regional)
}

// checkRegions validates an account's enabled regions (home first, added
// when missing) and disabled opt-in ones.
func checkRegions(where, home string, regions *[]string, disabled []string) error {
	if !slices.Contains(*regions, home) {
		*regions = append([]string{home}, *regions...)
	}
	seen := map[string]bool{}
	for _, r := range append(slices.Clone(*regions), disabled...) {
		if !regionPattern.MatchString(r) {
			return fmt.Errorf("%s: region %q: want a region name like us-west-2", where, r)
		}
		if seen[r] {
			return fmt.Errorf("%s: region %s is listed twice (in regions or disabled_regions)", where, r)
		}
		seen[r] = true
	}
	if len(*regions) > 32 {
		return fmt.Errorf("%s: %d regions, at most 32", where, len(*regions))
	}
	return nil
}

// checkRegional validates an account's fleets in its other regions: each
// in an enabled region other than the home one, once, with only fleet
// keys (vpcs, subnets, endpoints, instances, managed_instances).
func (f *File) checkRegional(where, account string, regions []string, regional []File) error {
	seen := map[string]bool{}
	for i := range regional {
		r := &regional[i]
		w := fmt.Sprintf("%s.regional[%d]", where, i)
		if r.Region == "" || r.Region == f.Region || !slices.Contains(regions, r.Region) {
			return fmt.Errorf("%s: region %q: want one of the account's enabled regions other than its home %s (%v)", w, r.Region, f.Region, regions)
		}
		if seen[r.Region] {
			return fmt.Errorf("%s: region %s has another regional block; merge them", w, r.Region)
		}
		seen[r.Region] = true
		if (r.Account != "" && r.Account != account) || r.Name != "" || r.Alias != "" || r.SCPs != nil || len(r.Identities) > 0 || len(r.Roles) > 0 || r.Organization != nil || r.Generate != nil ||
			r.Latency != nil || r.Throttle != nil || r.Fail != nil || r.SSO != (SSOSpec{}) || len(r.SSOUsers) > 0 || len(r.PermissionSets) > 0 ||
			len(r.Policies) > 0 || r.SessionPreferences != (SessionPrefsSpec{}) {
			return fmt.Errorf("%s: a regional block has only region, vpcs, subnets, endpoints, instances and managed_instances", w)
		}
		r.Account, r.member, r.dir = account, true, f.dir
		if err := r.check(); err != nil {
			return fmt.Errorf("%s (%s): %w", w, r.Region, err)
		}
		if err := checkNoPublic(w, r); err != nil {
			return err
		}
	}
	return nil
}

// Org is a resolved organization: the management account's other
// regions, and the member accounts.
type Org struct {
	// Name is the management account's name.
	Name string
	// Regions are the management account's enabled regions (its home
	// first) and Disabled its opt-in regions not enabled.
	Regions, Disabled []string
	// Regional are the management account's fleets in its other regions
	// (Region, Instances, VPCs, Subnets, Endpoints set).
	Regional []*Account
	// Members are the member accounts.
	Members []*Member
	// AccessRole is the role name every member has, trusting the
	// management account.
	AccessRole string
	// generatedHome are the management account's generated instances in
	// its home region (resolveOrg adds them to its Account).
	generatedHome []world.Instance
}

// Member is a resolved member account.
type Member struct {
	*Account
	Name              string
	Regions, Disabled []string
	Regional          []*Account
}

// resolveOrg sets a.Org from [organization] and a generated organization
// ([generate] with accounts or regions).
func (f *File) resolveOrg(a *Account, localUser string) error {
	o := f.Organization
	if o == nil && (f.Generate == nil || !f.Generate.org()) {
		return nil
	}
	if o == nil {
		o = &OrgSpec{AccessRole: DefaultAccessRole, Regions: []string{f.Region}}
	}
	org := &Org{Name: or(f.Name, "management"), Regions: slices.Clone(o.Regions), Disabled: slices.Clone(o.DisabledRegions), AccessRole: o.AccessRole}
	for i := range o.Regional {
		ra, err := o.Regional[i].Resolve(localUser)
		if err != nil {
			return err
		}
		org.Regional = append(org.Regional, ra)
	}
	userTag := ""
	if len(a.Identities) > 0 {
		userTag = a.Identities[0].Tags[policy.DefaultUserTag]
		a.Identities[0].Policies = append(a.Identities[0].Policies, OrgReachPolicy(o.AccessRole))
	}
	for i := range o.Accounts {
		m := &o.Accounts[i]
		ma, err := m.Resolve(localUser)
		if err != nil {
			return fmt.Errorf("organization.accounts[%d] (%s): %w", i, m.Account, err)
		}
		mem := &Member{Account: ma, Name: m.Name, Regions: m.Organization.Regions, Disabled: m.Organization.DisabledRegions}
		for j := range m.Organization.Regional {
			ra, err := m.Organization.Regional[j].Resolve(localUser)
			if err != nil {
				return err
			}
			mem.Regional = append(mem.Regional, ra)
		}
		org.Members = append(org.Members, mem)
	}
	if g := f.Generate; g != nil && g.org() {
		configured := len(org.Members)
		generateOrg(org, f.Account, f.Region, g)
		a.Instances = append(a.Instances, org.generatedHome...)
		assignGenerated(a, org.Members[configured:])
	}
	for _, mem := range org.Members {
		mem.Roles = append(mem.Roles, accessRole(org.AccessRole, f.Account, mem.Account.Account, userTag))
	}
	a.Org = org
	return nil
}

// accessRole is a member's OrganizationAccountAccessRole: administrator,
// trusting the management account (any of its principals its own policies
// let assume it), tagged with the management account's default user so
// that its sessions may push keys under the jitssh SCP.
func accessRole(name, management, member, userTag string) world.Role {
	trust := policy.Document{Version: policy.Version, Statement: []policy.Statement{{
		Effect: policy.Allow, Action: policy.Strings{"sts:AssumeRole", "sts:TagSession"},
		Principal: &policy.Principal{AWS: policy.Strings{"arn:aws:iam::" + management + ":root"}},
	}}}
	r := world.Role{Name: name, ID: world.RoleID(member + "/" + name), Trust: trust, Policies: []policy.Document{policy.AdministratorAccess()}}
	if userTag != "" {
		r.Tags = map[string]string{policy.DefaultUserTag: userTag}
	}
	return r
}

// OrgReachPolicy is the policy an organization adds to the management
// account's default identity: list the enabled regions
// (ec2:DescribeRegions) and assume the access role of every member
// account, which is how its profiles reach them.
func OrgReachPolicy(accessRole string) policy.Document {
	return policy.Document{Version: policy.Version, Statement: []policy.Statement{{
		Sid: "ListRegions", Effect: policy.Allow, Action: policy.Strings{"ec2:DescribeRegions"}, Resource: policy.Strings{"*"},
	}, {
		Sid: "ReachMemberAccounts", Effect: policy.Allow, Action: policy.Strings{"sts:AssumeRole", "sts:TagSession"},
		Resource: policy.Strings{"arn:aws:iam::*:role/" + accessRole},
	}}}
}

// orgAccountIDs returns the ids of the file's account and of its
// organization's members, configured and generated.
func (f *File) orgAccountIDs() map[string]bool {
	ids := map[string]bool{f.Account: true}
	configured := 0
	if f.Organization != nil {
		for _, m := range f.Organization.Accounts {
			ids[m.Account] = true
		}
		configured = len(f.Organization.Accounts)
	}
	if g := f.Generate; g != nil && g.org() {
		for i := configured + 1; i < g.Accounts; i++ {
			ids[generatedAccountID(i)] = true
		}
	}
	return ids
}

// assignGenerated gives every Identity Center user, in each generated
// member account, the permission sets it has in the management account.
func assignGenerated(a *Account, generated []*Member) {
	for i := range a.SSOUsers {
		u := &a.SSOUsers[i]
		var add []sso.Assignment
		for _, as := range u.Assignments {
			if as.Account != a.Account {
				continue
			}
			for _, m := range generated {
				add = append(add, sso.Assignment{Account: m.Account.Account, PermissionSet: as.PermissionSet})
			}
		}
		u.Assignments = append(u.Assignments, add...)
	}
}

// checkOrgInstanceIDs refuses an instance id used in two places of the
// organization: ids are unique across accounts and regions, as AWS's.
func (f *File) checkOrgInstanceIDs() error {
	seen := map[string]string{}
	add := func(fl *File, where string) error {
		for _, in := range fl.Instances {
			if other, dup := seen[in.ID]; dup {
				return fmt.Errorf("instance %s is both in %s and in %s: instance ids are unique across the organization", in.ID, other, where)
			}
			seen[in.ID] = where
		}
		for _, in := range fl.ManagedInstances {
			if other, dup := seen[in.ID]; dup {
				return fmt.Errorf("instance %s is both in %s and in %s: instance ids are unique across the organization", in.ID, other, where)
			}
			seen[in.ID] = where
		}
		return nil
	}
	all := []struct {
		fl    *File
		where string
	}{{f, "account " + f.Account}}
	for i := range f.Organization.Regional {
		r := &f.Organization.Regional[i]
		all = append(all, struct {
			fl    *File
			where string
		}{r, "account " + f.Account + " in " + r.Region})
	}
	for i := range f.Organization.Accounts {
		m := &f.Organization.Accounts[i]
		all = append(all, struct {
			fl    *File
			where string
		}{m, "account " + m.Account})
		for j := range m.Organization.Regional {
			r := &m.Organization.Regional[j]
			all = append(all, struct {
				fl    *File
				where string
			}{r, "account " + m.Account + " in " + r.Region})
		}
	}
	for _, x := range all {
		if err := add(x.fl, x.where); err != nil {
			return err
		}
	}
	return nil
}

// checkNoPublic refuses public = true outside the management account's
// home region: the sandbox's loopback "internet" serves that world only.
func checkNoPublic(where string, f *File) error {
	for _, in := range f.Instances {
		if in.Public {
			return fmt.Errorf("%s: instance %s: public = true is for the management account's home region only (the sandbox's loopback internet); reach it through SSM, an endpoint or a bastion", where, in.ID)
		}
	}
	return nil
}
