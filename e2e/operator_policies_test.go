package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/audit"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// operatorIdentities adds to the built-in account an auditor and a
// revoker with nothing but `jitssh policy auditor` and `jitssh policy
// revoker` (the sandbox's built-in jitssh-auditor and jitssh-revoker).
const operatorIdentities = `
[[identities]]
name = "auditor"
role = "JitsshAuditor"
session_name = "auditor"
access_key_id = "AKIAJITSSHSANDBOX101"
policies = ["jitssh-auditor"]

[[identities]]
name = "revoker"
role = "JitsshRevoker"
session_name = "revoker"
access_key_id = "AKIAJITSSHSANDBOX102"
policies = ["jitssh-revoker"]
`

// TestOperatorPolicies: the sandbox enforces jitssh policy auditor and
// revoker as IAM would: after alice logs in, an identity with only the
// auditor policy runs jitssh audit --user alice (her login is in it, no
// source refused) but jitssh revoke alice is refused by IAM and changes
// nothing; an identity with only the revoker policy revokes her and
// undoes it, and may not read CloudTrail.
func TestOperatorPolicies(t *testing.T) {
	stateDir := jitAliceState(t, "jitssh-e2e-operators-")
	f, err := config.Parse([]byte(config.BuiltinText+operatorIdentities), "")
	if err != nil {
		t.Fatal(err)
	}
	acct, err := f.Resolve(sandbox.LocalUser())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, sshd.OpenSSH, func(c *sandbox.Config) { c.Account, c.JIT, c.StateDir = acct, sandbox.JITOn, stateDir })
	aliceVars, _ := revokeDrillVars(t, e, "alice")
	auditorVars, _ := revokeDrillVars(t, e, "auditor")
	revokerVars, _ := revokeDrillVars(t, e, "revoker")
	as := func(vars []string, args ...string) ([]byte, error) {
		saved := e.vars
		e.vars = vars
		defer func() { e.vars = saved }()
		return e.run("jitssh", args...)
	}
	if out, err := as(aliceVars, "ssh", "alice@web-2", "--", "echo in"); err != nil || !strings.Contains(string(out), "in") {
		t.Fatalf("alice's login: %v\n%s", err, out)
	}

	// The auditor reads the timeline...
	out, err := as(auditorVars, "audit", "--user", "alice", "--since", "1h", "--output", "json")
	if err != nil {
		t.Fatalf("jitssh audit as the auditor: %v\n%s", err, out)
	}
	var res struct {
		Entries []audit.Entry
		Errors  []string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pushed := false
	for _, en := range res.Entries {
		pushed = pushed || en.Kind == audit.KindAccess && en.RequestID != "" && !en.Denied && strings.HasSuffix(en.Principal, "/alice")
	}
	if !pushed || strings.Contains(strings.Join(res.Errors, "\n"), "AccessDenied") {
		t.Errorf("the auditor's timeline lacks alice's push, or a source refused:\n%s", out)
	}
	// ...but cannot revoke: IAM refuses, and alice still gets in.
	out, err = as(auditorVars, "revoke", "alice", "--yes")
	if err == nil || !strings.Contains(string(out), "AccessDenied") {
		t.Errorf("jitssh revoke as the auditor: %v\n%s", err, out)
	}
	if out, err := as(aliceVars, "ssh", "alice@web-2", "--", "echo still"); err != nil || !strings.Contains(string(out), "still") {
		t.Errorf("alice after the auditor's refused revoke: %v\n%s", err, out)
	}

	// The revoker revokes and undoes, but may not read CloudTrail.
	if out, err := as(revokerVars, "revoke", "alice", "--yes"); err != nil {
		t.Fatalf("jitssh revoke as the revoker: %v\n%s", err, out)
	}
	if out, err := as(aliceVars, "ssh", "alice@web-2", "--", "true"); err == nil || !strings.Contains(string(out), "explicit deny") {
		t.Errorf("alice after the revoker's revoke: %v\n%s", err, out)
	}
	if out, err := as(revokerVars, "revoke", "--undo", "alice", "--yes"); err != nil {
		t.Fatalf("jitssh revoke --undo as the revoker: %v\n%s", err, out)
	}
	out, err = as(revokerVars, "audit", "--user", "alice", "--since", "1h")
	if err == nil || !strings.Contains(string(out), "cloudtrail:LookupEvents") || !strings.Contains(string(out), "AccessDenied") {
		t.Errorf("jitssh audit as the revoker:\n%s", out)
	}
}
