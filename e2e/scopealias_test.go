package e2e

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/testtool"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
	"github.com/jitssh/jitssh/internal/textwidth"
)

// TestScopeLsShowsAccountAliases: `jitssh ls --scope all` against the
// built-in organization shows each account's IAM alias in the ACCOUNT
// column (jitssh-management, jitssh-dev, jitssh-prod), the columns
// aligned to the widest; the audit account that may not list is still
// reported, and nothing about aliases is. The JSON rows keep the id in
// account and add account_alias. The sandbox's CloudTrail has one
// ListAccountAliases per account, each by the profile's principal in its
// own account; the pip AWS CLI reads the same aliases.
func TestScopeLsShowsAccountAliases(t *testing.T) {
	e := newScopeOrgEnv(t, sandboxenv.Modes(t)[0])
	out, stderr, err := e.run3(nil, "jitssh", "ls", "--scope", "all")
	if err != nil {
		t.Fatalf("jitssh ls --scope all: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	idCol := textwidth.Width(lines[0][:strings.Index(lines[0], " ID ")+1])
	byName := map[string]string{} // NAME → ACCOUNT, PROFILE, REGION
	for _, l := range lines[1:] {
		if i := idStart.FindStringIndex(l); i == nil || textwidth.Width(l[:i[0]+1]) != idCol {
			t.Errorf("the ID column is not at column %d in %q", idCol, l)
		}
		f := strings.Fields(l)
		byName[f[len(f)-1]] = strings.Join(f[:3], " ")
	}
	for name, want := range map[string]string{
		"web-1":       "", // in two accounts: checked below
		"web-west-1":  "jitssh-management default us-west-2",
		"api-west-1":  "jitssh-dev dev us-west-2",
		"prod-east-1": "jitssh-prod prod us-east-1",
		"prod-west-1": "jitssh-prod prod us-west-2",
	} {
		if got, ok := byName[name]; !ok || (want != "" && got != want) {
			t.Errorf("%s: ACCOUNT PROFILE REGION = %q, want %q\n%s", name, got, want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^jitssh-dev +dev +us-east-1 .* web-1$`).MatchString(out) || !regexp.MustCompile(`(?m)^jitssh-management +default +us-east-1 .* web-1$`).MatchString(out) {
		t.Errorf("web-1 of dev and of the management account, each with its alias:\n%s", out)
	}
	if strings.Contains(out, "210987654321") || strings.Contains(out, "345678901234") || strings.Contains(out, "audit-1") {
		t.Errorf("an id shown for an account with an alias, or the denying account's instance:\n%s", out)
	}
	if !strings.Contains(stderr, "account 456789012345, us-east-1 (profile audit)") || strings.Contains(stderr, "ListAccountAliases") || strings.Contains(stderr, "alias") {
		t.Errorf("stderr: want the audit account's listing failure and nothing about aliases:\n%s", stderr)
	}
	checkAliasTrail(t, e.sb.CloudTrail)

	out, stderr, err = e.run3(nil, "jitssh", "ls", "--scope", "all", "--output", "json")
	if err != nil {
		t.Fatalf("jitssh ls --scope all --output json: %v\n%s", err, stderr)
	}
	var rows []struct {
		Name, Account, Profile string
		AccountAlias           string `json:"account_alias"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	var got []string
	for _, r := range rows {
		if r.Name == "api-west-1" || r.Name == "prod-east-1" || r.Name == "web-west-1" {
			got = append(got, r.Name+" "+r.Account+" "+r.AccountAlias)
		}
	}
	sort.Strings(got)
	if want := []string{"api-west-1 210987654321 jitssh-dev", "prod-east-1 345678901234 jitssh-prod", "web-west-1 123456789012 jitssh-management"}; !slices.Equal(got, want) {
		t.Errorf("JSON name, account, account_alias: %q, want %q", got, want)
	}

	aws := testtool.Need(t, "aws", "pip install awscli")
	for profile, want := range map[string]string{"dev": "jitssh-dev", "default": "jitssh-management", "audit": "jitssh-audit"} {
		out, stderr, err := e.run3(nil, aws, "iam", "list-account-aliases", "--profile", profile, "--output", "json")
		var res struct{ AccountAliases []string }
		if err != nil || json.Unmarshal([]byte(out), &res) != nil || !slices.Equal(res.AccountAliases, []string{want}) {
			t.Errorf("aws iam list-account-aliases --profile %s: %v %q\n%s", profile, err, out, stderr)
		}
	}
}

// idStart finds ls's ID column: an instance's or a managed instance's id.
var idStart = regexp.MustCompile(` m?i-[0-9a-f]+ `)

// checkAliasTrail checks the CloudTrail log for ListAccountAliases: one
// call per account that ls listed or tried to (management, dev, prod,
// audit), each recorded in the caller's own account, answered.
func checkAliasTrail(t *testing.T, path string) {
	t.Helper()
	var got []string
	for _, ev := range trailEvents(t, path) {
		if ev.EventName == "ListAccountAliases" {
			got = append(got, ev.RecipientAccountID+" "+ev.UserIdentity.AccountID+" "+ev.ErrorCode)
		}
	}
	sort.Strings(got)
	want := []string{"123456789012 123456789012 ", "210987654321 210987654321 ", "345678901234 345678901234 ", "456789012345 456789012345 "}
	if !slices.Equal(got, want) {
		t.Errorf("ListAccountAliases in CloudTrail (account, caller's account, error):\n%q\nwant\n%q", got, want)
	}
}
