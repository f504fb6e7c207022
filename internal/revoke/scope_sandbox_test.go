//go:build linux

package revoke

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/scope"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// The built-in organization's accounts.
const (
	revokeOrgManagement = "123456789012"
	revokeOrgDev        = "210987654321"
	revokeOrgAudit      = "456789012345"
)

// revokeOrgClients writes an AWS config whose profile "admin" is the
// sandbox's admin and whose profiles dev, prod and audit assume each
// member's OrganizationAccountAccessRole from it with the session name
// session, and returns a client of profile in region.
func revokeOrgClients(t *testing.T, sb *sandbox.Sandbox, session string) func(profile, region string) *awsapi.Client {
	t.Helper()
	clientAs(t, sb, "admin") // scrubs the AWS environment, sets the sandbox's
	dir := t.TempDir()
	// jitssh caches role credentials by role, session and external id
	// under the home directory: a home of the test's own, and an external
	// id of this sandbox's (another start's sandbox refuses cached ones).
	t.Setenv("HOME", dir)
	external := fmt.Sprintf("revoke-test-%d", time.Now().UnixNano())
	var cfg, creds strings.Builder
	for _, id := range sb.World.Identities() {
		if id.Name == "admin" || id.Name == "alice" {
			fmt.Fprintf(&creds, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id.Name, id.AccessKeyID, id.SecretAccessKey)
			fmt.Fprintf(&cfg, "[profile %s]\nregion = us-east-1\n", id.Name)
		}
	}
	for _, m := range []struct{ name, id string }{{"dev", revokeOrgDev}, {"prod", "345678901234"}, {"audit", revokeOrgAudit}} {
		fmt.Fprintf(&cfg, "[profile %s]\nregion = us-east-1\nrole_arn = arn:aws:iam::%s:role/OrganizationAccountAccessRole\nsource_profile = admin\nrole_session_name = %s\nexternal_id = %s\n", m.name, m.id, session, external)
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(creds.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	made := map[string]*awsapi.Client{}
	return func(profile, region string) *awsapi.Client {
		if c := made[profile]; c != nil {
			return c.InRegion(region)
		}
		c, err := awsapi.New(context.Background(), awsapi.Options{Profile: profile, Region: "us-east-1", MaxAttempts: 1})
		if err != nil {
			t.Fatalf("client of profile %s: %v", profile, err)
		}
		made[profile] = c
		return c.InRegion(region)
	}
}

// TestScopePlanApplyOrg: over the built-in organization (management and
// members dev, prod, audit in us-east-1 and us-west-2), revoking alice,
// who has an SSM session in the management account (us-east-1) and one
// in dev (us-west-2, a role session of hers there): one SCP at the root,
// managed from the management account, plus the inline deny on her role
// there (AWS exempts the management account from SCPs); both sessions
// terminated; every instance reported with its account and region; the
// audit account, whose SCP denies listing its instances, a failure with
// its location while the rest is done. The undo takes the SCP and the
// inline deny off; running each twice is safe.
func TestScopePlanApplyOrg(t *testing.T) {
	acct, err := config.BuiltinOrg().Resolve(sandbox.LocalUser())
	if err != nil {
		t.Fatal(err)
	}
	sb := sandboxenv.Start(t, sandbox.Config{StateDir: t.TempDir(), SSHMode: sshd.Embedded, Account: acct}, false)
	ctx := context.Background()
	client := revokeOrgClients(t, sb, "alice")

	// alice's sessions: in the management account as herself, in dev as
	// a role session named alice.
	web1, apiWest := "", "i-0d1b2c3d4e5f00002"
	for _, in := range sb.Instances {
		if in.Name == "web-1" && (in.Account == "" || in.Account == revokeOrgManagement) {
			web1 = in.ID
		}
	}
	if _, err := client("alice", "us-east-1").StartSession(ctx, web1, "", nil, ""); err != nil {
		t.Fatalf("alice's session in the management account: %v", err)
	}
	if _, err := client("dev", "us-west-2").StartSession(ctx, apiWest, "", nil, ""); err != nil {
		t.Fatalf("alice's session in dev: %v", err)
	}

	var sites []Site
	for _, p := range []string{"admin", "dev", "audit"} {
		for _, r := range []string{"us-east-1", "us-west-2"} {
			sites = append(sites, Site{Location: scope.Location{Profile: p, Region: r}, Client: client(p, r)})
		}
	}
	o := Options{Person: policy.Person{User: "alice"}}
	plan, err := MakeScopePlan(ctx, sites, o, scope.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if plan.DenyIn != DenySCP || plan.Management != revokeOrgManagement || plan.OrgRoot == "" {
		t.Fatalf("plan: deny in %s, management %q, root %q", plan.DenyIn, plan.Management, plan.OrgRoot)
	}
	if len(plan.Locations) != 4 || len(plan.Failures) != 2 {
		t.Fatalf("plan: %d locations, failures %+v; want 4 and the audit account's 2", len(plan.Locations), plan.Failures)
	}
	for _, f := range plan.Failures {
		if f.Location.Profile != "audit" || !strings.Contains(f.Error, "ec2:DescribeInstances") {
			t.Errorf("failure %+v: want the audit account's DescribeInstances", f)
		}
	}
	// The test reaches dev as a role session named alice: the plan warns
	// that the deny may refuse the caller's own calls there.
	if n := strings.Join(plan.Notes, "\n"); !strings.Contains(n, "you are arn:aws:sts::"+revokeOrgDev+":assumed-role/OrganizationAccountAccessRole/alice") || strings.Contains(n, "profile admin") {
		t.Errorf("notes %q: want dev's caller named", plan.Notes)
	}
	sessions, inline := 0, ""
	for _, p := range plan.Locations {
		sessions += len(p.Sessions)
		if len(p.Roles) > 0 {
			inline += p.Location.Account + ":" + strings.Join(p.Roles, ",") + " "
		}
	}
	if sessions != 2 || inline != revokeOrgManagement+":JitsshDeveloper " {
		t.Errorf("plan: %d sessions (want 2), inline denies %q (want the management account's JitsshDeveloper only)", sessions, inline)
	}

	rep := ApplyScope(ctx, plan, scope.Limits{})
	got := map[string]int{}
	for _, r := range rep.Results {
		if r.Location == nil || r.Location.Account == "" || r.Location.Region == "" {
			t.Errorf("result without its location: %+v", r)
		}
		got[r.Kind+" "+r.Status]++
		if r.Kind == "session" && r.Status != Done {
			t.Errorf("session not terminated: %+v", r)
		}
	}
	if got["scp done"] != 1 || got["role policy done"] != 1 || got["session done"] != 2 || got["instance "+Failed] == 0 {
		t.Errorf("results %v: want the SCP once, one inline deny, 2 sessions, the instances failing (no jitssh-host in embedded mode)", got)
	}
	if rep.Failed() < 2 {
		t.Errorf("Failed() = %d, want the audit locations counted", rep.Failed())
	}
	for _, s := range sb.World.SessionList() {
		if s.Active {
			t.Errorf("session %s of %s still active", s.ID, s.Caller)
		}
	}
	alice := client("alice", "us-east-1")
	if _, err := alice.SendSSHPublicKey(ctx, web1, "alice", testkeys.New(t).Line("x")); err == nil || !strings.Contains(err.Error(), "explicit deny") {
		t.Errorf("alice's push under the revocation: %v", err)
	}

	// Again: the SCP updated, not a second one.
	plan, err = MakeScopePlan(ctx, sites, o, scope.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if rep := ApplyScope(ctx, plan, scope.Limits{}); !strings.Contains(rep.Results[0].Detail, "updated") {
		t.Errorf("second run: %+v", rep.Results[0])
	}

	o.Undo = true
	for i, want := range []string{"deleted", "no such service control policy"} {
		plan, err = MakeScopePlan(ctx, sites, o, scope.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		rep := ApplyScope(ctx, plan, scope.Limits{})
		if !strings.Contains(rep.Results[0].Detail, want) {
			t.Errorf("undo %d: %+v, want %q", i+1, rep.Results[0], want)
		}
		for _, r := range rep.Results {
			if r.Kind == "role policy" && r.Status == Failed {
				t.Errorf("undo %d: %+v", i+1, r)
			}
		}
	}
	if _, err := alice.SendSSHPublicKey(ctx, web1, "alice", testkeys.New(t).Line("x")); err != nil {
		t.Errorf("alice's push after the undo: %v", err)
	}
}
