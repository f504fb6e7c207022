package sandbox

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"github.com/aws/smithy-go"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestDefaultIdentityCannotPushForRoot: the built-in default identity can
// push keys for its own OS user only (the jitssh user policy and SCP, on
// ec2:osuser), and when the sandbox runs as root that user is the
// sandbox's own RootUser, not root: pushing for root is denied.
func TestDefaultIdentityCannotPushForRoot(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"} {
		t.Setenv(k, "")
	}
	if os.Geteuid() == 0 && OwnAccounts() && LocalUser() != RootUser {
		t.Fatalf("as root the default OS user is %q, want %q", LocalUser(), RootUser)
	}
	if LocalUser() == "root" {
		t.Skip("the sandbox runs as root without its own accounts: its default user is root")
	}
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	def := sb.Identity
	eic := ec2instanceconnect.New(ec2instanceconnect.Options{Region: sb.World.Region, BaseEndpoint: aws.String(sb.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(def.AccessKeyID, def.SecretAccessKey, "")})
	var web InstanceInfo
	for _, in := range sb.Instances {
		if in.Name == "web-1" {
			web = in
		}
	}
	push := func(user string) error {
		_, err := eic.SendSSHPublicKey(context.Background(), &ec2instanceconnect.SendSSHPublicKeyInput{InstanceId: aws.String(web.ID),
			InstanceOSUser: aws.String(user), SSHPublicKey: aws.String("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test")})
		return err
	}
	if err := push(LocalUser()); err != nil {
		t.Fatalf("push for the default user %s: %v", LocalUser(), err)
	}
	var ae smithy.APIError
	if err := push("root"); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("push for root as the default identity: %v, want AccessDeniedException", err)
	}
	if os.Geteuid() == 0 && web.Homes == "" {
		t.Error("as root the instance has no accounts of its own")
	}
}
