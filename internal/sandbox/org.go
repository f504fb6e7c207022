package sandbox

import (
	"fmt"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// buildOrg makes the organization's worlds around the management
// account's home world sb.World (config.Account.Org; without one, the
// organization of that one world) and sets sb.Org.
func (sb *Sandbox) buildOrg(acct *config.Account) error {
	o := acct.Org
	if o == nil {
		sb.Org = world.Single(sb.World)
		return nil
	}
	mgmt, err := orgAccount(sb.World, o.Name, o.Regions, o.Disabled, o.Regional)
	if err != nil {
		return err
	}
	accounts := []*world.OrgAccount{mgmt}
	for _, m := range o.Members {
		home, err := world.New(world.Config{Region: m.Region, Account: m.Account.Account, Identities: m.Identities, Instances: m.Instances,
			SCPs: m.SCPs, VPCs: m.VPCs, Subnets: m.Subnets, Endpoints: m.Endpoints, Roles: m.Roles})
		if err != nil {
			return fmt.Errorf("member account %s: %w", m.Account.Account, err)
		}
		a, err := orgAccount(home, m.Name, m.Regions, m.Disabled, m.Regional)
		if err != nil {
			return err
		}
		accounts = append(accounts, a)
	}
	sb.Org, err = world.NewOrg(accounts...)
	sb.orgAccessRole = o.AccessRole
	return err
}

// orgAccount returns the account of home with a world in each of its
// other enabled regions, holding the regional fleets.
func orgAccount(home *world.World, name string, regions, disabled []string, regional []*config.Account) (*world.OrgAccount, error) {
	a := &world.OrgAccount{ID: home.Account, Name: name, Home: home, Regions: map[string]*world.World{home.Region: home}, Disabled: disabled}
	for _, r := range regions {
		if r == home.Region {
			continue
		}
		cfg := world.Config{Region: r, Account: home.Account, SCPs: home.SCPs, IAM: home}
		for _, ra := range regional {
			if ra.Region == r {
				cfg.Instances, cfg.VPCs, cfg.Subnets, cfg.Endpoints = ra.Instances, ra.VPCs, ra.Subnets, ra.Endpoints
			}
		}
		w, err := world.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("account %s in %s: %w", home.Account, r, err)
		}
		a.Regions[r] = w
	}
	return a, nil
}

// writeOrgProfiles writes, for each member account, the AWS profile NAME
// (the account's name) assuming its organization access role with the
// default identity's keys, in the account's home region: what `aws
// --profile dev …` and jitssh's role profiles use.
func (sb *Sandbox) writeOrgProfiles(cfg *strings.Builder) {
	if sb.orgAccessRole == "" {
		return
	}
	for _, a := range sb.Org.Accounts()[1:] {
		arn := "arn:aws:iam::" + a.ID + ":role/" + sb.orgAccessRole
		fmt.Fprintf(cfg, "\n# member account %s (%s)\n[profile %s]\nregion = %s\nendpoint_url = %s\nrole_arn = %s\nsource_profile = default\nrole_session_name = %s\n",
			a.ID, a.Name, a.Name, a.Home.Region, sb.URL, arn, sb.DefaultUser())
	}
}
