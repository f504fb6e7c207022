package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

// orgMemberInstance is the built-in organization's real instance: api-west-1
// of the member account dev, in us-west-2.
const (
	orgMemberAccount  = "210987654321"
	orgMemberRegion   = "us-west-2"
	orgMemberInstance = "i-0d1b2c3d4e5f00002"
)

// newOrgEnv starts the built-in organization (jitssh-sandbox up --org) and
// points the programs at the AWS config and credentials files the env
// file names (profiles dev, prod, audit, sso-dev …), as a user who
// sourced it, instead of the default identity's keys.
func newOrgEnv(t *testing.T, mode sshd.Mode) *env {
	t.Helper()
	return newOrgEnvWith(t, mode, nil)
}

// newOrgEnvWith is newOrgEnv with the resolved organization changed by
// edit first (if not nil), past the configuration's checks.
func newOrgEnvWith(t *testing.T, mode sshd.Mode, edit func(*config.Account)) *env {
	t.Helper()
	acct, err := config.BuiltinOrg().Resolve(sandbox.LocalUser())
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(acct)
	}
	e := newEnv(t, mode, func(c *sandbox.Config) { c.Account = acct })
	if err := e.sb.WriteFiles(filepath.Join(t.TempDir(), "sandbox.env")); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, kv := range e.vars {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE":
			continue
		}
		vars = append(vars, kv)
	}
	e.vars = append(vars, "AWS_CONFIG_FILE="+filepath.Join(e.sb.StateDir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(e.sb.StateDir, "aws-credentials"))
	return e
}

// TestOrgMemberSecondRegionSSHAndSCP: real ssh and scp through the
// installed block to the member account's instance in its second region,
// with the member's profile (its OrganizationAccountAccessRole, assumed
// across accounts) and region; CloudTrail has the key pushed in that
// account and region by that role, and the instance is invisible to the
// member's other region.
func TestOrgMemberSecondRegionSSHAndSCP(t *testing.T) {
	for _, m := range sandboxenv.Modes(t) {
		t.Run(m.String(), func(t *testing.T) { orgMemberSecondRegion(t, newOrgEnv(t, m)) })
	}
}

func orgMemberSecondRegion(t *testing.T, e *env) {
	var in sandbox.InstanceInfo
	for _, i := range e.sb.Instances {
		if i.ID == orgMemberInstance {
			in = i
		}
	}
	if in.Account != orgMemberAccount || in.Region != orgMemberRegion {
		t.Fatalf("instances file: %s is in %q/%q, want %s/%s", orgMemberInstance, in.Account, in.Region, orgMemberAccount, orgMemberRegion)
	}
	e.vars = append(e.vars, "AWS_PROFILE=dev", "AWS_REGION="+orgMemberRegion, "AWS_DEFAULT_REGION="+orgMemberRegion)
	out, err := e.run("ssh", "-F", e.sshCf, orgMemberInstance, "hostname")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != in.Hostname {
		t.Fatalf("hostname = %q, want %q", got, in.Hostname)
	}
	local := filepath.Join(t.TempDir(), "payload")
	data := make([]byte, 256<<10)
	rand.Read(data)
	if err := os.WriteFile(local, data, 0o600); err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(remoteDir(t), "copy")
	back := filepath.Join(t.TempDir(), "back")
	if _, err := e.run("scp", "-q", "-F", e.sshCf, local, orgMemberInstance+":"+remote); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run("scp", "-q", "-F", e.sshCf, orgMemberInstance+":"+remote, back); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
		t.Fatalf("scp round trip changed the file (%d bytes back)", len(got))
	}
	checkOrgTrail(t, e.sb.CloudTrail)
	// Through the member's EC2 Instance Connect Endpoint in that region.
	out, err = e.run("jitssh", "ssh", "--transport", "eice", orgMemberInstance, "--", "hostname")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != in.Hostname {
		t.Fatalf("hostname over eice = %q, want %q", got, in.Hostname)
	}
	// The member's us-east-1 does not have it.
	e.vars = append(e.vars, "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1")
	if out, err := e.run("jitssh", "ssh", orgMemberInstance, "--", "true"); err == nil {
		t.Fatalf("ssh to %s signed for us-east-1 worked:\n%s", orgMemberInstance, out)
	}
}

// checkOrgTrail finds the SendSSHPublicKey of orgMemberInstance in
// CloudTrail: in the member account and its second region, by the
// organization access role's session.
func checkOrgTrail(t *testing.T, path string) {
	t.Helper()
	for _, ev := range trailEvents(t, path) {
		if ev.EventName != "SendSSHPublicKey" || trailParam(ev, "instanceId") != orgMemberInstance || ev.ErrorCode != "" {
			continue
		}
		if ev.RecipientAccountID != orgMemberAccount || ev.AWSRegion != orgMemberRegion || ev.UserIdentity.AccountID != orgMemberAccount ||
			!strings.HasPrefix(ev.UserIdentity.ARN, "arn:aws:sts::"+orgMemberAccount+":assumed-role/OrganizationAccountAccessRole/") {
			t.Fatalf("SendSSHPublicKey in CloudTrail: account %s, region %s, caller %s (%s); want %s, %s, the access role",
				ev.RecipientAccountID, ev.AWSRegion, ev.UserIdentity.ARN, ev.UserIdentity.AccountID, orgMemberAccount, orgMemberRegion)
		}
		return
	}
	t.Fatalf("no SendSSHPublicKey of %s in CloudTrail", orgMemberInstance)
}
