package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/audit"
)

// checkRevokeInAudit is the drill's last step: `jitssh audit --user alice
// --output json`, as the admin, shows her login (the push joined to the
// key web-2 served and the login by request id), the revocation (the SCP
// created and attached, her SSM session terminated, the Run Command that
// blocked and killed her, with web-2's block and kill events carrying its
// request id), the inline deny put on her role, and the undos (the SCP
// detached and deleted, the inline policy deleted). web-2's events reach
// CloudWatch Logs through jitssh-host's shipper, so the timeline is asked
// until they have.
func checkRevokeInAudit(t *testing.T, e *env, adminVars []string, web2 string) {
	t.Helper()
	var res struct {
		Entries []audit.Entry
		Errors  []string
	}
	var out []byte
	has := func(pred func(audit.Entry) bool) *audit.Entry {
		for i, en := range res.Entries {
			if pred(en) {
				return &res.Entries[i]
			}
		}
		return nil
	}
	revokeCall := func(name string) func(audit.Entry) bool {
		return func(en audit.Entry) bool {
			return en.Kind == audit.KindRevoke && en.Event == name && en.Subject == "alice"
		}
	}
	var login, cmd, blocked *audit.Entry
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(time.Second) {
		saved := e.vars
		e.vars = adminVars
		var err error
		out, err = e.run("jitssh", "audit", "--user", "alice", "--since", "1h", "--output", "json")
		e.vars = saved
		if err != nil {
			t.Fatalf("jitssh audit --user alice: %v\n%s", err, out)
		}
		res.Entries, res.Errors = nil, nil
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("jitssh audit --output json: %v\n%s", err, out)
		}
		login = has(func(en audit.Entry) bool {
			return en.Kind == audit.KindAccess && en.Instance == web2 && en.RequestID != "" && en.KeyServed != nil && en.Login != nil && len(en.Gaps) == 0
		})
		cmd = has(func(en audit.Entry) bool {
			return en.Kind == audit.KindSendCommand && en.Subject == "alice" && en.CommandID != "" && strings.Contains(en.Detail, `comment="jitssh: revoke alice"`)
		})
		blocked = has(func(en audit.Entry) bool {
			return en.Kind == audit.KindInstanceEvent && en.Event == "user-blocked" && en.Instance == web2 && cmd != nil && en.RequestID == cmd.RequestID
		})
		if login != nil && blocked != nil || time.Now().After(deadline) {
			break
		}
	}
	if len(res.Errors) > 0 {
		t.Errorf("jitssh audit's errors: %v", res.Errors)
	}
	if login == nil || !strings.HasSuffix(login.Principal, "/alice") || login.OSUser != "alice" {
		t.Errorf("no login of alice on web-2 joined to its push by request id:\n%s", out)
	}
	if cmd == nil || blocked == nil || has(func(en audit.Entry) bool {
		return en.Kind == audit.KindInstanceEvent && en.Event == "sessions-killed" && en.RequestID == cmd.RequestID && en.CommandID == cmd.CommandID
	}) == nil {
		t.Errorf("no Run Command of the revocation joined to web-2's block and kill:\n%s", out)
	}
	// web-2's unblock joins an undo's command, not a revocation's
	if has(func(en audit.Entry) bool {
		return en.Kind == audit.KindInstanceEvent && en.Event == "user-unblocked" && en.Instance == web2 && has(func(c audit.Entry) bool {
			return c.Kind == audit.KindSendCommand && c.RequestID == en.RequestID && strings.Contains(c.Detail, `comment="jitssh: undo the revocation of alice"`)
		}) != nil
	}) == nil {
		t.Errorf("web-2's user-unblocked is not joined to the undo's Run Command:\n%s", out)
	}
	if has(func(en audit.Entry) bool {
		return en.Kind == audit.KindTerminateSession && en.Subject == "alice" && !strings.HasSuffix(en.Principal, "/alice")
	}) == nil {
		t.Errorf("no TerminateSession of her SSM session by the admin:\n%s", out)
	}
	var missing []string
	for _, c := range []string{"CreatePolicy", "AttachPolicy", "DetachPolicy", "DeletePolicy", "PutRolePolicy", "DeleteRolePolicy"} {
		if has(revokeCall(c)) == nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		t.Errorf("the revocation's %v are not in alice's timeline:\n%s", missing, out)
	}
	// Nothing of the admin that is not about alice.
	if has(func(en audit.Entry) bool {
		return en.Kind == audit.KindRevoke && !slices.Contains([]string{"alice"}, en.Subject)
	}) != nil {
		t.Errorf("a call not about alice in her timeline:\n%s", out)
	}
	if testing.Verbose() {
		saved := e.vars
		e.vars = adminVars
		table, _ := e.run("jitssh", "audit", "--user", "alice", "--since", "1h")
		e.vars = saved
		t.Logf("jitssh audit --user alice:\n%s", table)
	}
}
