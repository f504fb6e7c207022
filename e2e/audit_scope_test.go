package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/audit"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

// TestAuditScope: a key pushed to the member account's instance in its
// second region is in `jitssh audit --scope org`'s timeline with that
// account and region (every profile and region of the scope read at
// once), and the locations that cannot be read (the disabled ap-east-1,
// the developer role of the management account, which may not read
// CloudTrail) are listed with account, region and fix
// without stopping the rest.
func TestAuditScope(t *testing.T) {
	e := newScopeOrgEnv(t, sandboxenv.Modes(t)[0])
	if out, err := e.run("ssh", "-F", e.sshCf, orgMemberInstance, "true"); err != nil {
		t.Fatalf("ssh %s: %v\n%s", orgMemberInstance, err, out)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, "jitssh"), "audit", "--scope", "org", "--since", "1h", "--output", "json")
	cmd.Env, cmd.Stdout, cmd.Stderr = e.vars, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("jitssh audit --scope org: %v\n%s", err, stderr.String())
	}
	var res struct {
		Entries []audit.Entry
		Errors  []string
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("jitssh audit --output json: %v\n%s", err, stdout.String())
	}
	found := false
	for _, en := range res.Entries {
		if en.Kind == audit.KindAccess && en.Instance == orgMemberInstance && en.Account == orgMemberAccount && en.Region == orgMemberRegion && !en.Denied {
			found = true
		}
	}
	if !found {
		t.Errorf("no push to %s in account %s, %s in the timeline:\n%s", orgMemberInstance, orgMemberAccount, orgMemberRegion, stdout.String())
	}
	errs := strings.Join(res.Errors, "\n")
	for _, w := range []string{"account " + orgMemberAccount + ", ap-east-1 (profile dev): CloudTrail:", "fix: ap-east-1 is not enabled",
		// the management account's developer role may not read CloudTrail
		"account 123456789012, us-east-1 (profile default): CloudTrail:", "fix: profile default may not call cloudtrail:LookupEvents in this account: grant it (`jitssh policy auditor`"} {
		if !strings.Contains(errs, w) || !strings.Contains(stderr.String(), w) {
			t.Errorf("audit's failures lack %q:\n%s\nstderr:\n%s", w, errs, stderr.String())
		}
	}
	// each failing source once; the management account's enabled regions read
	if strings.Count(errs, "account "+orgMemberAccount+", ap-east-1 (profile dev): CloudTrail:") != 1 || strings.Contains(errs, "us-east-1 is not enabled") {
		t.Errorf("audit's failures:\n%s", errs)
	}
	if testing.Verbose() {
		t.Logf("stderr:\n%s", stderr.String())
	}
}
