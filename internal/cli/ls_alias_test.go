package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/scope"
	"github.com/jitssh/jitssh/internal/textwidth"
)

// longAlias is an alias wider than an account id.
const longAlias = "team-a-payments-production-eu"

// aliasFleet: 111… (alias longAlias) in two regions, 222… without an
// alias, 444… with an alias its identity may not read
// (iam:ListAccountAliases denied); every account lists.
func aliasFleet(t *testing.T) *scopeFleet {
	t.Helper()
	var locs []scopeFleetLoc
	n := 0
	for _, a := range []struct {
		account, alias, name string
		deny                 bool
	}{{"111111111111", longAlias, "a", false}, {"222222222222", "", "b", false}, {"444444444444", "hidden-alias", "d", true}} {
		for _, r := range []string{"us-east-1", "eu-west-1"} {
			n++
			locs = append(locs, scopeFleetLoc{account: a.account, region: r, alias: a.alias, denyAlias: a.deny,
				instances: []world.Instance{fleetInstance(n, a.name+"-"+r)}})
		}
	}
	f := newScopeFleet(t, locs)
	writeJitsshConfig(t, "[[scope]]\nname = \"org\"\nprofiles = [\"scope-*\"]\nregions = [\"us-east-1\", \"eu-west-1\"]\n")
	return f
}

// TestLsScopeAccountAliases: ls over a scope shows an account's IAM alias
// in the ACCOUNT column, the id for an account without one and for one
// whose alias may not be read (no warning: stderr stays empty); the alias
// is asked once per account, not per region; the columns still align
// with an alias wider than an id; JSON rows keep the id in account and
// add account_alias when there is one.
func TestLsScopeAccountAliases(t *testing.T) {
	f := aliasFleet(t)
	out, errOut, code := runJitssh(t, "ls", "--scope", "org")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if n := f.iamCalls.Load(); n != 3 {
		t.Errorf("%d IAM calls, want 3 (one per account)", n)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "ACCOUNT ") {
		t.Fatalf("table:\n%s", out)
	}
	var got []string
	idCol := textwidth.Width(lines[0][:strings.Index(lines[0], " ID ")+1])
	for _, l := range lines[1:] {
		i := strings.Index(l, "i-0a1b")
		if i < 0 || textwidth.Width(l[:i]) != idCol {
			t.Errorf("the ID column is not at column %d in %q", idCol, l)
			continue
		}
		fields := strings.Fields(l)
		got = append(got, fields[0]+" "+fields[len(fields)-1])
	}
	sort.Strings(got)
	want := []string{
		"222222222222 b-eu-west-1", "222222222222 b-us-east-1",
		"444444444444 d-eu-west-1", "444444444444 d-us-east-1",
		longAlias + " a-eu-west-1", longAlias + " a-us-east-1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ACCOUNT and NAME:\n%s\nwant:\n%s\ntable:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}

	out, errOut, code = runJitssh(t, "ls", "--scope", "org", "--output", "json")
	if code != 0 || errOut != "" {
		t.Fatalf("json: exit %d, stderr:\n%s", code, errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	got = nil
	for _, r := range rows {
		alias, has := r["account_alias"]
		got = append(got, fmt.Sprintf("%v %v %v %v", r["name"], r["account"], has, alias))
	}
	sort.Strings(got)
	want = []string{
		"a-eu-west-1 111111111111 true " + longAlias, "a-us-east-1 111111111111 true " + longAlias,
		"b-eu-west-1 222222222222 false <nil>", "b-us-east-1 222222222222 false <nil>",
		"d-eu-west-1 444444444444 false <nil>", "d-us-east-1 444444444444 false <nil>",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("JSON name, account, account_alias:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLsScopeAliasWaitIsBounded: an IAM that does not answer within
// lsAliasWait holds ls back no longer than that: the rows come with the
// account ids, aligned, and no warning.
func TestLsScopeAliasWaitIsBounded(t *testing.T) {
	f := aliasFleet(t)
	old := lsAliasWait
	lsAliasWait = 50 * time.Millisecond
	t.Cleanup(func() { lsAliasWait = old })
	f.iamDelay.Store(int64(2 * time.Second))
	start := time.Now()
	out, errOut, code := runJitssh(t, "ls", "--scope", "org")
	took := time.Since(start)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("ls took %v: it waited for the aliases beyond lsAliasWait", took)
	}
	if strings.Contains(out, longAlias) || strings.Count(out, "111111111111  scope-111111111111") != 2 {
		t.Errorf("want the ids once the wait is over:\n%s", out)
	}
}

// TestAliasLocations: one lookup per account (by id when the files say
// it, else per profile), in the profile's own region, else in us-east-1
// when the scope lists it (IAM's region: an opt-in region sorted first
// may be one the account has not enabled), else its first location's.
func TestAliasLocations(t *testing.T) {
	s := &scopeSearch{home: map[string]string{"homed": "eu-west-1"}, locs: []scope.Location{
		{Profile: "p1", Region: "ap-east-1"}, {Profile: "p1", Region: "us-east-1"}, {Profile: "p1", Region: "us-west-2"},
		{Profile: "homed", Region: "us-east-1"},
		{Profile: "dev", Account: "210987654321", Region: "us-west-2"}, {Profile: "sso-dev", Account: "210987654321", Region: "us-east-1"},
		{Profile: "west", Region: "eu-west-1"}, {Profile: "west", Region: "us-west-2"},
	}}
	var got []string
	for _, l := range aliasLocations(s) {
		got = append(got, aliasKey(l)+" "+l.Profile+" "+l.Region)
	}
	want := []string{"profile p1 p1 us-east-1", "profile homed homed eu-west-1", "account 210987654321 dev us-east-1", "profile west west eu-west-1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alias lookups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
