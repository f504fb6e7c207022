package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

// newScopeOrgEnv starts the built-in organization (jitssh-sandbox up
// --org), with the programs using the AWS config and credentials files the
// env file names (profiles default, dev, prod, audit …) as a user who
// sourced it, jitssh's config defining the org scope, and the ssh config
// block installed with it.
func newScopeOrgEnv(t *testing.T, mode sshd.Mode) *env {
	t.Helper()
	acct, err := config.BuiltinOrg().Resolve(sandbox.LocalUser())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, mode, func(c *sandbox.Config) { c.Account = acct })
	if err := e.sb.WriteFiles(filepath.Join(t.TempDir(), "sandbox.env")); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, kv := range e.vars {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE":
			continue
		}
		vars = append(vars, kv)
	}
	e.vars = append(vars, "AWS_CONFIG_FILE="+filepath.Join(e.sb.StateDir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(e.sb.StateDir, "aws-credentials"))
	newOrgScopeEnv(t, e)
	return e
}

// orgScopeConfig is jitssh's config for the built-in organization: every
// profile of it in both enabled regions and the disabled ap-east-1.
const orgScopeConfig = `[[scope]]
name = "org"
profiles = ["default", "dev", "prod", "audit"]
regions = ["us-east-1", "us-west-2", "ap-east-1"]
`

// newOrgScopeEnv writes jitssh's config defining the org scope and
// installs the ssh config block again with it (so that it covers every
// scope).
func newOrgScopeEnv(t *testing.T, e *env) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(conf, []byte(orgScopeConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	e.vars = append(e.vars, "JITSSH_CONFIG="+conf)
	if out, err := e.run("jitssh", append([]string{"config", "install", "--file", e.sshCf}, userArgs(t)...)...); err != nil {
		t.Fatalf("jitssh config install: %v\n%s", err, out)
	}
	block, err := e.run("jitssh", "config", "print")
	if err != nil || !bytes.Contains(block, []byte("proxy --scope all")) || !bytes.Contains(block, []byte("*."+orgMemberAccount)) {
		t.Fatalf("the installed block does not cover the scopes:\n%s", block)
	}
}

// TestScopeSSHFindsMemberSecondRegion: plain ssh and scp of an instance
// id through the installed block, naming neither profile nor region: the
// proxy searches the scope (the audit account denying, ap-east-1 disabled),
// finds it in the member account's second region, and the key is pushed
// there by the member's access role (CloudTrail: account, region, caller).
// The second connection finds it through the location cache; the pinned
// form NAME.REGION.ACCOUNT reaches it too.
func TestScopeSSHFindsMemberSecondRegion(t *testing.T) {
	for _, m := range sandboxenv.Modes(t) {
		t.Run(m.String(), func(t *testing.T) {
			e := newScopeOrgEnv(t, m)
			var hostname string
			for _, i := range e.sb.Instances {
				if i.ID == orgMemberInstance {
					hostname = i.Hostname
				}
			}
			out, err := e.run("ssh", "-F", e.sshCf, orgMemberInstance, "hostname")
			if err != nil || strings.TrimSpace(string(out)) != hostname {
				t.Fatalf("ssh %s hostname = %q, %v; want %q", orgMemberInstance, out, err, hostname)
			}
			checkOrgTrail(t, e.sb.CloudTrail)
			cache, err := os.ReadFile(filepath.Join(e.stateDir(), "locations"))
			if err != nil || !bytes.Contains(cache, []byte(orgMemberInstance+"\tdev\t"+orgMemberAccount+"\t"+orgMemberRegion+"\t")) {
				t.Fatalf("location cache: %v\n%s", err, cache)
			}
			local := filepath.Join(t.TempDir(), "payload")
			data := make([]byte, 128<<10)
			rand.Read(data)
			os.WriteFile(local, data, 0o600)
			remote := filepath.Join(remoteDir(t), "copy")
			back := filepath.Join(t.TempDir(), "back")
			if out, err := e.run("scp", "-q", "-F", e.sshCf, local, orgMemberInstance+":"+remote); err != nil {
				t.Fatalf("scp to: %v\n%s", err, out)
			}
			if out, err := e.run("scp", "-q", "-F", e.sshCf, orgMemberInstance+":"+remote, back); err != nil {
				t.Fatalf("scp from: %v\n%s", err, out)
			}
			if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
				t.Fatalf("scp round trip changed the file (%d bytes back)", len(got))
			}
			pinned := "api-west-1." + orgMemberRegion + "." + orgMemberAccount
			if out, err := e.run("ssh", "-F", e.sshCf, pinned, "hostname"); err != nil || strings.TrimSpace(string(out)) != hostname {
				t.Fatalf("ssh %s hostname = %q, %v", pinned, out, err)
			}
		})
	}
}

// TestScopeAmbiguityAcrossAccounts: web-1 is a Name in the management
// account and in dev: nobody can pick, so the error
// lists both with their accounts and regions (jitssh ssh without a
// terminal: nobody can pick either); the audit account's denial
// and the disabled region do not stop ls, and are reported with account,
// region and fix.
func TestScopeAmbiguityAcrossAccounts(t *testing.T) {
	e := newScopeOrgEnv(t, sandboxenv.Modes(t)[0])
	out, err := e.run("jitssh", "ssh", "--scope", "all", "web-1", "--", "true")
	if err == nil {
		t.Fatalf("jitssh ssh web-1 connected:\n%s", out)
	}
	if testing.Verbose() {
		t.Logf("jitssh ssh web-1: %v", err)
	}
	for _, w := range []string{"2 instances match Name tag \"web-1\"", "ACCOUNT", "REGION", orgMemberAccount, "123456789012"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("ssh web-1's error lacks %q:\n%v", w, err)
		}
	}
	out, err = e.run("jitssh", "ls", "--scope", "org")
	if err != nil {
		t.Fatalf("jitssh ls --scope org: %v", err)
	}
	for _, w := range []string{"api-west-1", "prod-west-1", "web-west-1"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("ls lacks %q:\n%s", w, out)
		}
	}
	if !regexp.MustCompile(`(?m)^jitssh-dev +dev +`).Match(out) { // the account's alias (TestScopeLsShowsAccountAliases)
		t.Errorf("ls lacks dev's rows under its alias:\n%s", out)
	}
	if strings.Contains(string(out), "audit-1") {
		t.Errorf("ls lists the denying account's instance:\n%s", out)
	}
	// --region all: the account's enabled regions (DescribeRegions), not
	// the disabled opt-in ap-east-1
	out, err = e.run("jitssh", "ls", "--profile", "dev", "--region", "all")
	if err != nil || !strings.Contains(string(out), "api-west-1") || !regexp.MustCompile(`(?m)^jitssh-dev +dev +us-east-1 `).Match(out) || strings.Contains(string(out), "ap-east-1") {
		t.Errorf("ls --profile dev --region all: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, "jitssh"), "ls", "--scope", "org")
	cmd.Env, cmd.Stderr = e.vars, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("jitssh ls --scope org: %v\n%s", err, stderr.String())
	}
	for _, w := range []string{"account 456789012345, us-east-1 (profile audit)", "fix: profile audit may not call ec2:DescribeInstances", "ap-east-1", "fix: ap-east-1 is not enabled"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("ls's stderr lacks %q:\n%s", w, stderr.String())
		}
	}
}

// stateDir is the JITSSH_STATE_DIR the programs run with.
func (e *env) stateDir() string {
	dir := ""
	for _, kv := range e.vars {
		if v, ok := strings.CutPrefix(kv, "JITSSH_STATE_DIR="); ok {
			dir = v
		}
	}
	if dir == "" {
		dir = filepath.Join(e.home, ".cache", "jitssh")
	}
	return dir
}
