package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/revoke"
	"github.com/jitssh/jitssh/internal/scope"
)

// TestRevokeScopeOutput: over a scope, the plan names each location
// (account, region, profile) and where the deny goes; the report has an
// account and region column (none for the global SCP and IAM changes);
// the locations not revoked are listed with a fix, NoRolesError's naming
// --role.
func TestRevokeScopeOutput(t *testing.T) {
	mgmt := &scope.Location{Profile: "admin", Account: "123456789012", Region: "us-east-1"}
	dev := &scope.Location{Profile: "ir-dev", Account: "210987654321", Region: "us-west-2"}
	plan := &revoke.ScopePlan{Person: "alice", DenyIn: revoke.DenySCP, PolicyName: "jitssh-revoke-alice", OrgRoot: "r-1", Management: mgmt.Account,
		Locations: []*revoke.Plan{
			{PolicyName: "jitssh-revoke-alice", DenyIn: revoke.DenySCP, OrgRoot: "r-1", Roles: []string{"JitsshDeveloper"}, Location: mgmt,
				Instances: []revoke.Instance{{ID: "i-1", Managed: true}, {ID: "i-2"}}},
			{PolicyName: "jitssh-revoke-alice", Location: dev, Sessions: []awsapi.SessionInfo{{ID: "alice-1", Target: "i-3", Owner: "arn:aws:sts::210987654321:assumed-role/AliceDev/alice"}},
				Instances: []revoke.Instance{{ID: "i-3", Managed: true}}},
		},
		Notes: []string{"a note"},
	}
	var out, errb bytes.Buffer
	o := &revokeOptions{IO: IOStreams{Out: &out, Err: &errb}, Output: "text"}
	if err := printRevokeScopePlan(o, plan); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"Revoke alice over 2 accounts, 2 regions:",
		"service control policy jitssh-revoke-alice attached to r-1 (every member account), from account 123456789012",
		"inline policy jitssh-revoke-alice of role JitsshDeveloper in account 123456789012",
		"terminate SSM session alice-1 to i-3 in account 210987654321, us-west-2 (profile ir-dev)",
		"on 1 managed instance(s) of 2 in account 123456789012, us-east-1 (profile admin)",
		"note: a note",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("plan lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	rep := &revoke.ScopeReport{Plan: plan, Results: []revoke.Result{
		{Kind: "scp", Target: "jitssh-revoke-alice", Name: "p-1", Status: revoke.Done, Location: mgmt},
		{Kind: "instance", Target: "i-3", Name: "api-west-1", Status: revoke.Done, Detail: "blocked alice", Location: dev},
	}}
	if err := printRevokeScopeReport(o, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ACCOUNT") || !strings.Contains(lines[0], "REGION") ||
		!strings.HasPrefix(lines[1], "123456789012  -") || !strings.HasPrefix(lines[2], "210987654321  us-west-2") {
		t.Errorf("report:\n%s", out.String())
	}
	printRevokeFailures(o, []scope.Failure{{Location: *dev, Err: &revoke.NoRolesError{Person: "alice"}}, {Location: *mgmt, Err: errors.New("boom")}})
	for _, w := range []string{"2 location(s) not revoked", "account 210987654321, us-west-2 (profile ir-dev): no role is known for alice", "fix: name the person's roles there with --role ROLE", "account 123456789012, us-east-1 (profile admin): boom"} {
		if !strings.Contains(errb.String(), w) {
			t.Errorf("failures lack %q:\n%s", w, errb.String())
		}
	}
}
