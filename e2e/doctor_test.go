package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// profileFiles writes the sandbox's AWS config and credentials (a profile
// per identity) and returns the variables naming them.
func profileFiles(t *testing.T, e *env) []string {
	t.Helper()
	if err := e.sb.WriteFiles(filepath.Join(t.TempDir(), "env")); err != nil {
		t.Fatal(err)
	}
	return []string{
		"AWS_CONFIG_FILE=" + filepath.Join(e.sb.StateDir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(e.sb.StateDir, "aws-credentials"),
	}
}

// doctorLine returns doctor's line for check name ("STATUS  name  detail").
func doctorLine(out, name string) string {
	m := regexp.MustCompile(`(?m)^[A-Z]+ +` + regexp.QuoteMeta(name) + ` .*$`).FindString(out)
	return m
}

// A stopped instance is reported as stopped, and nothing claims a
// transport reaches it.
func TestDoctorStoppedInstance(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	out, _, err := e.run3(nil, "jitssh", "doctor", "old-1")
	if err == nil {
		t.Error("doctor old-1 (stopped) exited 0")
	}
	if l := doctorLine(out, "instance"); !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "is stopped") {
		t.Errorf("instance line: %q\n%s", l, out)
	}
	for _, name := range []string{"transport", "ssm agent"} {
		if l := doctorLine(out, name); !strings.HasPrefix(l, "SKIP") || !strings.Contains(l, "is stopped") {
			t.Errorf("%s line: %q, want SKIP saying the instance is stopped\n%s", name, l, out)
		}
	}
}

// AWS_PROFILE loses to access keys in the environment (the SDK's and the
// AWS CLI's order): doctor says so, and every command warns once, the
// proxy of `jitssh ssh` included (it does not warn a second time).
// --profile wins and draws no warning.
func TestProfileOverriddenByEnvironmentKeys(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	files := profileFiles(t, e)
	withProfile := append([]string{"AWS_PROFILE=alice"}, files...)
	const warning = "AWS_PROFILE=alice is ignored: the AWS_ACCESS_KEY_ID in the environment takes precedence"

	out, _, _ := e.run3(withProfile, "jitssh", "doctor")
	if l := doctorLine(out, "profile"); !strings.HasPrefix(l, "WARN") || !strings.Contains(l, warning) {
		t.Errorf("doctor: profile line %q\n%s", l, out)
	}
	if l := doctorLine(out, "credentials"); !strings.Contains(l, "/"+currentUser(t)) {
		t.Errorf("doctor: credentials line %q: the environment's keys should win", l)
	}
	_, stderr, err := e.run3(withProfile, "jitssh", "ls")
	if err != nil || strings.Count(stderr, warning) != 1 {
		t.Errorf("jitssh ls: %v; want the warning once on stderr:\n%s", err, stderr)
	}
	_, stderr, err = e.run3(withProfile, "jitssh", "ssh", "web-1", "--", "true")
	if err != nil || strings.Count(stderr, warning) != 1 {
		t.Errorf("jitssh ssh: %v; want the warning once on stderr:\n%s", err, stderr)
	}
	out, stderr, _ = e.run3(files, "jitssh", "--profile", "alice", "doctor")
	if strings.Contains(out+stderr, "is ignored") || !strings.Contains(doctorLine(out, "credentials"), "/alice") {
		t.Errorf("--profile alice: should win without a warning:\n%s%s", out, stderr)
	}
}

// doctor TARGET asks IAM's policy simulator about the calls a connection
// needs: allowed ones listed, a denial named with the fix, a decision that
// hinges on a session tag the simulator cannot see reported as unknown,
// and a caller who may not simulate told so plainly.
func TestDoctorSimulatesPermissions(t *testing.T) {
	f := config.Builtin()
	if f.Identities[0].Name != "default" || f.Identities[1].Name != "alice" {
		t.Fatalf("built-in identities changed: %s, %s", f.Identities[0].Name, f.Identities[1].Name)
	}
	if f.Policies == nil {
		f.Policies = map[string]config.PolicySpec{}
	}
	f.Policies["simulate-self"] = config.PolicySpec{Document: `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iam:SimulatePrincipalPolicy","Resource":"arn:aws:iam::*:role/JitsshDeveloper"}]}`}
	f.Policies["look-only"] = config.PolicySpec{Document: `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["ec2:DescribeInstances","ec2:DescribeInstanceConnectEndpoints","ssm:DescribeInstanceInformation","sts:GetCallerIdentity"],"Resource":"*"}]}`}
	f.Identities[0].Policies = append(f.Identities[0].Policies, "simulate-self")
	f.Identities[1].Policies = []string{"look-only", "simulate-self"}
	acct, err := f.Resolve(currentUser(t))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, sshd.Embedded, func(c *sandbox.Config) { c.Account = acct })
	files := profileFiles(t, e)

	// The jitssh user policy: all allowed but the key push, which the
	// impersonation SCP decides by the userName session tag.
	out, _, err := e.run3(nil, "jitssh", "doctor", "web-1")
	l := doctorLine(out, "permissions")
	if err != nil || !strings.HasPrefix(l, "WARN") || !strings.Contains(l, "allowed: ec2:DescribeInstances, ssm:DescribeInstanceInformation, ssm:StartSession") ||
		!strings.Contains(l, "cannot tell: ec2-instance-connect:SendSSHPublicKey on arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f00001 (depends on aws:PrincipalTag/userName") {
		t.Errorf("default identity: %v, permissions line %q\n%s", err, l, out)
	}
	// Look, but not connect.
	out, _, err = e.run3(files, "jitssh", "--profile", "alice", "doctor", "web-1")
	l = doctorLine(out, "permissions")
	if err == nil || !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "may not: ssm:StartSession on arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f00001 (implicitDeny)") ||
		!strings.Contains(out, "jitssh policy user") {
		t.Errorf("alice: %v, permissions line %q\n%s", err, l, out)
	}
	// The built-in account: nobody but admin may simulate.
	plain := newEnv(t, sshd.Embedded)
	out, _, err = plain.run3(nil, "jitssh", "doctor", "web-1")
	l = doctorLine(out, "permissions")
	if err != nil || !strings.HasPrefix(l, "SKIP") || !strings.Contains(l, "you may not use IAM's policy simulator (iam:SimulatePrincipalPolicy on arn:aws:iam::123456789012:role/JitsshDeveloper is denied)") {
		t.Errorf("built-in account: %v, permissions line %q\n%s", err, l, out)
	}
}
