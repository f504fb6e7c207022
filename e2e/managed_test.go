package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/placekey"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

const builtinMI = "mi-0a1b2c3d4e5f00001" // onprem-1

func managedInfo(t *testing.T, sb *sandbox.Sandbox) sandbox.InstanceInfo {
	t.Helper()
	for _, in := range sb.Instances {
		if in.Managed {
			return in
		}
	}
	t.Fatal("the sandbox has no managed instance")
	return sandbox.InstanceInfo{}
}

// TestSSHToManagedInstance: the real ssh reaches the built-in managed
// instance by id and by name, with the key placed through SSM Run Command
// (EC2 Instance Connect cannot serve mi- instances) for the same 60 s
// window as an EIC push; other transports are refused with the reason.
// As root the instance runs the key-placement script for real, and the
// key is in the real authorized_keys under the instance's homes, with its
// expiry-time, which the SSH server (the real sshd, or the embedded one)
// authorizes from.
func TestSSHToManagedInstance(t *testing.T) {
	for _, m := range sandboxenv.Modes(t) {
		t.Run(m.String(), func(t *testing.T) { testSSHToManagedInstance(t, m) })
	}
}

func testSSHToManagedInstance(t *testing.T, mode sshd.Mode) {
	e := managedEnv(t, mode)
	mi := managedInfo(t, e.sb)
	if mi.SSHServer != mode.String() {
		t.Fatalf("the managed instance runs the %s SSH server, want %s", mi.SSHServer, mode)
	}
	if os.Geteuid() == 0 && mi.Homes == "" {
		t.Fatal("as root the managed instance must run the key-placement script against its own accounts")
	}
	me := currentUser(t)
	start := time.Now()
	for _, target := range []string{builtinMI, "onprem-1"} {
		out, err := e.run("jitssh", "ssh", target, "--", "echo", "hello from", "$(hostname)")
		if err != nil {
			t.Fatalf("jitssh ssh %s: %v\n%s", target, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "hello from "+mi.Hostname {
			t.Fatalf("ssh %s said %q, want %q", target, got, "hello from "+mi.Hostname)
		}
		keys := e.sb.World.PlacedKeys(builtinMI, me)
		if len(keys) == 0 {
			t.Fatalf("no key placed for %s on %s", me, builtinMI)
		}
		k := keys[len(keys)-1]
		// The expiry-time written: the push window, rounded down to a second.
		if lo, hi := start.Add(58*time.Second), time.Now().Add(60*time.Second); k.Expires.Before(lo) || k.Expires.After(hi) {
			t.Errorf("placed key expires %v, want within [%v, %v]", k.Expires, lo, hi)
		}
		if !strings.HasSuffix(k.PublicKey, " "+placekey.Comment) {
			t.Errorf("placed key %q lacks the comment %s", k.PublicKey, placekey.Comment)
		}
		if mi.Homes != "" {
			b, err := os.ReadFile(filepath.Join(mi.Homes, me, ".ssh", "authorized_keys"))
			line := `expiry-time="` + k.Expires.UTC().Format("20060102150405") + `Z" ` + k.PublicKey + "\n"
			if err != nil || !strings.Contains(string(b), line) {
				t.Errorf("the instance's real authorized_keys (%v) lacks %q:\n%s", err, line, b)
			}
		}
	}
	// A second ssh to the same id within the window reuses the placement.
	n := len(e.sb.World.PlacedKeys(builtinMI, me))
	if out, err := e.run("jitssh", "ssh", builtinMI, "--", "true"); err != nil {
		t.Fatalf("second ssh: %v\n%s", err, out)
	}
	if got := len(e.sb.World.PlacedKeys(builtinMI, me)); got != n {
		t.Errorf("a second ssh within the window placed a key again (%d placed keys, was %d)", got, n)
	}
	// The key-placement command is in CloudTrail with jitssh's comment.
	if trail := readTrail(t, e.sb); !strings.Contains(trail, `"eventName":"SendCommand"`) || !strings.Contains(trail, "jitssh: SSH key for "+me) {
		t.Errorf("no SendCommand with jitssh's comment in CloudTrail:\n%.3000s", trail)
	}
	// Only ssm reaches a managed instance.
	for _, tr := range []string{"eice", "direct"} {
		_, stderr, err := e.run3(nil, "jitssh", "ssh", "--transport", tr, builtinMI, "--", "true")
		if err == nil || !strings.Contains(stderr, "only the ssm transport reaches it") {
			t.Errorf("--transport %s to %s: %v\n%s", tr, builtinMI, err, stderr)
		}
	}
	_, stderr, err := e.run3(nil, "jitssh", "ssh", "--via", builtinMI, "web-1", "--", "true")
	if err == nil || !strings.Contains(stderr, "cannot be a jump host") {
		t.Errorf("--via %s: %v\n%s", builtinMI, err, stderr)
	}
	// The agent offline: SendCommand is refused by SSM, and jitssh says why.
	if _, err := e.sb.SetAgentOnline(builtinMI, false); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = e.run3(nil, "jitssh", "ssh", builtinMI, "--", "true")
	t.Logf("agent offline: %s", stderr)
	if err == nil || !strings.Contains(stderr, "only the ssm transport reaches") && !strings.Contains(stderr, "agent is offline") {
		t.Errorf("ssh with the agent offline: %v\n%s", err, stderr)
	}
}

func readTrail(t *testing.T, sb *sandbox.Sandbox) string {
	t.Helper()
	b, err := os.ReadFile(sb.CloudTrail)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// managedEnv is a sandbox whose default identity has the jitssh user
// policy with ManagedInstances (`jitssh policy user --managed-instances`),
// and alice the plain one.
func managedEnv(t testing.TB, mode sshd.Mode) *env {
	t.Helper()
	f := config.Builtin()
	d := policy.User(policy.Options{Region: f.Region, Account: f.Account, ManagedInstances: true})
	if f.Policies == nil {
		f.Policies = map[string]config.PolicySpec{}
	}
	f.Policies["jitssh-user-managed"] = config.PolicySpec{Document: string(d.JSON())}
	if f.Identities[0].Name != "default" || f.Identities[1].Name != "alice" {
		t.Fatalf("built-in identities changed: %s, %s", f.Identities[0].Name, f.Identities[1].Name)
	}
	f.Identities[0].Policies = []string{"jitssh-user-managed"}
	acct, err := f.Resolve(currentUser(t))
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, mode, func(c *sandbox.Config) { c.Account = acct })
}

// TestManagedKeyPlacementNeedsSendCommand: the jitssh user policy with
// --managed-instances lets an identity place keys on managed instances
// with AWS-RunShellScript, and nothing more (no other document, no EC2
// instance); the plain policy and no policy are denied, and jitssh's
// advice names the action and `jitssh policy user --managed-instances`.
func TestManagedKeyPlacementNeedsSendCommand(t *testing.T) {
	e := managedEnv(t, sshd.Embedded)
	f := config.Builtin()
	ident := func(name string) world.Identity {
		for _, id := range e.sb.World.Identities() {
			if id.Name == name {
				return id
			}
		}
		t.Fatalf("no identity %s", name)
		return world.Identity{}
	}
	creds := func(name string) []string {
		id := ident(name)
		return []string{"AWS_ACCESS_KEY_ID=" + id.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + id.SecretAccessKey}
	}
	_, stderr, err := e.run3(creds("alice"), "jitssh", "ssh", builtinMI, "--", "true")
	if err == nil {
		t.Fatal("ssh without ssm:SendCommand succeeded")
	}
	t.Logf("without ssm:SendCommand: %s", stderr)
	for _, want := range []string{"ssm:SendCommand", "AccessDenied", "jitssh policy user --managed-instances"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := len(e.sb.World.PlacedKeys(builtinMI, "alice")); n != 0 {
		t.Errorf("%d keys placed for alice", n)
	}

	// The IAM boundary of the statements, with the SDK directly.
	client := func(name string) *ssm.Client {
		id := ident(name)
		return ssm.New(ssm.Options{Region: f.Region, BaseEndpoint: aws.String(e.sb.URL), RetryMaxAttempts: 1, HTTPClient: sandboxenv.HTTPClient(t, e.sb),
			Credentials: credentials.NewStaticCredentialsProvider(id.AccessKeyID, id.SecretAccessKey, "")})
	}
	key, err := sshkeys.Generate("")
	if err != nil {
		t.Fatal(err)
	}
	script, err := placekey.Script("alice", key.PublicKey(), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send := func(who, target, doc string) error {
		_, err := client(who).SendCommand(ctx, &ssm.SendCommandInput{InstanceIds: []string{target}, DocumentName: aws.String(doc),
			Parameters: map[string][]string{"commands": script}})
		return err
	}
	web1 := infoByName(t, e.sb, "web-1").ID
	for _, c := range []struct {
		who, target, doc string
		allowed          bool
	}{
		{"default", builtinMI, "AWS-RunShellScript", true},
		{"default", web1, "AWS-RunShellScript", false},
		{"default", builtinMI, "AWS-RunPowerShellScript", false},
		{"nopolicy", builtinMI, "AWS-RunShellScript", false},
		{"alice", builtinMI, "AWS-RunShellScript", false},
	} {
		err := send(c.who, c.target, c.doc)
		denied := err != nil && strings.Contains(err.Error(), "AccessDenied")
		if c.allowed && err != nil || !c.allowed && !denied {
			t.Errorf("SendCommand as %s to %s with %s: %v (allowed: %v)", c.who, c.target, c.doc, err, c.allowed)
		}
	}
}

// TestManagedKeyExpires: with a jitssh built with a short key window
// (the jitssh_shortkeys build tag, never in production builds), the key
// placed on a managed instance lets the real ssh in until its expiry-time
// and not after it, with no new placement. OpenSSH honours an
// expiry-time through the whole second it names (it compares whole
// seconds), so "after" is a second later.
func TestManagedKeyExpires(t *testing.T) {
	for _, m := range sandboxenv.Modes(t) {
		t.Run(m.String(), func(t *testing.T) { testManagedKeyExpires(t, m) })
	}
}

func testManagedKeyExpires(t *testing.T, mode sshd.Mode) {
	short := shortKeysJitssh(t)
	e := managedEnv(t, mode)
	mi := managedInfo(t, e.sb)
	me := currentUser(t)
	if out, err := e.run(short, "ssh", builtinMI, "--", "true"); err != nil {
		t.Fatalf("ssh with the short window: %v\n%s", err, out)
	}
	keys := e.sb.World.PlacedKeys(builtinMI, me)
	if len(keys) != 1 {
		t.Fatalf("%d keys placed, want 1", len(keys))
	}
	expires := keys[0].Expires
	if d := time.Until(expires); d > 9*time.Second {
		t.Fatalf("the short-window build placed a key valid for %v", d)
	}
	// The key file stays while its window is open (for bursts): plain ssh
	// with it, straight to the instance's SSH server, no proxy, no push.
	keyFile := filepath.Join(e.home, ".cache", "jitssh", "keys", me+"@"+builtinMI)
	host, port, _ := strings.Cut(mi.SSHAddr, ":")
	plain := func() (string, error) {
		out, err := exec.Command("ssh", "-F", "none", "-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"-p", port, "-l", me, host, "echo", "in").CombinedOutput()
		return string(out), err
	}
	if _, err := os.Stat(keyFile); err != nil {
		t.Fatalf("key file: %v", err)
	}
	// A positive control: skipped only when the machine was so slow that
	// less than 2 s of the 8 s window is left (the login itself may take
	// a second on a loaded machine).
	if left := time.Until(expires); left > 2*time.Second {
		if out, err := plain(); err != nil || strings.TrimSpace(out) != "in" {
			t.Fatalf("ssh before the expiry-time (%v left when it started, %v now): %v\n%s", left.Round(time.Millisecond), time.Until(expires).Round(time.Millisecond), err, out)
		}
	} else {
		t.Logf("only %v of the key window left: the check before the expiry-time skipped", left)
	}
	time.Sleep(time.Until(expires.Add(time.Second)) + 300*time.Millisecond)
	out, err := plain()
	if err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("ssh after the expiry-time: %v\n%s", err, out)
	}
	if n := len(e.sb.World.PlacedKeys(builtinMI, me)); n != 0 {
		t.Fatalf("%d keys still placed after the expiry", n)
	}
}
