package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/eice"
	"github.com/jitssh/jitssh/internal/sandbox/sso"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
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
		home, err := world.New(world.Config{Region: m.Region, Account: m.Account.Account, AccountAlias: m.Alias, Identities: m.Identities, Instances: m.Instances,
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
// --profile dev …` and jitssh's role profiles use. The role session is
// named after the default user (jitssh ssh's default login), and the
// profile's external_id names this start: the AWS CLI and jitssh cache
// role credentials under a key made of the role, the session name and
// the external id (~/.aws/cli/cache), and another start's sandbox does
// not know the cached ones. The access role's trust sets no external id
// condition, so any is accepted.
func (sb *Sandbox) writeOrgProfiles(cfg *strings.Builder) {
	if sb.orgAccessRole == "" {
		return
	}
	start := "jitssh-sandbox-" + strconv.FormatInt(time.Now().UnixMilli(), 36)
	for _, a := range sb.Org.Accounts()[1:] {
		arn := "arn:aws:iam::" + a.ID + ":role/" + sb.orgAccessRole
		fmt.Fprintf(cfg, "\n# member account %s (%s)\n[profile %s]\nregion = %s\nendpoint_url = %s\nrole_arn = %s\nsource_profile = default\nrole_session_name = %s\nexternal_id = %s\n",
			a.ID, a.Name, a.Name, a.Home.Region, sb.URL, arn, sb.DefaultUser(), start)
	}
}

// orgAccountNames are the accounts' names by id, for the Identity
// Center's ListAccounts (nil without an organization).
func (sb *Sandbox) orgAccountNames() map[string]string {
	if sb.orgAccessRole == "" {
		return nil
	}
	out := map[string]string{}
	for _, a := range sb.Org.Accounts() {
		out[a.ID] = a.Name
	}
	return out
}

// arnAccount returns the account id of an ARN (arn:aws:SERVICE::ACCOUNT:…).
func arnAccount(arn string) (string, bool) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 || f[0] != "arn" || f[4] == "" {
		return "", false
	}
	return f[4], true
}

// writeMemberSSOProfiles writes, for each member account the first
// Identity Center user is assigned to, the profile sso-<account name>
// with the user's first permission set there (the sso-session of the
// profile "sso").
func (sb *Sandbox) writeMemberSSOProfiles(cfg *strings.Builder, u sso.User) {
	done := map[string]bool{sb.World.Account: true}
	for _, as := range u.Assignments {
		a, ok := sb.Org.Account(as.Account)
		if !ok || done[as.Account] {
			continue
		}
		done[as.Account] = true
		fmt.Fprintf(cfg, "\n# %s in member account %s as %s\n[profile %s-%s]\nsso_session = %s\nsso_account_id = %s\nsso_role_name = %s\nregion = %s\nendpoint_url = %s\nservices = %s\n",
			as.PermissionSet, a.ID, u.UserName, SSOProfile, a.Name, SSOSessionName, a.ID, as.PermissionSet, a.Home.Region, sb.URL, ssoServices)
	}
}

// worldOf returns the world of the instance with the given id (World when
// no world has it).
func (sb *Sandbox) worldOf(instanceID string) *world.World {
	if sb.Org != nil {
		if w, ok := sb.Org.InstanceWorld(instanceID); ok {
			return w
		}
	}
	return sb.World
}

// sessionWorld returns the world holding an SSM session (nil: none).
func (sb *Sandbox) sessionWorld(id string) *world.World {
	if w, ok := sb.Org.SessionWorld(id); ok {
		return w
	}
	return nil
}

// eiceRouter serves /openTunnel with the EC2 Instance Connect Endpoint
// handler of the (account, region) world the presigned URL's credential
// scope names, as apis.NewRouter routes the APIs: the account whose IAM
// knows the access key, its world in the scope's region (else its home
// world, which refuses the region).
type eiceRouter struct {
	org     *world.Org
	byWorld map[*world.World]*eice.Handler
	def     *eice.Handler
}

func (sb *Sandbox) newEICERouter(tl *trail.Log) *eiceRouter {
	rt := &eiceRouter{org: sb.Org, byWorld: map[*world.World]*eice.Handler{}}
	for _, w := range sb.Org.Worlds() {
		rt.byWorld[w] = &eice.Handler{
			World: w, Trail: tl, Logger: sb.log.With("component", "eice", "account", w.Account, "region", w.Region),
			Dial: func(ctx context.Context, vpcID, host string, port int) (eice.Conn, error) {
				return sb.dialVPC(ctx, w, vpcID, host, port)
			},
		}
	}
	rt.def = rt.byWorld[sb.World]
	return rt
}

func (rt *eiceRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := strings.Split(r.URL.Query().Get("X-Amz-Credential"), "/")
	if len(f) == 5 {
		if a, ok := rt.org.ByAccessKey(f[0]); ok {
			if rw, ok := a.Regions[f[2]]; ok {
				rt.byWorld[rw].ServeHTTP(w, r)
				return
			}
			rt.byWorld[a.Home].ServeHTTP(w, r)
			return
		}
	}
	rt.def.ServeHTTP(w, r)
}
