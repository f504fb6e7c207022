package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// GenerateSpec adds a fleet of API-only instances (world.Instance.Virtual)
// for scale: listing, filtering and resolution over thousands.
//
// With Accounts or Regions above 1 it generates an organization instead:
// Accounts accounts (the file's, the management account, and generated
// members gen-001 …, their names and IAM account aliases, ids
// 100000000001 …, reached through the organization's access role) ×
// Regions regions (the organization's enabled ones, else
// DefaultOrgRegions) × Count instances in each, named
// PREFIX-<account name>-<region>-NNNNN with ids unique across the
// organization.
type GenerateSpec struct {
	Count      int    `toml:"count"`
	NamePrefix string `toml:"name_prefix"` // default "node"
	Accounts   int    `toml:"accounts"`
	Regions    int    `toml:"regions"`
}

// org reports whether g generates an organization.
func (g *GenerateSpec) org() bool { return g.Accounts > 1 || g.Regions > 1 }

// MaxGenerated bounds GenerateSpec.Count, and MaxGeneratedOrg a generated
// organization's instances.
const (
	MaxGenerated    = 100_000
	MaxGeneratedOrg = 400_000
)

// checkGenerate validates the generated fleet: its size, its name prefix,
// and ids apart from the configured instances' (ids).
func (f *File) checkGenerate(ids map[string]bool) error {
	if g := f.Generate; g != nil {
		if g.Count < 0 || g.Count > MaxGenerated {
			return fmt.Errorf("generate.count %d: want 0 to %d", g.Count, MaxGenerated)
		}
		if g.Accounts < 0 || g.Accounts > MaxAccounts || g.Regions < 0 || g.Regions > len(DefaultOrgRegions) {
			return fmt.Errorf("generate: accounts %d, regions %d: want 0 to %d accounts and 0 to %d regions", g.Accounts, g.Regions, MaxAccounts, len(DefaultOrgRegions))
		}
		if total := max(g.Accounts, 1) * max(g.Regions, 1) * g.Count; total > MaxGeneratedOrg {
			return fmt.Errorf("generate: %d accounts × %d regions × %d instances is %d, more than %d", max(g.Accounts, 1), max(g.Regions, 1), g.Count, total, MaxGeneratedOrg)
		}
		if g.org() && f.Organization != nil && len(f.Organization.Accounts)+max(g.Accounts, 1) > MaxAccounts {
			return fmt.Errorf("generate.accounts %d: with the %d configured members, more than %d accounts", g.Accounts, len(f.Organization.Accounts), MaxAccounts)
		}
		if g.NamePrefix == "" {
			g.NamePrefix = "node"
		}
		if !namePrefixPattern.MatchString(g.NamePrefix) {
			return fmt.Errorf("generate.name_prefix %q: want letters, digits and -", g.NamePrefix)
		}
		for _, in := range Generate(f.Region, g.NamePrefix, g.Count) {
			if ids[in.ID] {
				return fmt.Errorf("instance %s: the id is also one of the %d generated ones (i-0f…); choose another", in.ID, g.Count)
			}
		}
	}
	return nil
}

// SetGenerate sets the generated fleet and validates f again.
func (f *File) SetGenerate(g GenerateSpec) error {
	f.Generate = &g
	return f.check()
}

// Generate returns n API-only instances named PREFIX-00001 …, with ids
// i-0f00000000000001 … (above any hand-written id in the examples), spread
// over three AZs, tagged env (prod, staging, dev) and role (web, db,
// worker); every 20th is stopped and every 10th has its SSM agent offline,
// so filters have something to select.
func Generate(region, prefix string, n int) []world.Instance {
	return generate(region, prefix, n, 0)
}

// generate is Generate with instance k's id i-0f<15 hex digits of base+k>
// and names PREFIX-NNNNN.
func generate(region, prefix string, n int, base uint64) []world.Instance {
	out := make([]world.Instance, n)
	envs := []string{"prod", "staging", "dev"}
	roles := []string{"web", "db", "worker"}
	azs := []string{"a", "b", "c"}
	for i := range out {
		k := i + 1
		ip := fmt.Sprintf("10.%d.%d.%d", 100+k/65536, (k/256)%256, k%256)
		host := "ip-" + strings.ReplaceAll(ip, ".", "-")
		in := world.Instance{
			ID: fmt.Sprintf("i-0f%015x", base+uint64(k)), Hostname: host, State: "running", PrivateIP: ip,
			PrivateDNS: host + "." + internalDomain(region), AZ: region + azs[i%3],
			SubnetID: fmt.Sprintf("subnet-0f%015x", i%3+1), VpcID: "vpc-0f000000000000001",
			InstanceType: "t3.micro", ImageID: "ami-0a1b2c3d4e5f60001", LaunchTime: launch,
			Tags: map[string]string{
				"Name": fmt.Sprintf("%s-%05d", prefix, k), "env": envs[i%3], "role": roles[(i/3)%3],
			},
			SSMOnline: k%10 != 0,
			Virtual:   true,
		}
		if k%20 == 0 {
			in.State = "stopped"
		}
		out[i] = in
	}
	return out
}

// generateOrg adds a generated organization to org (GenerateSpec): the
// regions, the generated members and every account's generated fleets.
// Instance ids carry the account's and region's index above bit 32.
func generateOrg(org *Org, management, home string, g *GenerateSpec) {
	for _, r := range DefaultOrgRegions {
		if len(org.Regions) >= g.Regions {
			break
		}
		if !slices.Contains(org.Regions, r) && !slices.Contains(org.Disabled, r) {
			org.Regions = append(org.Regions, r)
		}
	}
	regions := org.Regions[:min(len(org.Regions), max(g.Regions, 1))]
	if len(org.Disabled) == 0 && !slices.Contains(regions, "ap-east-1") {
		org.Disabled = []string{"ap-east-1"} // an opt-in region not enabled, as most accounts have
	}
	for i := len(org.Members) + 1; i < g.Accounts; i++ {
		id := generatedAccountID(i)
		org.Members = append(org.Members, &Member{Account: &Account{Region: home, Account: id, Alias: generatedAlias(i)}, Name: fmt.Sprintf("gen-%03d", i),
			Regions: slices.Clone(regions), Disabled: slices.Clone(org.Disabled)})
	}
	fleet := func(acctIdx int, name string, regional *[]*Account, a *Account, accountRegions []string) {
		for ri, r := range regions {
			if !slices.Contains(accountRegions, r) {
				continue
			}
			base := uint64(acctIdx)<<40 | uint64(ri+1)<<32
			in := generate(r, g.NamePrefix+"-"+name+"-"+r, g.Count, base)
			if r == a.Region {
				a.Instances = append(a.Instances, in...)
				continue
			}
			ra := regionalFor(regional, r, a.Account)
			ra.Instances = append(ra.Instances, in...)
		}
	}
	mgmt := &Account{Region: home, Account: management}
	fleet(0, org.Name, &org.Regional, mgmt, org.Regions)
	org.generatedHome = mgmt.Instances
	for i, m := range org.Members {
		fleet(i+1, m.Name, &m.Regional, m.Account, m.Regions)
	}
}

// regionalFor returns the regional fleet of region in *list, added when
// missing.
func regionalFor(list *[]*Account, region, account string) *Account {
	for _, ra := range *list {
		if ra.Region == region {
			return ra
		}
	}
	ra := &Account{Region: region, Account: account}
	*list = append(*list, ra)
	return ra
}

// ParseGenerate parses the text form of a generated fleet: "N" (N
// instances in the account's region) or "AxRxN" (an organization of A
// accounts × R regions × N instances in each, e.g. 50x4x200), checked
// against the same bounds as [generate].
func ParseGenerate(s string) (GenerateSpec, error) {
	g := GenerateSpec{NamePrefix: "node"}
	parts := strings.Split(s, "x")
	if len(parts) != 1 && len(parts) != 3 {
		return g, fmt.Errorf("%q: want N, or ACCOUNTSxREGIONSxN like 50x4x200", s)
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		if p == "" || len(p) > 6 || strings.TrimLeft(p, "0123456789") != "" {
			return g, fmt.Errorf("%q: want N, or ACCOUNTSxREGIONSxN like 50x4x200, with whole numbers", s)
		}
		fmt.Sscan(p, &nums[i])
	}
	g.Count = nums[len(nums)-1]
	if len(nums) == 3 {
		g.Accounts, g.Regions = nums[0], nums[1]
		if g.Accounts < 1 || g.Regions < 1 {
			return g, fmt.Errorf("%q: at least 1 account and 1 region", s)
		}
	}
	if g.Count > MaxGenerated || g.Accounts > MaxAccounts || g.Regions > len(DefaultOrgRegions) ||
		max(g.Accounts, 1)*max(g.Regions, 1)*g.Count > MaxGeneratedOrg {
		return g, fmt.Errorf("%q: at most %d instances per region, %d accounts, %d regions and %d instances in all", s, MaxGenerated, MaxAccounts, len(DefaultOrgRegions), MaxGeneratedOrg)
	}
	return g, nil
}

// generatedAccountID is the id of the i-th generated member account.
func generatedAccountID(i int) string { return fmt.Sprintf("1%011d", i) }

// generatedAlias is the IAM account alias of the i-th generated account
// (its name, gen-NNN).
func generatedAlias(i int) string { return fmt.Sprintf("gen-%03d", i) }
