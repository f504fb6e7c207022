package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// Policies of shops that use one source only.
const (
	// eiceOnlyPolicy: EC2 and EC2 Instance Connect (Endpoints), no SSM at
	// all, not even ssm:DescribeInstanceInformation.
	eiceOnlyPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
		"ec2:DescribeInstances","ec2:DescribeInstanceConnectEndpoints",
		"ec2-instance-connect:SendSSHPublicKey","ec2-instance-connect:OpenTunnel"],"Resource":"*"}]}`
	// ssmOnlyPolicy: SSM only (managed instances), EC2 denied.
	ssmOnlyPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
		"ssm:DescribeInstanceInformation","ssm:StartSession","ssm:TerminateSession","ssm:ResumeSession",
		"ssm:SendCommand","ssm:GetCommandInvocation"],"Resource":"*"}]}`
)

// sourcesEnv is the built-in sandbox plus identities "eiceonly" and
// "ssmonly" (session name: the local user, as the default identity).
func sourcesEnv(t *testing.T) *env {
	t.Helper()
	f := config.Builtin()
	if f.Policies == nil {
		f.Policies = map[string]config.PolicySpec{}
	}
	f.Policies["eice-only"] = config.PolicySpec{Document: eiceOnlyPolicy}
	f.Policies["ssm-only"] = config.PolicySpec{Document: ssmOnlyPolicy}
	f.Identities = append(f.Identities,
		config.IdentitySpec{Name: "eiceonly", Role: "EiceOnly", AccessKeyID: "AKIAJITSSHSOURCES001", Policies: []string{"eice-only"}},
		config.IdentitySpec{Name: "ssmonly", Role: "SsmOnly", AccessKeyID: "AKIAJITSSHSOURCES002", Policies: []string{"ssm-only"}})
	acct, err := f.Resolve(currentUser(t))
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, sshd.Embedded, func(c *sandbox.Config) { c.Account = acct })
}

// as returns the credentials of the named identity.
func (e *env) as(t *testing.T, name string) []string {
	t.Helper()
	for _, id := range e.sb.World.Identities() {
		if id.Name == name {
			return []string{"AWS_ACCESS_KEY_ID=" + id.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + id.SecretAccessKey}
		}
	}
	t.Fatalf("no identity %s", name)
	return nil
}

type lsRow struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	SSM        string   `json:"ssm_agent"`
	Managed    bool     `json:"managed_instance"`
	Transports []string `json:"transports"`
}

func (e *env) lsJSON(t *testing.T, extra []string, args ...string) (map[string]lsRow, string) {
	t.Helper()
	out, stderr, err := e.run3(extra, "jitssh", append([]string{"ls", "--output", "json"}, args...)...)
	if err != nil {
		t.Fatalf("jitssh ls %v: %v\n%s", args, err, stderr)
	}
	var rows []lsRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("ls --output json: %v\n%s", err, out)
	}
	got := map[string]lsRow{}
	for _, r := range rows {
		got[r.ID] = r
	}
	return got, stderr
}

func wantAll(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// TestSSMDeniedDegrades is a shop that uses only EICE: its identity may
// not call ssm:DescribeInstanceInformation. ls lists EC2's instances with
// the SSM column "unknown" and says why on stderr; ssh by Name resolves
// through EC2 and connects over EICE, warning that SSM was not asked.
func TestSSMDeniedDegrades(t *testing.T) {
	e := sourcesEnv(t)
	creds := e.as(t, "eiceonly")
	rows, stderr := e.lsJSON(t, creds)
	wantAll(t, "ls stderr", stderr, "warning", "SSM managed (mi-) instances not searched", "SSM agent status unknown", "ssm:DescribeInstanceInformation", "AccessDenied")
	web2 := e.sb.Instances[1]
	if r := rows[web2.ID]; r.SSM != "unknown" || fmt.Sprint(r.Transports) != "[eice direct]" {
		t.Errorf("ls row of web-2: %+v, want ssm_agent unknown, transports [eice direct]", r)
	}
	if _, ok := rows[builtinMI]; ok || len(rows) != 7 {
		t.Errorf("ls listed %d rows (managed: %v), want the 7 EC2 instances", len(rows), ok)
	}
	table, stderr, err := e.run3(creds, "jitssh", "ls", "web-2")
	if err != nil || !strings.Contains(table, "unknown") {
		t.Errorf("ls web-2 (table): %v\n%s%s", err, table, stderr)
	}

	start := time.Now()
	out, stderr, err := e.run3(creds, "jitssh", "ssh", "web-2", "--", "hostname")
	if err != nil || strings.TrimSpace(out) != web2.Hostname {
		t.Fatalf("jitssh ssh web-2 without SSM: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	wantAll(t, "ssh stderr", stderr, "SSM managed (mi-) instances not searched", "SSM agent status of "+web2.ID+" unknown, using eice", "AccessDenied")
	t.Logf("ssh web-2 without SSM: %v\n%s", time.Since(start).Round(time.Millisecond), stderr)

	// Plain ssh by Name, through the config block (jitssh proxy resolves).
	cf := filepath.Join(e.home, "ssh_config_names")
	if out, err := e.run("jitssh", append([]string{"config", "install", "--file", cf, "--host", "web-*"}, userArgs(t)...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, stderr, err = e.run3(creds, "ssh", "-F", cf, "web-2", "hostname")
	if err != nil || strings.TrimSpace(out) != web2.Hostname {
		t.Fatalf("ssh web-2 through the config block without SSM: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	wantAll(t, "plain ssh stderr", stderr, "SSM managed (mi-) instances not searched", "using eice")
}

// TestSSMFailingDegrades: SSM answers HTTP 500 to
// DescribeInstanceInformation (as a third-party AWS emulator did). After
// the SDK's retries, ls and ssh by Name go on without it, naming the
// source and the error.
func TestSSMFailingDegrades(t *testing.T) {
	e := sourcesEnv(t)
	if err := e.sb.SetFail(map[string]string{"ssm:DescribeInstanceInformation": "100%"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rows, stderr := e.lsJSON(t, nil)
	took := time.Since(start)
	wantAll(t, "ls stderr", stderr, "SSM managed (mi-) instances not searched", "SSM agent status unknown", "ssm:DescribeInstanceInformation failed: InternalServerError")
	if len(rows) != 7 || rows[e.sb.Instances[0].ID].SSM != "unknown" {
		t.Errorf("ls with SSM failing: %v", rows)
	}
	t.Logf("ls with SSM answering 500: %v", took.Round(time.Millisecond))

	web2 := e.sb.Instances[1]
	out, stderr, err := e.run3(nil, "jitssh", "ssh", "web-2", "--", "hostname")
	if err != nil || strings.TrimSpace(out) != web2.Hostname {
		t.Fatalf("jitssh ssh web-2 with SSM failing: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	wantAll(t, "ssh stderr", stderr, "SSM managed (mi-) instances not searched", "InternalServerError", "using eice")
}

// TestEC2DeniedDegrades: an identity allowed SSM only. ls lists the
// managed instances and says EC2's are missing and why; ssh by the name
// of a managed instance connects; an EC2 name is not found, with the
// reason on stderr.
func TestEC2DeniedDegrades(t *testing.T) {
	e := sourcesEnv(t)
	creds := e.as(t, "ssmonly")
	rows, stderr := e.lsJSON(t, creds)
	wantAll(t, "ls stderr", stderr, "EC2 instances not searched", "ec2:DescribeInstances", "UnauthorizedOperation")
	if len(rows) != 1 || rows[builtinMI].SSM != "Online" {
		t.Errorf("ls without EC2: %v, want the managed instance only", rows)
	}
	out, stderr, err := e.run3(creds, "jitssh", "ssh", "onprem-1", "--", "echo", "on", "onprem")
	if err != nil || strings.TrimSpace(out) != "on onprem" {
		t.Fatalf("jitssh ssh onprem-1 without EC2: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	wantAll(t, "ssh stderr", stderr, "EC2 instances not searched", "ec2:DescribeInstances")
	_, stderr, err = e.run3(creds, "jitssh", "ssh", "web-2", "--", "true")
	if err == nil {
		t.Fatal("ssh web-2 without EC2 succeeded")
	}
	wantAll(t, "ssh web-2 stderr", stderr, "EC2 instances not searched", "no instance with Name tag \"web-2\"")
}
