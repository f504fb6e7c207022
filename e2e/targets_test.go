package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"

	"github.com/jitssh/jitssh/internal/testtool"
)

// run3 runs a command in the env with extra variables and returns stdout
// and stderr separately.
func (e *env) run3(extra []string, name string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if strings.HasPrefix(name, "jitssh") {
		name = filepath.Join(binDir, name)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append([]string(nil), e.vars...), extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// fleetWithTwins is the default fleet (which has a stopped "old-1") plus
// a second "web-1" whose SSM agent is offline.
func fleetWithTwins(c *sandbox.Config) {
	c.Instances = sandbox.DefaultInstances()
	twin := c.Instances[0]
	twin.ID, twin.PrivateIP, twin.PrivateDNS = twinID, "10.0.1.14", "ip-10-0-1-14.ec2.internal"
	twin.Public, twin.PublicIP, twin.PublicDNS, twin.SSMOnline, twin.AZ = false, "", "", false, "us-east-1b"
	twin.Tags = map[string]string{"Name": "web-1"}
	c.Instances = append(c.Instances, twin)
}

// twinID is fleetWithTwins' second web-1.
const twinID = "i-0a1b2c3d4e5f00007"

func (e *env) pushedKeys(user string) int {
	n := 0
	for _, in := range e.sb.World.Instances() {
		n += len(e.sb.World.ActiveKeys(in.ID, user))
	}
	return n
}

func TestEveryTargetFormConnects(t *testing.T) {
	e := newEnv(t, sshd.ResolveAuto())
	user := currentUser(t)
	web1, web2, db1 := e.sb.Instances[0], e.sb.Instances[1], e.sb.Instances[2]
	for form, want := range map[string]sandbox.InstanceInfo{
		web1.ID:                     web1,
		web1.ID + ".us-east-1":      web1,
		"web-2":                     web2,
		user + "@db-1.us-east-1":    db1,
		"tag:Name=web-2":            web2,
		"10.0.2.21":                 db1,
		web1.PublicIP:               web1,
		"ip-10-0-1-12.ec2.internal": web2,
		"ec2-" + strings.ReplaceAll(web1.PublicIP, ".", "-") + ".compute-1.amazonaws.com": web1,
	} {
		out, stderr, err := e.run3(nil, "jitssh", "ssh", form, "--", "hostname")
		if err != nil {
			t.Fatalf("jitssh ssh %s: %v\n%s", form, err, stderr)
		}
		if got := strings.TrimSpace(out); got != want.Hostname {
			t.Errorf("jitssh ssh %s reached %q, want %s (%s)", form, got, want.Hostname, want.ID)
		}
	}

	// Plain ssh, scp, sftp and rsync with names routed through jitssh by
	// extra Host patterns: KnownHostsCommand answers for the name from the
	// pin of the instance it resolved to, so ssh prints no warnings.
	cf := filepath.Join(e.home, "ssh_config_names")
	if out, err := e.run("jitssh", append([]string{"config", "install", "--file", cf, "--host", "web-*", "--host", "10.0.*", "--host", "*.us-east-1"}, userArgs(t)...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for host, want := range map[string]sandbox.InstanceInfo{"web-1": web1, "10.0.1.12": web2, "db-1.us-east-1": db1} {
		out, stderr, err := e.run3(nil, "ssh", "-F", cf, host, "hostname")
		if err != nil {
			t.Fatalf("ssh %s: %v\n%s", host, err, stderr)
		}
		if got := strings.TrimSpace(out); got != want.Hostname {
			t.Errorf("ssh %s reached %q, want %s", host, got, want.Hostname)
		}
		if strings.TrimSpace(stderr) != "" {
			t.Errorf("ssh %s printed on stderr (want nothing, not even a known-hosts warning):\n%s", host, stderr)
		}
	}
	local := filepath.Join(t.TempDir(), "f")
	os.WriteFile(local, []byte("payload over every tool\n"), 0o600)
	remote := filepath.Join(remoteDir(t), "r")
	if _, stderr, err := e.run3(nil, "scp", "-q", "-F", cf, local, "web-2:"+remote); err != nil {
		t.Fatalf("scp: %v\n%s", err, stderr)
	}
	batch := filepath.Join(t.TempDir(), "batch")
	os.WriteFile(batch, []byte("get "+remote+" "+local+".sftp\n"), 0o600)
	if _, stderr, err := e.run3(nil, "sftp", "-q", "-F", cf, "-b", batch, "10.0.1.12"); err != nil {
		t.Fatalf("sftp: %v\n%s", err, stderr)
	}
	if got, _ := os.ReadFile(local + ".sftp"); string(got) != "payload over every tool\n" {
		t.Fatalf("sftp fetched %q", got)
	}
	testtool.Need(t, "rsync", "apt-get install rsync")
	if _, stderr, err := e.run3(nil, "rsync", "-e", "ssh -F "+cf, local, "web-2.us-east-1:"+remote+".rsync"); err != nil {
		t.Fatalf("rsync: %v\n%s", err, stderr)
	}
	if got, _ := os.ReadFile(remote + ".rsync"); string(got) != "payload over every tool\n" {
		t.Fatalf("rsync copied %q", got)
	}

	// A region that disagrees with --region is refused before any call.
	if _, stderr, err := e.run3(nil, "jitssh", "--region", "eu-west-1", "ssh", "web-1.us-east-1", "--", "true"); err == nil || !strings.Contains(stderr, "give one") {
		t.Errorf("conflicting regions: %v\n%s", err, stderr)
	}
}

func TestAmbiguousAndUnknownTargetsPushNothing(t *testing.T) {
	e := newEnv(t, sshd.Embedded, fleetWithTwins)
	user := currentUser(t)
	// Not a terminal: the matches are listed, nothing is chosen.
	_, stderr, err := e.run3(nil, "jitssh", "ssh", "web-1", "--", "true")
	if err == nil {
		t.Fatal("an ambiguous Name tag connected")
	}
	for _, want := range []string{"2 instances match Name tag \"web-1\"", "i-0a1b2c3d4e5f00001", twinID, "Online", "ConnectionLost", "us-east-1b"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("ambiguity error lacks %q:\n%s", want, stderr)
		}
	}
	// Under ssh's ProxyCommand too.
	cf := filepath.Join(e.home, "ssh_config_names")
	if out, err := e.run("jitssh", append([]string{"config", "install", "--file", cf, "--host", "web-*", "--host", "10.*"}, userArgs(t)...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, stderr, err := e.run3(nil, "ssh", "-F", cf, "web-1", "true"); err == nil || !strings.Contains(stderr, twinID) {
		t.Errorf("ssh web-1 (ambiguous): %v\n%s", err, stderr)
	}
	for _, bad := range []string{"no-such-name", "10.9.9.9", "tag:Team=nobody", "i-0ffffffffffffffff", "ip-10-9-9-9.ec2.internal", "old-1", "mi-0123456789abcdef0"} {
		_, stderr, err := e.run3(nil, "jitssh", "ssh", bad, "--", "true")
		var ee *exec.ExitError
		if err == nil || !errorAs(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("jitssh ssh %s: err = %v", bad, err)
		}
		name := strings.TrimPrefix(bad, "tag:Team=")
		if bad == "old-1" {
			name = "stopped"
		}
		if !strings.Contains(stderr, name) {
			t.Errorf("jitssh ssh %s: message does not say what was searched:\n%s", bad, stderr)
		}
	}
	if _, stderr, err := e.run3(nil, "ssh", "-F", cf, "10.9.9.9", "true"); err == nil || !strings.Contains(stderr, "no instance with IP address") {
		t.Errorf("ssh to an unknown address: %v\n%s", err, stderr)
	}
	if n := e.pushedKeys(user); n != 0 {
		t.Fatalf("%d keys were pushed for ambiguous or unknown targets", n)
	}

	// ls shows all five with their SSM status and transports.
	out, err := e.run("jitssh", "ls", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		ID         string   `json:"id"`
		Name       string   `json:"name"`
		State      string   `json:"state"`
		SSM        string   `json:"ssm_agent"`
		Transports []string `json:"transports"`
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("ls --output json: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.ID] = fmt.Sprintf("%s %s %s %v", r.Name, r.State, r.SSM, r.Transports)
	}
	want := map[string]string{
		// Every running instance is in the VPC of the EICE endpoint.
		"i-0a1b2c3d4e5f00001": "web-1 running Online [ssm eice direct]",
		"i-0a1b2c3d4e5f00002": "web-2 running Online [ssm eice direct]",
		"i-0a1b2c3d4e5f00003": "db-1 running Online [ssm eice]",
		"i-0a1b2c3d4e5f00004": "bastion-1 running Online [ssm eice direct]",
		"i-0a1b2c3d4e5f00005": "app-1 running ConnectionLost [eice]",
		"i-0a1b2c3d4e5f00006": "old-1 stopped ConnectionLost []",
		"i-0a1b2c3d4e5f00008": "legacy-1 running Online [ssm eice]",
		twinID:                "web-1 running ConnectionLost [eice]",
		// The built-in managed (hybrid) instance: SSM's only.
		"mi-0a1b2c3d4e5f00001": "onprem-1 - Online [ssm]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ls = %v\nwant %v", got, want)
	}
	table, err := e.run("jitssh", "ls", "web")
	if err != nil || !strings.Contains(string(table), "TRANSPORTS") || strings.Count(string(table), "\n") != 4 || strings.Contains(string(table), "db-1") {
		t.Errorf("ls web (3 rows and a header, no db-1): %v\n%s", err, table)
	}

	// doctor: the healthy instance passes; the others fail with a fix.
	out, err = e.run("jitssh", "doctor", "web-2", "--output", "json")
	if err != nil {
		t.Fatalf("doctor web-2: %v\n%s", err, out)
	}
	var checks []struct{ Check, Status, Detail, Fix string }
	if err := json.Unmarshal(out, &checks); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, c := range checks {
		seen[c.Check] = c.Status
	}
	for _, name := range []string{"openssh", "region", "credentials", "clock", "instance", "ssm agent", "transport"} {
		if seen[name] != "ok" {
			t.Errorf("doctor web-2: %s = %q, want ok (%s)", name, seen[name], out)
		}
	}
	if !strings.Contains(string(out), "auto would use ssm: the SSM agent is online") {
		t.Errorf("doctor web-2 does not say it would use ssm and why:\n%s", out)
	}
	// app-1's agent is offline: doctor says auto would go through EICE.
	if out, _, _ := e.run3(nil, "jitssh", "doctor", "app-1"); !strings.Contains(out, "auto would use eice") || !strings.Contains(out, "eice-") {
		t.Errorf("doctor app-1 does not say it would use eice:\n%s", out)
	}
	for target, want := range map[string]string{"old-1": "start-instances", twinID: "ConnectionLost"} {
		out, _, err := e.run3(nil, "jitssh", "doctor", target)
		if err == nil || !strings.Contains(out, "FAIL") || !strings.Contains(out, want) {
			t.Errorf("doctor %s: %v\n%s", target, err, out)
		}
	}
}

func errorAs(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	if ok {
		*target = ee
	}
	return ok
}

func TestKeyPushedOnceForABurst(t *testing.T) {
	e := newEnv(t, sshd.ResolveAuto())
	user := currentUser(t)
	in := e.sb.Instances[1]
	local := filepath.Join(t.TempDir(), "f")
	os.WriteFile(local, []byte("x"), 0o600)
	for i := range 3 {
		if _, stderr, err := e.run3(nil, "scp", "-q", "-F", e.sshCf, local, fmt.Sprintf("%s:/tmp/jitssh-burst-%d-%d", in.ID, os.Getpid(), i)); err != nil {
			t.Fatalf("scp %d: %v\n%s", i, err, stderr)
		}
		os.Remove(fmt.Sprintf("/tmp/jitssh-burst-%d-%d", os.Getpid(), i))
	}
	if n := len(e.sb.World.ActiveKeys(in.ID, user)); n != 1 {
		t.Fatalf("three scp runs within a minute pushed %d keys, want 1", n)
	}
	// Your own key with -i: its public half is pushed and used.
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	k, err := sshkeys.Generate("mine")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.WriteKeyFile(filepath.Join(dir, "id_ed25519")); err != nil {
		t.Fatal(err)
	}
	if out, err := e.run("jitssh", "ssh", "-i", filepath.Join(dir, "id_ed25519"), "web-1", "--", "true"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	keys := e.sb.World.ActiveKeys(e.sb.Instances[0].ID, user)
	if len(keys) != 1 || !strings.HasPrefix(keys[0].PublicKey, strings.TrimSpace(strings.TrimSuffix(k.AuthorizedKey(), "mine"))) {
		t.Fatalf("with -i, pushed %+v; want the user's key", keys)
	}
}

func TestChangedHostKeyIsExplained(t *testing.T) {
	e := newEnv(t, sshd.ResolveAuto())
	in := e.sb.Instances[1]
	if out, err := e.run("ssh", "-F", e.sshCf, in.ID, "true"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pins := filepath.Join(e.home, ".config", "jitssh", "known_hosts")
	other, _ := sshkeys.Generate("")
	forged := in.ID + " " + strings.Fields(other.AuthorizedKey())[0] + " " + strings.Fields(other.AuthorizedKey())[1] + "\n"
	if err := os.WriteFile(pins, []byte(forged), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := e.run3(nil, "ssh", "-F", e.sshCf, in.ID, "true")
	if err == nil {
		t.Fatal("ssh accepted a host key different from the pin")
	}
	for _, want := range []string{"host key for " + in.ID + " has changed", "jitssh known-hosts forget " + in.ID, "intercepting"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("ssh's error lacks jitssh's explanation %q:\n%s", want, stderr)
		}
	}
	if got, _ := os.ReadFile(pins); string(got) != forged {
		t.Fatalf("the pin was changed:\n%s", got)
	}
	if out, err := e.run("jitssh", "known-hosts", "forget", in.ID); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := e.run("ssh", "-F", e.sshCf, in.ID, "true"); err != nil {
		t.Fatalf("after forget, the key is re-learned: %v\n%s", err, out)
	}
}

func TestClientConfigFile(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	conf := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(conf, []byte("regoin = \"eu-west-1\"\n"), 0o600)
	_, stderr, err := e.run3([]string{"JITSSH_CONFIG=" + conf}, "jitssh", "ssh", "web-1", "--", "true")
	if err == nil || !strings.Contains(stderr, "unknown setting regoin") || !strings.Contains(stderr, conf) {
		t.Fatalf("bad config: %v\n%s", err, stderr)
	}
	// default_user beats the caller-derived user, --user beats both. The
	// sandbox's SCP lets a caller push keys only for its own OS user, so
	// default_user = someone else is refused by AWS, naming the push.
	os.WriteFile(conf, []byte("default_user = \"nobody-here\"\n"), 0o600)
	env := []string{"JITSSH_CONFIG=" + conf}
	if _, stderr, err := e.run3(env, "jitssh", "ssh", "web-1", "--", "true"); err == nil || !strings.Contains(stderr, "push key for nobody-here@i-0a1b2c3d4e5f00001") {
		t.Fatalf("default_user was not used: %v\n%s", err, stderr)
	}
	if _, stderr, err := e.run3(env, "jitssh", "ssh", "--user", currentUser(t), "web-1", "--", "true"); err != nil {
		t.Fatalf("--user did not override default_user: %v\n%s", err, stderr)
	}
	// Shell completion offers the instances' names and ids.
	out, err := e.run("jitssh", "__complete", "ssh", "")
	if err != nil || !strings.Contains(string(out), "web-1\t") || !strings.Contains(string(out), "i-0a1b2c3d4e5f00003\t") {
		t.Errorf("completion: %v\n%s", err, out)
	}
}

// TestLsLargeFleet lists 3000 instances from the sandbox's API layer and
// reports how long it takes.
func TestLsLargeFleet(t *testing.T) {
	const n = 3000
	var fleet []world.Instance
	for i := range n {
		fleet = append(fleet, world.Instance{
			ID: fmt.Sprintf("i-0a1b2c3d4e%07x", i), State: "running", PrivateIP: fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255),
			AZ: "us-east-1a", Tags: map[string]string{"Name": fmt.Sprintf("node-%04d", i)}, SSMOnline: i%3 != 0,
			LaunchTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		})
	}
	id := world.Identity{AccessKeyID: "AKIAJITSSHLSTEST0001", SecretAccessKey: "secret-for-the-ls-test-0123456789abcdefg",
		ARN: "arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/lister", UserID: "AROALS:lister",
		Policies: []policy.Document{policy.User(policy.Options{Region: "us-east-1", Account: "123456789012"})}}
	w, err := world.New(world.Config{Region: "us-east-1", Account: "123456789012", Identities: []world.Identity{id}, Instances: fleet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apis.NewHandler(w, apis.Options{}))
	defer srv.Close()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "JITSSH_") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+t.TempDir(), "AWS_ENDPOINT_URL="+srv.URL, "AWS_ACCESS_KEY_ID="+id.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+id.SecretAccessKey, "AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	cmd := exec.Command(filepath.Join(binDir, "jitssh"), "ls", "--output", "json")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var rows []struct {
		ID  string `json:"id"`
		SSM string `json:"ssm_agent"`
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatal(err)
	}
	online := 0
	for _, r := range rows {
		if r.SSM == "Online" {
			online++
		}
	}
	if len(rows) != n || online != n-n/3 {
		t.Fatalf("ls listed %d instances, %d online; want %d, %d", len(rows), online, n, n-n/3)
	}
	t.Logf("jitssh ls over %d instances: %v (EC2 pages of 1000, SSM lookups 50 ids a call, 8 at once)", n, took)
}
