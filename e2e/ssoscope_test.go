package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// ssoScopeConfig is jitssh's config with a scope of the sandbox's
// sso-session: every account its first user is assigned to, as the
// roles listed (first offered wins), in both enabled regions.
func ssoScopeConfig(roles string) string {
	return `sso_roles = [` + roles + `]

[[scope]]
name = "orgsso"
sso_session = "sandbox"
regions = ["us-east-1", "us-west-2"]
`
}

// newSSOOrgEnv is newSSOEnv for the built-in organization (jitssh-sandbox
// up --org): the env file's variables (its AWS config has the sso-session
// "sandbox", the profiles sso, sso-dev, sso-prod and the members'), no
// access keys in the environment, jitssh's config defining the scope
// orgsso (roles as given), and the ssh config block installed with it.
func newSSOOrgEnv(t *testing.T, roles string) *ssoEnv {
	t.Helper()
	acct, err := config.BuiltinOrg().Resolve(sandbox.LocalUser())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, sshd.Embedded, func(c *sandbox.Config) { c.Account = acct })
	envFile := filepath.Join(t.TempDir(), "env")
	if err := e.sb.WriteFiles(envFile); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, kv := range e.vars {
		if !strings.HasPrefix(kv, "AWS_") {
			vars = append(vars, kv)
		}
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		kv, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "JITSSH_STATE_DIR" || strings.HasPrefix(k, "AWS_ACCESS") || strings.HasPrefix(k, "AWS_SECRET") || k == "AWS_SESSION_TOKEN" {
			continue
		}
		v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'"), `'\''`, "'")
		vars = append(vars, k+"="+v)
	}
	conf := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(conf, []byte(ssoScopeConfig(roles)), 0o600); err != nil {
		t.Fatal(err)
	}
	vars = append(vars, "JITSSH_CONFIG="+conf)
	se := &ssoEnv{env: e, vars: vars, envFile: envFile}
	if !strings.Contains(readFile(t, envValue(vars, "AWS_CONFIG_FILE")), "[profile sso-dev]") {
		t.Fatalf("the organization's AWS config has no sso-dev profile:\n%s", readFile(t, envValue(vars, "AWS_CONFIG_FILE")))
	}
	if out, stderr, err := se.run(nil, "jitssh", append([]string{"config", "install", "--file", e.sshCf}, userArgs(t)...)...); err != nil {
		t.Fatalf("jitssh config install: %v\n%s%s", err, out, stderr)
	}
	return se
}

// ssoListed is a row of `jitssh ls --output json`.
type ssoListed struct {
	ID, Name, Account, Profile, Region string
}

// TestScopeSSOSession: a scope of an SSO session (sso_session =
// "sandbox"): before any sign-in, ls says how to sign in; after `jitssh
// login --profile sso`, ls --scope lists the instances of the member
// accounts the session reaches (through their JitsshUser roles, as
// sso:sandbox/ACCOUNT/JitsshUser), and plain ssh of dev's api-west-1
// (us-west-2) through the installed block, and `jitssh ssh` (its proxy
// handed the label), connect with the key pushed by the permission set's
// role session in dev's us-west-2 (CloudTrail); jitssh shell opens its
// session there as that role; doctor names the location
// and checks the role's credentials.
func TestScopeSSOSession(t *testing.T) {
	e := newSSOOrgEnv(t, `"JitsshUser"`)
	_, stderr, err := e.run(nil, "jitssh", "ls", "--scope", "orgsso")
	if code := exitCodeOf(err); code != 255 || !strings.Contains(stderr, "jitssh login --profile sso") {
		t.Fatalf("ls before signing in: exit %d, want 255 and the sign-in advice:\n%s", code, stderr)
	}
	e.deviceLogin(t)
	out, stderr, err := e.run(nil, "jitssh", "ls", "--scope", "orgsso", "--output", "json")
	if err != nil {
		t.Fatalf("jitssh ls --scope orgsso: %v\n%s", err, stderr)
	}
	var rows []ssoListed
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("ls json: %v\n%s", err, out)
	}
	got := map[string]ssoListed{}
	accounts := map[string]bool{}
	for _, r := range rows {
		got[r.Name] = r
		accounts[r.Account] = true
	}
	api := got["api-west-1"]
	if api.ID != orgMemberInstance || api.Account != orgMemberAccount || api.Region != orgMemberRegion || api.Profile != "sso:sandbox/"+orgMemberAccount+"/JitsshUser" {
		t.Errorf("ls: api-west-1 = %+v", api)
	}
	var accs []string
	for a := range accounts {
		accs = append(accs, a)
	}
	sort.Strings(accs)
	if strings.Join(accs, ",") != "123456789012,210987654321,345678901234" {
		t.Errorf("ls --scope orgsso: accounts %v, want the management account, dev and prod (audit is assigned to nobody)\n%s", accs, out)
	}
	// ls remembered where api-west-1 is, under its label: the proxy of
	// plain ssh (--scope all) looks there first
	cache := readFile(t, filepath.Join(e.home, ".cache", "jitssh", "locations"))
	if !strings.Contains(cache, orgMemberInstance+"\tsso:sandbox/"+orgMemberAccount+"/JitsshUser\t"+orgMemberAccount+"\t"+orgMemberRegion+"\t") {
		t.Errorf("location cache:\n%s", cache)
	}
	// --region all: each account's enabled regions, asked as its role
	out, stderr, err = e.run(nil, "jitssh", "ls", "--scope", "orgsso", "--region", "all")
	if err != nil || !strings.Contains(out, "api-west-1") || !strings.Contains(out, "web-west-1") || strings.Contains(out+stderr, "ap-east-1") || strings.Contains(stderr, "not listed") {
		t.Errorf("ls --scope orgsso --region all: %v\n%s%s", err, out, stderr)
	}
	var hostname string
	for _, i := range e.sb.Instances {
		if i.ID == orgMemberInstance {
			hostname = i.Hostname
		}
	}
	out, stderr, err = e.run(nil, "ssh", "-F", e.sshCf, orgMemberInstance, "hostname")
	if err != nil || strings.TrimSpace(out) != hostname {
		t.Fatalf("ssh %s hostname = %q, %v; want %q\n%s", orgMemberInstance, out, err, hostname, stderr)
	}
	before := ssoScopeTrail(t, e.sb.CloudTrail)
	if before["SendSSHPublicKey"] != 1 || before["StartSession"] == 0 {
		t.Fatalf("CloudTrail after ssh: %v calls on %s by the SSO role, want 1 key push and a session", before, orgMemberInstance)
	}
	out, stderr, err = e.run(nil, "jitssh", append([]string{"ssh", "--scope", "orgsso", "--key-store", "file", "api-west-1"}, append(userArgs(t), "--", "hostname")...)...)
	if err != nil || strings.TrimSpace(out) != hostname {
		t.Fatalf("jitssh ssh --scope orgsso api-west-1 hostname = %q, %v; want %q\n%s", out, err, hostname, stderr)
	}
	shellBefore := ssoScopeTrail(t, e.sb.CloudTrail)["StartSession"]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sh := e.command(ctx, nil, "jitssh", "shell", "--scope", "orgsso", "api-west-1")
	sh.Stdin = strings.NewReader("echo shell-$((6*7))\nexit\n")
	shOut, err := sh.CombinedOutput()
	if after := ssoScopeTrail(t, e.sb.CloudTrail)["StartSession"]; err != nil || !strings.Contains(string(shOut), "shell-42") || after != shellBefore+1 {
		t.Errorf("jitssh shell --scope orgsso api-west-1: %v, sessions %d → %d\n%s", err, shellBefore, after, shOut)
	}
	out, stderr, err = e.run(nil, "jitssh", append([]string{"doctor", "--scope", "orgsso", "api-west-1"}, userArgs(t)...)...)
	if err != nil || !strings.Contains(out, "location       account 210987654321, us-west-2 (profile sso:sandbox/210987654321/JitsshUser)") ||
		!strings.Contains(out, "AWS profile    sso:sandbox/210987654321/JitsshUser (role JitsshUser in account 210987654321") ||
		!strings.Contains(out, "credentials    arn:aws:sts::210987654321:assumed-role/AWSReservedSSO_JitsshUser_") {
		t.Errorf("jitssh doctor --scope orgsso api-west-1: %v\n%s%s", err, out, stderr)
	}
	// the proxy, handed sso:sandbox/ACCOUNT/JitsshUser, opened its
	// session as that role in that account and region
	if after := ssoScopeTrail(t, e.sb.CloudTrail); after["StartSession"] <= before["StartSession"] {
		t.Fatalf("CloudTrail after jitssh ssh: %v calls on %s by the SSO role, before %v: no new session", after, orgMemberInstance, before)
	}
}

// TestScopeSSONoPreferredRole: with sso_roles naming only a permission
// set the members do not assign (AdministratorAccess is the management
// account's only), ls lists the management account and reports dev and
// prod, each with the roles they offer and the fix, without failing.
func TestScopeSSONoPreferredRole(t *testing.T) {
	e := newSSOOrgEnv(t, `"AdministratorAccess"`)
	e.deviceLogin(t)
	out, stderr, err := e.run(nil, "jitssh", "ls", "--scope", "orgsso")
	if err != nil {
		t.Fatalf("jitssh ls --scope orgsso: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "sso:sandbox/123456789012/AdministratorAccess") || strings.Contains(out, orgMemberAccount) {
		t.Errorf("ls lists:\n%s", out)
	}
	for _, w := range []string{"account " + orgMemberAccount, "offers none of the preferred roles AdministratorAccess (it offers JitsshUser)",
		"fix: add one of JitsshUser to sso_roles", "account 345678901234"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("ls's stderr lacks %q:\n%s", w, stderr)
		}
	}
}

// ssoScopeTrail counts the SendSSHPublicKey and StartSession calls on the
// member instance in CloudTrail, by name; each must be in the member
// account and its second region, by a session of the JitsshUser
// permission set's role.
func ssoScopeTrail(t *testing.T, path string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, ev := range trailEvents(t, path) {
		on := trailParam(ev, "instanceId") == orgMemberInstance || trailParam(ev, "target") == orgMemberInstance
		if (ev.EventName != "SendSSHPublicKey" && ev.EventName != "StartSession") || !on || ev.ErrorCode != "" {
			continue
		}
		if ev.RecipientAccountID != orgMemberAccount || ev.AWSRegion != orgMemberRegion || ev.UserIdentity.AccountID != orgMemberAccount ||
			!strings.HasPrefix(ev.UserIdentity.ARN, "arn:aws:sts::"+orgMemberAccount+":assumed-role/AWSReservedSSO_JitsshUser_") {
			t.Fatalf("%s in CloudTrail: account %s, region %s, caller %s (%s); want %s, %s, the JitsshUser permission set's role", ev.EventName,
				ev.RecipientAccountID, ev.AWSRegion, ev.UserIdentity.ARN, ev.UserIdentity.AccountID, orgMemberAccount, orgMemberRegion)
		}
		n[ev.EventName]++
	}
	return n
}
