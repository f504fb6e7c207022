package sandbox

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/placekey"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
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
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(pub)
	signer, _ := ssh.NewSignerFromKey(priv)
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
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	if _, err := login(me, otherSigner); err == nil {
		t.Error("a key that was never placed was accepted")
	}
}
