package apis

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// authorizedKey returns the OpenSSH public key line of k with a comment,
// including the trailing newline a .pub file has.
func authorizedKey(t *testing.T, k any, comment string) string {
	t.Helper()
	pub, err := ssh.NewPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(pub)), "\n") + " " + comment + "\n"
}

func TestSendSSHPublicKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	edPub := testkeys.New(t).Private.Public()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, key, az string
		as                  string
	}{
		{"ed25519", "ec2-user", authorizedKey(t, edPub, "alice@laptop"), "", alice.ARN},
		{"rsa with az", "alice", authorizedKey(t, &rsaKey.PublicKey, "alice@laptop"), "us-east-1a", alice.ARN},
		{"numeric user", "1001x", authorizedKey(t, edPub, "c"), "", bob.ARN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := alice
			if tt.as == bob.ARN {
				id = bob
			}
			in := &ec2instanceconnect.SendSSHPublicKeyInput{InstanceId: aws.String(idWeb1), InstanceOSUser: aws.String(tt.user), SSHPublicKey: aws.String(tt.key)}
			if tt.az != "" {
				in.AvailabilityZone = aws.String(tt.az)
			}
			out, err := e.eic(id).SendSSHPublicKey(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if !out.Success || len(aws.ToString(out.RequestId)) != 36 {
				t.Fatalf("Success=%v RequestId=%q", out.Success, aws.ToString(out.RequestId))
			}
			keys := e.world.ActiveKeys(idWeb1, tt.user)
			if len(keys) != 1 {
				t.Fatalf("%d active keys for %s", len(keys), tt.user)
			}
			k := keys[0]
			if k.PublicKey != strings.TrimSpace(tt.key) || k.Caller != tt.as || k.RequestID != aws.ToString(out.RequestId) {
				t.Errorf("pushed %+v", k)
			}
		})
	}
}

func TestSendSSHPublicKeyErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	edPub := testkeys.New(t).Private.Public()
	good := authorizedKey(t, edPub, "someone@example.com")
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	blob := strings.Fields(good)[1]
	tests := []struct {
		name, instance, user, key, az string
		code, msg                     string
	}{
		{"garbage key", idWeb1, "ec2-user", strings.Repeat("A", 100), "", "InvalidArgsException", "SSH Public key is invalid"},
		{"ecdsa key", idWeb1, "ec2-user", authorizedKey(t, &ecKey.PublicKey, "x"), "", "InvalidArgsException", "SSH Public key is invalid"},
		{"security key", idWeb1, "ec2-user", "sk-ssh-ed25519@openssh.com " + blob + " nobody@example.com", "", "InvalidArgsException", "SSH Public key is invalid"},
		{"type does not match blob", idWeb1, "ec2-user", "ssh-rsa " + blob + " nobody@example.com", "", "InvalidArgsException", "SSH Public key is invalid"},
		{"second line smuggled", idWeb1, "ec2-user", strings.TrimSpace(good) + "\nssh-ed25519 " + blob + " evil", "", "InvalidArgsException", "SSH Public key is invalid"},
		{"options prefix", idWeb1, "ec2-user", `command="/bin/sh" ` + good, "", "InvalidArgsException", "SSH Public key is invalid"},
		{"key too short", idWeb1, "ec2-user", "ssh-ed25519 AAAA", "", "InvalidArgsException", "Member must have length greater than or equal to 80"},
		{"key too long", idWeb1, "ec2-user", good + strings.Repeat("x", 4096), "", "InvalidArgsException", "Member must have length less than or equal to 4096"},
		{"instance id pattern", "i-0AAAAAAAAAAAAAAA1", "ec2-user", good, "", "InvalidArgsException", "Member must satisfy regular expression pattern: ^i-[a-f0-9]+$"},
		{"instance id too short", "i-0aaaaaa", "ec2-user", good, "", "InvalidArgsException", "Member must have length greater than or equal to 10"},
		{"user with space", idWeb1, "ec2 user", good, "", "InvalidArgsException", "at 'instanceOSUser' failed to satisfy constraint"},
		{"user leading dash", idWeb1, "-oProxyCommand", good, "", "InvalidArgsException", "at 'instanceOSUser'"},
		{"user too long", idWeb1, strings.Repeat("a", 33), good, "", "InvalidArgsException", "Member must have length less than or equal to 32"},
		{"bad az", idWeb1, "ec2-user", good, "nowhere", "InvalidArgsException", "at 'availabilityZone'"},
		{"unknown instance", idAbsent, "ec2-user", good, "", "EC2InstanceNotFoundException", idAbsent},
		{"wrong az", idWeb1, "ec2-user", good, "us-east-1b", "EC2InstanceNotFoundException", "us-east-1b"},
		{"stopped instance", idDB, "ec2-user", good, "", "EC2InstanceStateInvalidException", "not in a valid state"},
		{"terminated instance", idGone, "ec2-user", good, "", "EC2InstanceStateInvalidException", "not in a valid state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := &ec2instanceconnect.SendSSHPublicKeyInput{InstanceId: aws.String(tt.instance), InstanceOSUser: aws.String(tt.user), SSHPublicKey: aws.String(tt.key)}
			if tt.az != "" {
				in.AvailabilityZone = aws.String(tt.az)
			}
			_, err := e.eic(alice).SendSSHPublicKey(context.Background(), in)
			wantAPIError(t, err, tt.code, tt.msg)
			if keys := e.world.ActiveKeys(tt.instance, tt.user); len(keys) != 0 {
				t.Errorf("failed call published %d keys", len(keys))
			}
		})
	}
}

func TestValidOSUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		user string
		want bool
	}{
		{"ec2-user", true},
		{"a", true},
		{"_", true},
		{"alice.smith@corp", true},
		{"machine$", true},
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), false},
		{"1a", true}, // second alternative
		{"12345678901234567890123456789a", true},
		{"1", false}, // second alternative needs a non-digit
		{"11", false},
		{strings.Repeat("1", 32) + "a", false}, // lookahead: at most 32
		{"-a", false},
		{"a b", false},
		{"a$b", false},
		{"", false},
		{"ünïcode", false},
	}
	for _, tt := range tests {
		if got := validOSUser(tt.user); got != tt.want {
			t.Errorf("validOSUser(%q) = %v, want %v", tt.user, got, tt.want)
		}
	}
}

func FuzzParseEICKey(f *testing.F) {
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGRmZXZmZXZmZXZmZXZmZXZmZXZmZXZmZXZmZXZmZXZmZXZm comment here\n")
	f.Add("ssh-rsa AAAA\nssh-rsa AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		line, err := parseEICKey(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(line, "\r\n\x00") {
			t.Fatalf("accepted key with line break: %q", line)
		}
		pub, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil || len(rest) != 0 {
			t.Fatalf("normalised line %q does not parse as one authorized key: %v", line, err)
		}
		if pub.Type() != ssh.KeyAlgoED25519 && pub.Type() != ssh.KeyAlgoRSA {
			t.Fatalf("accepted key type %s", pub.Type())
		}
	})
}
