package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/placekey"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// TestManagedInstanceHonoursPlacedKeys places a key on the built-in
// managed instance with SSM SendCommand (the key-placement script) and
// logs in to its SSH server with it; other keys and other users are
// refused, and a caller without ssm:SendCommand (the default identity)
// is denied.
func TestManagedInstanceHonoursPlacedKeys(t *testing.T) {
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	var mi InstanceInfo
	for _, in := range sb.Instances {
		if in.Managed {
			mi = in
		}
	}
	if mi.ID != "mi-0a1b2c3d4e5f00001" || mi.IMDS != "" || mi.SSHServer != "embedded" {
		t.Fatalf("managed instance %+v", mi)
	}
	client := func(name string) *ssm.Client {
		for _, id := range sb.identities {
			if id.Name == name {
				return ssm.New(ssm.Options{Region: sb.World.Region, BaseEndpoint: aws.String(sb.URL),
					Credentials: credentials.NewStaticCredentialsProvider(id.AccessKeyID, id.SecretAccessKey, "")})
			}
		}
		t.Fatalf("no identity %s", name)
		return nil
	}
	me := LocalUser() // as root, the embedded server logs in real users only
	key := testkeys.New(t)
	sshPub, signer := key.Public, key.Signer
	script, err := placekey.Script(me, sshPub, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := &ssm.SendCommandInput{InstanceIds: []string{mi.ID}, DocumentName: aws.String("AWS-RunShellScript"),
		Parameters: map[string][]string{"commands": script}}
	if _, err := client("default").SendCommand(ctx, in); err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("SendCommand as the jitssh user policy: %v, want AccessDeniedException", err)
	}

	login := func(user string, s ssh.Signer) (string, error) {
		c, err := ssh.Dial("tcp", mi.SSHAddr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(s)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
		if err != nil {
			return "", err
		}
		defer c.Close()
		sess, err := c.NewSession()
		if err != nil {
			return "", err
		}
		defer sess.Close()
		out, err := sess.Output("echo placed")
		return string(out), err
	}
	if _, err := login(me, signer); err == nil {
		t.Fatal("logged in before any key was placed")
	}
	if _, err := client("admin").SendCommand(ctx, in); err != nil {
		t.Fatalf("SendCommand as admin: %v", err)
	}
	if out, err := login(me, signer); err != nil || strings.TrimSpace(out) != "placed" {
		t.Fatalf("login with the placed key: %q %v", out, err)
	}
	if _, err := login("nobody", signer); err == nil {
		t.Error("the key placed for one user let another in")
	}
	otherSigner := testkeys.Signer(t)
	if _, err := login(me, otherSigner); err == nil {
		t.Error("a key that was never placed was accepted")
	}
}

// TestManagedInstanceRunsPlacementScript: as root, the managed instance
// runs the key-placement script for real against its own accounts: the
// key lands in the real ~/.ssh/authorized_keys under the instance's homes
// (the user's, 0600, with its expiry-time), the machine's own root home is
// untouched, the embedded server honours the file until the expiry-time
// and not after, and a script that fails on the instance (a user without
// a home) is a Failed invocation with the script's own message.
func TestManagedInstanceRunsPlacementScript(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the script runs as root against the instance's own accounts")
	}
	realAK, _ := os.ReadFile("/root/.ssh/authorized_keys")
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	var mi InstanceInfo
	for _, in := range sb.Instances {
		if in.Managed {
			mi = in
		}
	}
	if mi.Homes == "" {
		t.Fatalf("the managed instance has no homes: %+v", mi)
	}
	var admin *ssm.Client
	for _, id := range sb.identities {
		if id.Name == "admin" {
			admin = ssm.New(ssm.Options{Region: sb.World.Region, BaseEndpoint: aws.String(sb.URL), RetryMaxAttempts: 1,
				Credentials: credentials.NewStaticCredentialsProvider(id.AccessKeyID, id.SecretAccessKey, "")})
		}
	}
	ctx := context.Background()
	key := testkeys.New(t)
	sshPub, signer := key.Public, key.Signer
	send := func(user string, exp time.Time) (string, string) {
		script, err := placekey.Script(user, sshPub, exp)
		if err != nil {
			t.Fatal(err)
		}
		out, err := admin.SendCommand(ctx, &ssm.SendCommandInput{InstanceIds: []string{mi.ID}, DocumentName: aws.String("AWS-RunShellScript"),
			Parameters: map[string][]string{"commands": script}})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := admin.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(mi.ID)})
		if err != nil {
			t.Fatal(err)
		}
		return string(inv.Status), aws.ToString(inv.StandardErrorContent)
	}
	exp := time.Now().Add(3 * time.Second).Truncate(time.Second)
	if st, stderr := send("root", exp); st != "Success" {
		t.Fatalf("placement for root: %s\n%s", st, stderr)
	}
	ak := filepath.Join(mi.Homes, "root", ".ssh", "authorized_keys")
	b, err := os.ReadFile(ak)
	want := `expiry-time="` + exp.UTC().Format("20060102150405") + `Z" ` + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + placekey.Comment + "\n"
	if err != nil || string(b) != want {
		t.Fatalf("%s: %q %v, want %q", ak, b, err, want)
	}
	if fi, err := os.Lstat(ak); err != nil || fi.Mode() != 0o600 {
		t.Errorf("%s: %v %v, want a 0600 file", ak, fi.Mode(), err)
	}
	if now, _ := os.ReadFile("/root/.ssh/authorized_keys"); string(now) != string(realAK) {
		t.Fatal("the machine's /root/.ssh/authorized_keys changed")
	}
	login := func() error {
		c, err := ssh.Dial("tcp", mi.SSHAddr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := login(); err != nil {
		t.Fatalf("login with the placed key: %v", err)
	}
	// The session sees the instance's accounts: root's home is the one
	// under the instance's homes.
	c, err := ssh.Dial("tcp", mi.SSHAddr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := c.NewSession()
	out, err := sess.Output(`pwd; getent passwd root | cut -d: -f6`)
	c.Close()
	if home := filepath.Join(mi.Homes, "root"); err != nil || string(out) != home+"\n"+home+"\n" {
		t.Errorf("pwd and root's home in a session: %q %v, want %s twice", out, err, home)
	}
	time.Sleep(time.Until(exp.Add(time.Second)) + 200*time.Millisecond) // sshd compares whole seconds
	if err := login(); err == nil {
		t.Error("login after the key's expiry-time")
	}
	// nobody's home (moved under the instance's homes) does not exist.
	st, stderr := send("nobody", time.Now().Add(time.Minute))
	if st != "Failed" || !strings.Contains(stderr, "cannot enter") {
		t.Errorf("placement for a user without a home: %s %q, want Failed saying why", st, stderr)
	}
	if st, stderr := send("nosuchuser", time.Now().Add(time.Minute)); st != "Failed" || !strings.Contains(stderr, "no user nosuchuser") {
		t.Errorf("placement for a missing user: %s %q", st, stderr)
	}
}

func TestUnexpiredKeys(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 500e6, time.UTC)
	const k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhX8J1sZ4f0l0rXz3m7r0xyFzYqk2t6H3HkJtqM0y9Q"
	in := "# comment\n" +
		`expiry-time="20261202085959Z" ` + k + " past\n" +
		`expiry-time="20261202090000Z" ` + k + " this-second\n" +
		`no-pty,expiry-time="202612020901Z" ` + k + " future\n" +
		`expiry-time="2026" ` + k + " malformed\n" +
		k + " plain\n"
	got := strings.Join(unexpiredKeys([]byte(in), now), "\n")
	want := k + " this-second\nno-pty " + k + " future\n" + k + " plain"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func FuzzUnexpiredKeys(f *testing.F) {
	f.Add(`expiry-time="20261202090000Z" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhX8J1sZ4f0l0rXz3m7r0xyFzYqk2t6H3HkJtqM0y9Q x` + "\n")
	f.Add("restrict,expiry-time=\"20260101\" ssh-rsa AAAA\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, line := range unexpiredKeys([]byte(s), time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)) {
			_, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				t.Fatalf("returned line %q does not parse: %v", line, err)
			}
			for _, o := range opts {
				if strings.HasPrefix(strings.ToLower(o), "expiry-time") {
					t.Fatalf("returned line %q keeps an expiry-time", line)
				}
			}
		}
	})
}
