package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/revoke"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// revokeScopeOrgText is the built-in organization with what the drill
// over a scope needs and the built-in one lacks: in the built-in org only
// the default identity reaches the members (through
// OrganizationAccountAccessRole, tagged with the default user's name), so
// revoking that person would cut the administrator's own way in, and
// alice cannot log in to api-west-1 (no role of hers in dev, no alice
// there). So: api-west-1 makes just-in-time users, dev has a role AliceDev
// tagged userName=alice that alice may assume, and every member has a
// break-glass role IncidentResponse (administrator, no user tag) that the
// admin assumes.
func revokeScopeOrgText() string {
	s := config.BuiltinOrgText
	s = strings.Replace(s, `access_key_id = "AKIAJITSSHSANDBOX002"
policies = ["jitssh-user"]`, `access_key_id = "AKIAJITSSHSANDBOX002"
policies = ["jitssh-user", "alice-reach-dev"]`, 1)
	s = strings.Replace(s, `id = "i-0d1b2c3d4e5f00002"
name = "api-west-1"
private_ip = "10.21.1.11"`, `id = "i-0d1b2c3d4e5f00002"
name = "api-west-1"
private_ip = "10.21.1.11"
jit = true
jit_groups = ["users"]`, 1)
	trust := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}`
	for _, m := range []string{"dev", "prod", "audit"} {
		roles := fmt.Sprintf("\n[[organization.accounts.roles]]\nname = \"IncidentResponse\"\ntrust = '%s'\npolicies = [\"AdministratorAccess\"]\n", trust)
		if m == "dev" {
			roles += fmt.Sprintf("\n[[organization.accounts.roles]]\nname = \"AliceDev\"\ntrust = '%s'\npolicies = [\"jitssh-user\"]\ntags = { userName = \"alice\" }\n", trust)
		}
		at := strings.Index(s, "name = \""+m+"\"\n")
		at += strings.Index(s[at:], "\n[[")
		s = s[:at] + "\n" + roles + s[at:]
	}
	return s + `
[policies.alice-reach-dev]
document = """
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
  "Resource": "arn:aws:iam::210987654321:role/AliceDev"}]}
"""
`
}

// TestRevokeScopeDrill is issue 17's drill over a scope, against the
// organization with the real sshd: alice runs a shell loop on web-2 (the
// management account, us-east-1) and one on api-west-1 (dev, us-west-2,
// through her role there); the admin runs jitssh revoke alice --scope all:
// one SCP at the root covers dev, the inline deny on her role in the
// management account covers it (AWS applies no SCP there), her processes
// and SSM sessions end in both, a new jitssh ssh to either is refused by
// policy, and the audit account's denial is reported with its account and
// region without stopping the rest (exit 1). --undo lets her back into
// both.
func TestRevokeScopeDrill(t *testing.T) {
	stateDir := jitAliceState(t, "jitssh-e2e-revokescope-")
	f, err := config.Parse([]byte(revokeScopeOrgText()), "")
	if err != nil {
		t.Fatal(err)
	}
	acct, err := f.Resolve(sandbox.LocalUser())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, sshd.OpenSSH, func(c *sandbox.Config) { c.Account, c.JIT, c.StateDir = acct, sandbox.JITOn, stateDir })
	if err := e.sb.WriteFiles(filepath.Join(t.TempDir(), "sandbox.env")); err != nil {
		t.Fatal(err)
	}
	awsConfig := filepath.Join(e.sb.StateDir, "aws-config")
	extra := fmt.Sprintf("\n[profile alice-dev]\nregion = us-west-2\nendpoint_url = %s\nrole_arn = arn:aws:iam::%s:role/AliceDev\nsource_profile = alice\nrole_session_name = alice\nexternal_id = %s\n",
		e.sb.URL, orgMemberAccount, filepath.Base(stateDir))
	for _, m := range [][2]string{{"dev", orgMemberAccount}, {"prod", "345678901234"}, {"audit", "456789012345"}} {
		extra += fmt.Sprintf("\n[profile ir-%s]\nregion = us-east-1\nendpoint_url = %s\nrole_arn = arn:aws:iam::%s:role/IncidentResponse\nsource_profile = admin\nrole_session_name = admin\nexternal_id = %s\n",
			m[0], e.sb.URL, m[1], filepath.Base(stateDir))
	}
	af, err := os.OpenFile(awsConfig, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	af.WriteString(extra)
	af.Close()
	var vars []string
	for _, kv := range e.vars {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE":
			continue
		}
		vars = append(vars, kv)
	}
	conf := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(conf, []byte("[[scope]]\nname = \"ir\"\nprofiles = [\"admin\", \"ir-dev\", \"ir-prod\", \"ir-audit\"]\nregions = [\"us-east-1\", \"us-west-2\"]\n"), 0o600)
	e.vars = append(vars, "AWS_CONFIG_FILE="+awsConfig, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(e.sb.StateDir, "aws-credentials"), "JITSSH_CONFIG="+conf)
	as := func(profile string, args ...string) ([]byte, error) {
		saved := e.vars
		e.vars = append(append([]string(nil), saved...), "AWS_PROFILE="+profile)
		defer func() { e.vars = saved }()
		return e.run("jitssh", args...)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	type login struct {
		ended chan error
		what  string
	}
	start := func(profile, target, region string) login {
		cmd := exec.CommandContext(ctx, binDir+"/jitssh", "ssh", "--region", region, target, "--", "echo ready; while :; do sleep 1; done")
		cmd.Env = append(append([]string(nil), e.vars...), "AWS_PROFILE="+profile)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		l := login{ended: make(chan error, 1), what: target}
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "ready" {
					ready <- true
				}
			}
			l.ended <- cmd.Wait()
		}()
		select {
		case <-ready:
		case err := <-l.ended:
			t.Fatalf("alice's login to %s ended: %v\n%s", target, err, stderr.String())
		case <-time.After(40 * time.Second):
			t.Fatalf("alice's login to %s: no prompt after 40 s\n%s", target, stderr.String())
		}
		return l
	}
	logins := []login{start("alice", "alice@web-2", "us-east-1"), start("alice-dev", "alice@api-west-1", "us-west-2")}
	active := func() map[string]int {
		n := map[string]int{}
		for _, w := range e.sb.Org.Worlds() {
			for _, s := range w.SessionList() {
				if s.Active && strings.HasSuffix(s.Caller, "/alice") {
					n[w.Account+"/"+w.Region]++
				}
			}
		}
		return n
	}
	if n := active(); n["123456789012/us-east-1"] != 1 || n[orgMemberAccount+"/us-west-2"] != 1 {
		t.Fatalf("alice's active SSM sessions: %v; want one in each", n)
	}

	// The whole plan first: the one SCP, the management account's inline
	// deny, both sessions, every location, the audit account not planned.
	dry := exec.Command(filepath.Join(binDir, "jitssh"), "revoke", "alice", "--scope", "ir", "--dry-run")
	dry.Env = append(append([]string(nil), e.vars...), "AWS_PROFILE=admin")
	var dryErr strings.Builder
	dry.Stderr = &dryErr
	out, err := dry.Output()
	out = append(out, dryErr.String()...)
	if testing.Verbose() {
		t.Logf("revoke --dry-run: %v\n%s", err, out)
	}
	if err != nil {
		t.Errorf("revoke --dry-run: %v", err)
	}
	for _, w := range []string{"service control policy jitssh-revoke-alice attached to", "inline policy jitssh-revoke-alice of role JitsshDeveloper in account 123456789012",
		"to i-0a1b2c3d4e5f00002 in account 123456789012, us-east-1", "to " + orgMemberInstance + " in account " + orgMemberAccount + ", us-west-2",
		"account 456789012345, us-east-1 (profile ir-audit)", "fix: "} {
		if !strings.Contains(string(out), w) {
			t.Errorf("the dry run lacks %q:\n%s", w, out)
		}
	}
	if n := active(); len(n) != 2 {
		t.Fatalf("the dry run changed alice's sessions: %v", n)
	}

	began := time.Now()
	out, err = as("admin", "revoke", "alice", "--scope", "ir", "--yes", "--output", "json")
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("jitssh revoke alice --scope ir: %v (want exit 1: the audit account denies)\n%s", err, out)
	}
	var rep revoke.ScopeReport
	if err := json.Unmarshal(jsonPart(out), &rep); err != nil {
		t.Fatalf("revoke --output json: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, r := range rep.Results {
		key := r.Location.Account + " " + r.Kind + " " + r.Name
		if r.Kind != "instance" && r.Kind != "session" {
			key = r.Location.Account + " " + r.Kind + " " + r.Target
		}
		got[key] = r.Status + ": " + r.Detail
	}
	for k, want := range map[string]string{
		"123456789012 scp " + rep.Plan.PolicyName:  "done",
		"123456789012 role policy JitsshDeveloper": "done",
		"123456789012 instance web-2":              "done: blocked alice; killed",
		orgMemberAccount + " instance api-west-1":  "done: blocked alice; killed",
	} {
		if !strings.HasPrefix(got[k], want) {
			t.Errorf("result %q = %q, want %q…\n%s", k, got[k], want, out)
		}
	}
	audit := false
	for _, f := range rep.Plan.Failures {
		audit = audit || f.Location.Account == "456789012345" && strings.Contains(f.Error, "ec2:DescribeInstances")
	}
	if !audit || !strings.Contains(string(out), "account 456789012345, us-east-1 (profile ir-audit)") {
		t.Errorf("the audit account's denial is not reported with its location:\n%s", out)
	}
	for _, l := range logins {
		select {
		case <-l.ended:
		case <-time.After(10*time.Second - time.Since(began)):
			t.Errorf("alice's ssh to %s is still connected 10 s after the revoke", l.what)
		}
	}
	if n := active(); len(n) > 0 {
		t.Errorf("alice's SSM sessions still active after the revoke: %v", n)
	}
	if out, err := as("alice", "ssh", "--region", "us-east-1", "alice@web-2", "--", "true"); err == nil || !strings.Contains(string(out), "AccessDenied") {
		t.Errorf("alice's new login to web-2: %v\n%s", err, out)
	}
	if out, err := as("alice-dev", "ssh", "--region", "us-west-2", "alice@api-west-1", "--", "true"); err == nil || !strings.Contains(string(out), "with an explicit deny in a service control policy") {
		t.Errorf("alice's new login to api-west-1: %v\n%s", err, out)
	}

	out, err = as("admin", "revoke", "--undo", "alice", "--scope", "ir", "--yes")
	if testing.Verbose() {
		t.Logf("revoke --undo: %v\n%s", err, out)
	}
	if err == nil || !strings.Contains(string(out), "unblocked alice") || !strings.Contains(string(out), "detached") {
		t.Fatalf("jitssh revoke --undo alice --scope ir: %v (want exit 1 for the audit account and the rest undone)\n%s", err, out)
	}
	if out, err := as("alice", "ssh", "--region", "us-east-1", "alice@web-2", "--", "echo back"); err != nil || !strings.Contains(string(out), "back") {
		t.Errorf("alice to web-2 after --undo: %v\n%s", err, out)
	}
	if out, err := as("alice-dev", "ssh", "--region", "us-west-2", "alice@api-west-1", "--", "echo back"); err != nil || !strings.Contains(string(out), "back") {
		t.Errorf("alice to api-west-1 after --undo: %v\n%s", err, out)
	}
}

// jsonPart is the JSON object of a command's combined output (stderr's
// lines around it dropped).
func jsonPart(out []byte) []byte {
	s := string(out)
	i, j := strings.Index(s, "{"), strings.LastIndex(s, "}")
	if i < 0 || j < i {
		return out
	}
	return out[i : j+1]
}
