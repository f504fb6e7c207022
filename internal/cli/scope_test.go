package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/scope"
	"github.com/jitssh/jitssh/internal/ssologin"
	"github.com/jitssh/jitssh/internal/targets"
)

// scopeFleetLoc is one (account, region) of scopeFleet's sandbox.
type scopeFleetLoc struct {
	account, region string
	instances       []world.Instance
	// alias is the account's IAM alias there; denyAlias denies the
	// account's identity iam:ListAccountAliases.
	alias     string
	denyAlias bool
}

// scopeFleet is several in-process sandbox accounts and regions behind
// one 127.0.0.1 endpoint, routed by the access key (the account) and the
// SigV4 credential scope's region; a region no world serves answers
// AuthFailure as EC2 does in a region the account has not enabled. The
// AWS config file has a profile scope-ACCOUNT per account (static keys,
// its first region); denied accounts' identities have no policy.
type scopeFleet struct {
	calls   atomic.Int64 // API requests served
	configs string       // AWS config file
	// delay is added to every answer (nanoseconds).
	delay atomic.Int64
	// served counts the requests each (access key/region) world got.
	served map[string]*atomic.Int64
	// iamCalls counts the IAM requests; iamDelay is added to their
	// answers (nanoseconds).
	iamCalls, iamDelay atomic.Int64
}

// servedIn is how many requests account's world in region got.
func (f *scopeFleet) servedIn(account, region string) int64 {
	return f.served[fmt.Sprintf("AKIASCOPE%011s", account[len(account)-11:])+"/"+region].Load()
}

var credentialScopeRe = regexp.MustCompile(`Credential=([A-Z0-9]+)/[0-9]+/([a-z0-9-]+)/`)

func newScopeFleet(t *testing.T, locs []scopeFleetLoc, denied ...string) *scopeFleet {
	t.Helper()
	f := &scopeFleet{served: map[string]*atomic.Int64{}}
	handlers := map[string]http.Handler{} // key/region
	keys := map[string]string{}           // account → access key
	var conf, creds strings.Builder
	for _, l := range locs {
		key, ok := keys[l.account]
		if !ok {
			key = fmt.Sprintf("AKIASCOPE%011s", l.account[len(l.account)-11:])
			keys[l.account] = key
			fmt.Fprintf(&conf, "[profile scope-%s]\nregion = %s\nendpoint_url = %%URL%%\n", l.account, l.region)
			fmt.Fprintf(&creds, "[scope-%s]\naws_access_key_id = %s\naws_secret_access_key = secret-of-%s-0123456789abcdef\n", l.account, key, l.account)
		}
		id := world.Identity{AccessKeyID: key, SecretAccessKey: "secret-of-" + l.account + "-0123456789abcdef",
			ARN: "arn:aws:iam::" + l.account + ":user/dev", UserID: "AIDA" + l.account}
		if !contains(denied, l.account) {
			id.Policies = []policy.Document{policy.User(policy.Options{Region: l.region, Account: l.account})}
		}
		if l.denyAlias {
			id.Policies = append(id.Policies, policy.Document{Version: policy.Version, Statement: []policy.Statement{{
				Effect: policy.Deny, Action: policy.Strings{"iam:ListAccountAliases"}, Resource: policy.Strings{"*"}}}})
		}
		w, err := world.New(world.Config{Region: l.region, Account: l.account, AccountAlias: l.alias, Identities: []world.Identity{id}, Instances: l.instances})
		if err != nil {
			t.Fatal(err)
		}
		handlers[key+"/"+l.region] = apis.NewHandler(w, apis.Options{})
		f.served[key+"/"+l.region] = &atomic.Int64{}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		time.Sleep(time.Duration(f.delay.Load()))
		if strings.Contains(r.Header.Get("Authorization"), "/iam/aws4_request") {
			f.iamCalls.Add(1)
			time.Sleep(time.Duration(f.iamDelay.Load()))
		}
		m := credentialScopeRe.FindStringSubmatch(r.Header.Get("Authorization"))
		if m != nil && handlers[m[1]+"/"+m[2]] != nil {
			f.served[m[1]+"/"+m[2]].Add(1)
			handlers[m[1]+"/"+m[2]].ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors><RequestID>x</RequestID></Response>`)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	f.configs = filepath.Join(dir, "config")
	os.WriteFile(f.configs, []byte(strings.ReplaceAll(conf.String(), "%URL%", srv.URL)), 0o600)
	os.WriteFile(filepath.Join(dir, "credentials"), []byte(creds.String()), 0o600)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "JITSSH_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", f.configs)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv(envStateDir, filepath.Join(dir, "state"))
	return f
}

// writeJitsshConfig writes jitssh's config file for the test.
func writeJitsshConfig(t *testing.T, text string) {
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JITSSH_CONFIG", p)
}

func fleetInstance(n int, name string) world.Instance {
	return world.Instance{ID: fmt.Sprintf("i-0a1b2c3d4e5f%05x", n), State: "running", PrivateIP: fmt.Sprintf("10.0.%d.%d", n/200, 10+n%200),
		Tags: map[string]string{"Name": name}, SSMOnline: true, Virtual: true}
}

// threeAccounts: 111… in two regions, 222… in two regions, 333… denied;
// a Name tag "shared" in two accounts.
func threeAccounts(t *testing.T) *scopeFleet {
	return newScopeFleet(t, []scopeFleetLoc{
		{account: "111111111111", region: "us-east-1", instances: []world.Instance{fleetInstance(1, "a-east"), fleetInstance(2, "shared")}},
		{account: "111111111111", region: "eu-west-1", instances: []world.Instance{fleetInstance(3, "a-west")}},
		{account: "222222222222", region: "us-east-1", instances: []world.Instance{fleetInstance(4, "b-east")}},
		{account: "222222222222", region: "eu-west-1", instances: []world.Instance{fleetInstance(5, "b-west"), fleetInstance(6, "shared")}},
		{account: "333333333333", region: "us-east-1", instances: []world.Instance{fleetInstance(7, "c-east")}},
	}, "333333333333")
}

const threeAccountsScope = `[[scope]]
name = "org"
profiles = ["scope-*"]
regions = ["us-east-1", "eu-west-1", "ap-south-2"]
`

func runJitssh(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut strings.Builder
	code = Main(context.Background(), args, IOStreams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return out.String(), errOut.String(), code
}

// TestLsScope: ls over a scope of three accounts and three regions lists
// every instance it may with its account, profile and region; the account
// that denies and the region no account enabled are listed at the end
// with their account, region and fix, and do not stop the rest.
func TestLsScope(t *testing.T) {
	threeAccounts(t)
	writeJitsshConfig(t, threeAccountsScope)
	out, errOut, code := runJitssh(t, "ls", "--scope", "org", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var rows []listed
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", r.Name, r.ID, r.Account, r.Profile, r.Region))
	}
	sort.Strings(got)
	want := []string{
		"a-east i-0a1b2c3d4e5f00001 111111111111 scope-111111111111 us-east-1",
		"a-west i-0a1b2c3d4e5f00003 111111111111 scope-111111111111 eu-west-1",
		"b-east i-0a1b2c3d4e5f00004 222222222222 scope-222222222222 us-east-1",
		"b-west i-0a1b2c3d4e5f00005 222222222222 scope-222222222222 eu-west-1",
		"shared i-0a1b2c3d4e5f00002 111111111111 scope-111111111111 us-east-1",
		"shared i-0a1b2c3d4e5f00006 222222222222 scope-222222222222 eu-west-1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range []string{
		"5 of 9 locations not listed",
		"profile scope-333333333333, us-east-1: ec2:DescribeInstances failed: UnauthorizedOperation",
		"fix: profile scope-333333333333 may not call ec2:DescribeInstances in this account",
		"profile scope-111111111111, ap-south-2: ec2:DescribeInstances failed: AuthFailure",
		"fix: ap-south-2 is not enabled for this account",
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	// the table: same rows, one line each, the header first
	out, _, code = runJitssh(t, "ls", "--scope", "org")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 7 || !strings.HasPrefix(lines[0], "ACCOUNT") || !strings.Contains(out, "222222222222  scope-222222222222") {
		t.Errorf("table (exit %d):\n%s", code, out)
	}
}

// TestLocateAcrossScope: an instance id is found in whichever account
// and region has it, and remembered; the next lookup asks that location
// alone; a wrong cached location is not trusted (the search runs again
// and the cache is corrected); a Name in two accounts is ambiguous, listed
// with account and region; .REGION.ACCOUNT pins the search.
func TestLocateAcrossScope(t *testing.T) {
	f := threeAccounts(t)
	writeJitsshConfig(t, "default_scope = \"org\"\n"+threeAccountsScope)
	g := &globals{io: IOStreams{In: strings.NewReader(""), Out: &strings.Builder{}, Err: &strings.Builder{}}}
	ctx := context.Background()
	sp, _ := targets.Parse("i-0a1b2c3d4e5f00005")
	l, err := g.locate(ctx, sp, nil)
	if err != nil || l == nil || l.inst.ID != sp.Value || l.loc != (scope.Location{Profile: "scope-222222222222", Account: "222222222222", Region: "eu-west-1"}) || l.api.Region != "eu-west-1" {
		t.Fatalf("locate = %+v, %v", l, err)
	}
	cache := locationCache()
	if got, ok := cache.Get(sp.Value); !ok || got != l.loc {
		t.Fatalf("cache has %+v, %v", got, ok)
	}
	before := f.servedIn("222222222222", "eu-west-1")
	if l, err = g.locate(ctx, sp, nil); err != nil || l.loc.Account != "222222222222" {
		t.Fatalf("warm locate = %+v, %v", l, err)
	}
	if n := f.servedIn("222222222222", "eu-west-1") - before; n != 1 {
		t.Errorf("warm locate made %d calls there, want 1 (DescribeInstances where the cache says)", n)
	}
	// a cache that lies is checked, not believed
	cache.Put(map[string]scope.Location{sp.Value: {Profile: "scope-111111111111", Account: "111111111111", Region: "us-east-1"}})
	if l, err = g.locate(ctx, sp, nil); err != nil || l.loc.Account != "222222222222" {
		t.Fatalf("locate with a wrong cache = %+v, %v", l, err)
	}
	if got, _ := cache.Get(sp.Value); got.Account != "222222222222" {
		t.Errorf("cache not corrected: %+v", got)
	}

	// a cached location outside the scope asked for is not used
	writeJitsshConfig(t, threeAccountsScope+"[[scope]]\nname = \"a\"\nprofiles = [\"scope-111111111111\"]\n")
	ga := &globals{io: g.io, scope: "a"}
	if l, err := ga.locate(ctx, sp, nil); err == nil {
		t.Errorf("--scope a found %s in %s, outside the scope (from the cache)", sp.Value, l.loc)
	}
	writeJitsshConfig(t, "default_scope = \"org\"\n"+threeAccountsScope)

	sp, _ = targets.Parse("shared")
	_, err = g.locate(ctx, sp, nil)
	var amb *targets.AmbiguousError
	if !errors.As(err, &amb) || len(amb.Matches) != 2 || !strings.Contains(err.Error(), "ACCOUNT") || !strings.Contains(err.Error(), "222222222222  eu-west-1") {
		t.Fatalf("ambiguous name: %v", err)
	}
	sp, _ = targets.Parse("shared.eu-west-1.222222222222")
	if l, err = g.locate(ctx, sp, nil); err != nil || l.inst.ID != "i-0a1b2c3d4e5f00006" {
		t.Fatalf("pinned: %+v, %v", l, err)
	}
	sp, _ = targets.Parse("a-east.eu-west-1.111111111111")
	if _, err = g.locate(ctx, sp, nil); err == nil || !strings.Contains(advise(err).Error(), "in scope org") {
		t.Errorf("pinned elsewhere: %v", err)
	}
	sp, _ = targets.Parse("i-0a1b2c3d4e5f00009")
	_, err = g.locate(ctx, sp, nil)
	if err == nil || !strings.Contains(advise(err).Error(), "not searched: profile scope-333333333333, us-east-1") {
		t.Errorf("not found: %v", advise(err))
	}
}

// TestConfigBlockCoversScopes: with scopes in jitssh's config, the
// installed block's proxy searches all of them, and names pinned to an
// account of the AWS config's profiles are routed through jitssh.
func TestConfigBlockCoversScopes(t *testing.T) {
	threeAccounts(t)
	writeJitsshConfig(t, threeAccountsScope)
	runJitssh(t, "ls", "--scope", "all") // learns the accounts of the static-key profiles
	out, errOut, code := runJitssh(t, "config", "print")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{"proxy --scope all '%r' '%h' %p", "*.111111111111,*.222222222222,!"} {
		if !strings.Contains(out, w) {
			t.Errorf("block lacks %q:\n%s", w, out)
		}
	}
	out, _, _ = runJitssh(t, "config", "print", "--scope", "org")
	if !strings.Contains(out, "proxy --scope org '%r'") {
		t.Errorf("--scope org:\n%s", out)
	}
	writeJitsshConfig(t, "")
	if out, _, _ = runJitssh(t, "config", "print"); strings.Contains(out, "--scope") || strings.Contains(out, "111111111111") {
		t.Errorf("no scopes, yet:\n%s", out)
	}
}

// TestLsScopeProgressOnlyOnATerminal: with stderr a terminal, ls over a
// scope draws its progress line there and erases it before rows and at
// the end (nothing of it is left); with stderr not a terminal, none.
func TestLsScopeProgressOnlyOnATerminal(t *testing.T) {
	f := threeAccounts(t)
	writeJitsshConfig(t, threeAccountsScope)
	f.delay.Store(int64(150 * time.Millisecond)) // past the line's first tick
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	var out strings.Builder
	code := Main(context.Background(), []string{"ls", "--scope", "org"}, IOStreams{In: strings.NewReader(""), Out: &out, Err: w, IsTerminal: func(int) bool { return true }})
	w.Close()
	stderr := <-got
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	progress := strings.Index(stderr, "jitssh: ls: ")
	if progress < 0 || !strings.Contains(stderr, " locations, ") {
		t.Fatalf("no progress line on a terminal's stderr: %q", stderr)
	}
	// every drawing is followed by an erasure before anything else is written
	if last := strings.LastIndex(stderr, "jitssh: ls: "); !strings.Contains(stderr[last:], "\r\x1b[K") {
		t.Errorf("the progress line is left on the terminal: %q", stderr[last:])
	}
	_, errOut, _ := runJitssh(t, "ls", "--scope", "org")
	if strings.Contains(errOut, "jitssh: ls: ") || strings.Contains(errOut, "\x1b[") {
		t.Errorf("progress on a stderr that is not a terminal: %q", errOut)
	}
}

// TestDoctorNamesTheLocation: doctor of an instance found across the
// scope says where (account, region, profile) and checks it there.
func TestDoctorNamesTheLocation(t *testing.T) {
	threeAccounts(t)
	writeJitsshConfig(t, threeAccountsScope)
	out, errOut, _ := runJitssh(t, "doctor", "--scope", "org", "i-0a1b2c3d4e5f00005")
	for _, w := range []string{"account 222222222222, eu-west-1 (profile scope-222222222222)", "i-0a1b2c3d4e5f00005 (b-west) is running"} {
		if !strings.Contains(out, w) {
			t.Errorf("doctor lacks %q:\n%s\n%s", w, out, errOut)
		}
	}
}

// TestProfileGlobs: --profile takes a glob over the AWS config's
// profiles, searched in --region (each profile's own region without it).
func TestProfileGlobs(t *testing.T) {
	threeAccounts(t)
	writeJitsshConfig(t, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--profile", "scope-[12]*"}, "usage"},
		{[]string{"--profile", "scope-*", "--region", "eu-west-1"}, "a-west 111111111111 eu-west-1,b-west 222222222222 eu-west-1,shared 222222222222 eu-west-1"},
		{[]string{"--profile", "scope-1*"}, "a-east 111111111111 us-east-1,shared 111111111111 us-east-1"},
	} {
		out, errOut, code := runJitssh(t, append([]string{"ls", "--output", "json"}, c.args...)...)
		if c.want == "usage" {
			if code == 0 {
				t.Errorf("ls %v accepted", c.args)
			}
			continue
		}
		var rows []listed
		if err := json.Unmarshal([]byte(out), &rows); err != nil || code != 0 {
			t.Fatalf("ls %v: exit %d, %v:\n%s\n%s", c.args, code, err, out, errOut)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Name+" "+r.Account+" "+r.Region)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != c.want {
			t.Errorf("ls %v = %v, want %s", c.args, got, c.want)
		}
	}
}

// TestLocationFixes: each kind of location failure gets its own fix.
func TestLocationFixes(t *testing.T) {
	at := scope.Location{Profile: "p", Account: "111111111111", Region: "ap-east-1"}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&awsapi.APIError{Action: "ec2:DescribeInstances", Code: "AuthFailure"}, "ap-east-1 is not enabled for this account"},
		{&awsapi.APIError{Action: "ssm:DescribeInstanceInformation", Code: "UnrecognizedClientException"}, "ap-east-1 is not enabled"},
		{&awsapi.APIError{Action: "ec2:DescribeRegions", Code: "AuthFailure"}, "AWS refused the credentials of profile p"},
		{&awsapi.APIError{Action: "ec2:DescribeInstances", Code: "UnauthorizedOperation"}, "profile p may not call ec2:DescribeInstances"},
		{awsapi.ErrNoRegion, "set region in profile p"},
		{&ssologin.NoPreferredRoleError{Account: "111111111111", Offered: []string{"Dev", "Ops"}, Preferred: []string{"Admin"}}, "add one of Dev, Ops to sso_roles"},
		{&ssologin.NoPreferredRoleError{Account: "111111111111", Preferred: []string{"Admin"}}, "no role of this account is assigned to you"},
		{&noSSOProfileError{session: "corp", file: "/h/.aws/config"}, "sso_session = corp"},
		{&ssologin.LoginRequiredError{Session: &ssologin.Session{Name: "corp", Profile: "corp-sso"}, Reason: "not signed in"}, "`jitssh login --profile corp-sso`"},
	} {
		if got := locationFix(scope.Failure{Location: at, Err: c.err}); !strings.Contains(got, c.want) {
			t.Errorf("fix for %v = %q, want %q", c.err, got, c.want)
		}
	}
}
