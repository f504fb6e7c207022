package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"

	"github.com/jitssh/jitssh/internal/revoke"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// revokeDrillVars returns the env's variables with the credentials of the
// sandbox identity name.
func revokeDrillVars(t *testing.T, e *env, name string) ([]string, world.Identity) {
	t.Helper()
	for _, id := range e.sb.World.Identities() {
		if id.Name != name {
			continue
		}
		vars := []string{"AWS_ACCESS_KEY_ID=" + id.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + id.SecretAccessKey}
		for _, kv := range e.vars {
			if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
				vars = append(vars, kv)
			}
		}
		return vars, id
	}
	t.Fatalf("the built-in account has no identity %s", name)
	return nil, world.Identity{}
}

// uidProcesses returns the pids of uid's processes.
func uidProcesses(t *testing.T, uid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// TestRevokeIncidentDrill is issue 17's drill against the sandbox with the
// real sshd: alice (a just-in-time user) logs in to web-2 and leaves a
// shell looping; the admin runs jitssh revoke alice; within 10 s her
// processes are gone and her SSM session is closed, a new jitssh ssh is
// refused by policy with AWS's AccessDenied reason, and her still-valid
// credentials cannot push a key. --undo lets her back in. Then the same
// with the deny as an inline role policy (--deny-in role); and jitssh
// audit --user alice shows her login, its push and all of it.
func TestRevokeIncidentDrill(t *testing.T) {
	stateDir := jitAliceState(t, "jitssh-e2e-revoke-")
	e := newEnv(t, sshd.OpenSSH, func(c *sandbox.Config) { c.JIT, c.StateDir = sandbox.JITOn, stateDir })
	aliceVars, aliceID := revokeDrillVars(t, e, "alice")
	adminVars, _ := revokeDrillVars(t, e, "admin")
	as := func(vars []string, args ...string) ([]byte, error) {
		saved := e.vars
		e.vars = vars
		defer func() { e.vars = saved }()
		return e.run("jitssh", args...)
	}

	// alice logs in and leaves a loop running.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	loop := exec.CommandContext(ctx, binDir+"/jitssh", "ssh", "alice@web-2", "--", "echo ready; while :; do sleep 1; done")
	loop.Env = aliceVars
	stdout, err := loop.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var loopErr strings.Builder
	loop.Stderr = &loopErr
	if err := loop.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		ended <- loop.Wait()
	}()
	select {
	case <-ready:
	case err := <-ended:
		t.Fatalf("alice's login ended: %v\n%s", err, loopErr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("alice's login: no prompt after 30 s\n%s", loopErr.String())
	}
	pw, err := exec.Command("getent", "passwd", "alice").Output()
	if err != nil {
		t.Fatalf("alice is not a JIT user: %v", err)
	}
	uid, _ := strconv.Atoi(strings.Split(string(pw), ":")[2])
	if len(uidProcesses(t, uid)) == 0 {
		t.Fatal("alice runs no process on web-2")
	}
	aliceSessions := func() (active int) {
		for _, s := range e.sb.World.SessionList() {
			if s.Caller == aliceID.ARN && s.Active {
				active++
			}
		}
		return active
	}
	if aliceSessions() != 1 {
		t.Fatalf("alice has %d active SSM sessions, want 1", aliceSessions())
	}

	// The admin revokes her.
	start := time.Now()
	out, err := as(adminVars, "revoke", "alice", "--yes", "--output", "json")
	if err != nil {
		t.Fatalf("jitssh revoke alice: %v\n%s", err, out)
	}
	var rep revoke.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("revoke --output json: %v\n%s", err, out)
	}
	statuses := map[string]string{}
	inline := false
	for _, r := range rep.Results {
		statuses[r.Kind+" "+r.Name] = r.Status + ": " + r.Detail
		// the SCP does not bind the management account in AWS: her role
		// there gets the inline deny too
		inline = inline || r.Kind == "role policy" && r.Target == "JitsshDeveloper" && r.Status == revoke.Done
	}
	if !inline {
		t.Errorf("no inline deny on alice's role in the management account: %s", out)
	}
	if !strings.HasPrefix(statuses["scp "+rep.Results[0].Name], "done") || !strings.HasPrefix(statuses["instance web-2"], "done: blocked alice; killed") ||
		!strings.HasPrefix(statuses["instance app-1"], "not managed") || !strings.HasPrefix(statuses["instance web-1"], "done") {
		t.Errorf("revoke report: %s", out)
	}
	for time.Since(start) < 10*time.Second && (len(uidProcesses(t, uid)) > 0 || aliceSessions() > 0) {
		time.Sleep(100 * time.Millisecond)
	}
	if p := uidProcesses(t, uid); len(p) > 0 {
		t.Errorf("10 s after the revoke alice still runs %v", p)
	}
	if n := aliceSessions(); n > 0 {
		t.Errorf("10 s after the revoke alice has %d active SSM sessions", n)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Errorf("alice's ssh is still connected 10 s after the revoke")
	}

	// A new login is refused by policy, and her credentials cannot push.
	out, err = as(aliceVars, "ssh", "alice@web-2", "--", "true")
	if err == nil || !strings.Contains(string(out), "AccessDenied") || !strings.Contains(string(out), "with an explicit deny in a service control policy") {
		t.Errorf("alice's new login after the revoke: %v\n%s", err, out)
	}
	cfg := aws.Config{Region: e.sb.World.Region, BaseEndpoint: aws.String(e.sb.URL), RetryMaxAttempts: 1, HTTPClient: sandboxenv.HTTPClient(t, e.sb),
		Credentials: credentials.NewStaticCredentialsProvider(aliceID.AccessKeyID, aliceID.SecretAccessKey, "")}
	web2 := ""
	for _, in := range e.sb.Instances {
		if in.Name == "web-2" {
			web2 = in.ID
		}
	}
	push := func() error {
		_, err := ec2instanceconnect.NewFromConfig(cfg).SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
			InstanceId: aws.String(web2), InstanceOSUser: aws.String("alice"), SSHPublicKey: aws.String(testkeys.New(t).Line("drill"))})
		return err
	}
	if err := push(); err == nil || !strings.Contains(err.Error(), "explicit deny") {
		t.Errorf("alice's key push after the revoke: %v", err)
	}
	// Revoking again changes nothing that matters and succeeds.
	if out, err := as(adminVars, "revoke", "alice", "--yes"); err != nil || !strings.Contains(string(out), "updated") {
		t.Errorf("a second revoke: %v\n%s", err, out)
	}

	// --undo lets her back in.
	if out, err := as(adminVars, "revoke", "--undo", "alice", "--yes"); err != nil || !strings.Contains(string(out), "unblocked alice") {
		t.Fatalf("jitssh revoke --undo alice: %v\n%s", err, out)
	}
	if out, err := as(aliceVars, "ssh", "alice@web-2", "--", "echo back"); err != nil || !strings.Contains(string(out), "back") {
		t.Fatalf("alice after --undo: %v\n%s", err, out)
	}

	// The same deny as an inline policy of the role her sessions name.
	out, err = as(adminVars, "revoke", "alice", "--deny-in", "role", "--yes")
	if err != nil || !strings.Contains(string(out), "JitsshDeveloper") {
		t.Fatalf("jitssh revoke alice --deny-in role: %v\n%s", err, out)
	}
	if err := push(); err == nil || !strings.Contains(err.Error(), "with an explicit deny in an identity-based policy") {
		t.Errorf("alice's key push under the inline deny: %v", err)
	}
	if out, err := as(adminVars, "revoke", "--undo", "alice", "--deny-in", "role", "--yes"); err != nil || !strings.Contains(string(out), "inline deny deleted") {
		t.Fatalf("undo of the inline deny: %v\n%s", err, out)
	}
	if err := push(); err != nil {
		t.Errorf("alice's key push after the undo: %v", err)
	}

	// CloudTrail has every call of the revocation.
	b, err := os.ReadFile(e.sb.CloudTrail)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{`"CreatePolicy"`, `"AttachPolicy"`, `"TerminateSession"`, `"SendCommand"`, `"PutRolePolicy"`, `"DeleteRolePolicy"`, `"DeletePolicy"`} {
		if !strings.Contains(string(b), `"eventName":`+ev) {
			t.Errorf("CloudTrail has no %s record", ev)
		}
	}
	// jitssh audit --user alice shows her login, its push and the revoke.
	checkRevokeInAudit(t, e, adminVars, web2)
}
