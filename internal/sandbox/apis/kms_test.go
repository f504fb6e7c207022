package apis

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/jitssh/jitssh/internal/policy"
	sbkms "github.com/jitssh/jitssh/internal/sandbox/kms"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

const (
	kmsKeySessions = "0b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40"
	kmsKeyCarol    = "7c1d9e2f-0a3b-4c5d-8e6f-9a0b1c2d3e4f"
)

// carol has no identity policy: only a key policy naming her lets her in.
var carol = world.Identity{
	AccessKeyID:     "AKIASANDBOXCAROL0003",
	SecretAccessKey: "carol/secret/key/0123456789abcdefghijklm",
	ARN:             "arn:aws:sts::123456789012:assumed-role/Auditor/carol",
	UserID:          "AROASANDBOXAUDITOR:carol",
}

// newKMSEnv serves two keys: alias/ssm-sessions with KMS's default key
// policy (the account decides through identity policies: alice and bob
// are administrators, carol has none) and alias/carol-only, whose key
// policy names carol's role and nobody else; CloudTrail is recorded.
func newKMSEnv(t *testing.T) (*env, string) {
	t.Helper()
	svc, err := sbkms.New(testRegion, testAccount, []sbkms.Key{
		{ID: kmsKeySessions, Alias: "alias/ssm-sessions", Policy: sbkms.DefaultPolicy(testAccount)},
		{ID: kmsKeyCarol, Alias: "alias/carol-only", Policy: policy.Document{Version: policy.Version, Statement: []policy.Statement{{
			Sid: "CarolUses", Effect: policy.Allow,
			Principal: &policy.Principal{AWS: policy.Strings{"arn:aws:iam::123456789012:role/Auditor"}},
			Action:    policy.Strings{"kms:GenerateDataKey", "kms:Decrypt"}, Resource: policy.Strings{"*"},
		}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	trailPath := filepath.Join(t.TempDir(), "cloudtrail.jsonl")
	tl, err := trail.Open(trailPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	e := newEnvWith(t, world.Config{Identities: []world.Identity{alice, bob, carol}}, func(o *Options) {
		o.KMS, o.Trail = svc, tl
	})
	return e, trailPath
}

func (e *env) kms(id world.Identity) *kms.Client { return kms.NewFromConfig(e.as(id)) }

func apiCode(err error) (string, string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", ""
}

// TestKMSDataKeys: GenerateDataKey (KeySpec or NumberOfBytes) and Decrypt
// with the real SDK client; a blob opens only under its encryption
// context, only as its own key, and every key reference form works.
func TestKMSDataKeys(t *testing.T) {
	t.Parallel()
	e, _ := newKMSEnv(t)
	ctx := context.Background()
	c := e.kms(alice)
	encCtx := map[string]string{"aws:ssm:SessionId": "alice-0123", "aws:ssm:TargetId": idWeb1}
	arn := "arn:aws:kms:us-east-1:123456789012:key/" + kmsKeySessions
	for _, ref := range []string{"alias/ssm-sessions", kmsKeySessions, arn, "arn:aws:kms:us-east-1:123456789012:alias/ssm-sessions"} {
		out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(ref), KeySpec: "AES_256", EncryptionContext: encCtx})
		if err != nil {
			t.Fatalf("GenerateDataKey %s: %v", ref, err)
		}
		if len(out.Plaintext) != 32 || aws.ToString(out.KeyId) != arn || len(out.CiphertextBlob) == 0 {
			t.Fatalf("GenerateDataKey %s: %d-byte key, KeyId %s", ref, len(out.Plaintext), aws.ToString(out.KeyId))
		}
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: encCtx})
		if err != nil || !bytes.Equal(dec.Plaintext, out.Plaintext) || aws.ToString(dec.KeyId) != arn {
			t.Fatalf("Decrypt: %v (same key %v)", err, dec != nil && bytes.Equal(dec.Plaintext, out.Plaintext))
		}
	}
	out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/ssm-sessions"), NumberOfBytes: aws.Int32(64), EncryptionContext: encCtx})
	if err != nil || len(out.Plaintext) != 64 {
		t.Fatalf("64 bytes: %v", err)
	}
	other := map[string]string{"aws:ssm:SessionId": "bob-0456", "aws:ssm:TargetId": idWeb1}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: other})
	if code, _ := apiCode(err); code != "InvalidCiphertextException" {
		t.Fatalf("Decrypt under another context: %v", err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: encCtx, KeyId: aws.String("alias/carol-only")})
	if code, _ := apiCode(err); code != "IncorrectKeyException" {
		t.Fatalf("Decrypt naming another key: %v", err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("not a blob of this sandbox's at all, not at all")})
	if code, _ := apiCode(err); code != "InvalidCiphertextException" {
		t.Fatalf("Decrypt of garbage: %v", err)
	}
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/nope"), KeySpec: "AES_256"})
	if code, msg := apiCode(err); code != "NotFoundException" || msg != "Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found." {
		t.Fatalf("unknown alias: %v", err)
	}
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/ssm-sessions")})
	if code, _ := apiCode(err); code != "ValidationException" {
		t.Fatalf("neither KeySpec nor NumberOfBytes: %v", err)
	}
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/ssm-sessions"), NumberOfBytes: aws.Int32(2000)})
	if code, msg := apiCode(err); code != "ValidationException" || !strings.Contains(msg, "numberOfBytes") {
		t.Fatalf("2000 bytes: %v", err)
	}
}

// TestKMSKeyPolicies: the key policy is evaluated with the identity
// policies: the default key policy delegates to IAM (carol, without
// identity policies, is denied; alice, an administrator, allowed); a key
// policy naming carol's role lets her in without any identity policy and
// keeps the administrators out. AWS's messages, CloudTrail records
// without key material.
func TestKMSKeyPolicies(t *testing.T) {
	t.Parallel()
	e, trailPath := newKMSEnv(t)
	ctx := context.Background()
	encCtx := map[string]string{"aws:ssm:SessionId": "carol-1", "aws:ssm:TargetId": idWeb1}
	_, err := e.kms(carol).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/ssm-sessions"), NumberOfBytes: aws.Int32(64), EncryptionContext: encCtx})
	want := "User: arn:aws:sts::123456789012:assumed-role/Auditor/carol is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:123456789012:key/" + kmsKeySessions + " because no identity-based policy allows the kms:GenerateDataKey action"
	if code, msg := apiCode(err); code != "AccessDeniedException" || msg != want {
		t.Fatalf("carol on the default-policy key: %v\nwant %s", err, want)
	}
	out, err := e.kms(carol).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/carol-only"), NumberOfBytes: aws.Int32(64), EncryptionContext: encCtx})
	if err != nil {
		t.Fatalf("carol on her key: %v", err)
	}
	if _, err := e.kms(carol).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: encCtx}); err != nil {
		t.Fatalf("carol decrypts: %v", err)
	}
	_, err = e.kms(alice).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: encCtx})
	if code, msg := apiCode(err); code != "AccessDeniedException" || !strings.HasSuffix(msg, "because no resource-based policy allows the kms:Decrypt action") {
		t.Fatalf("alice on carol's key: %v", err)
	}

	b, err := os.ReadFile(trailPath)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev["eventSource"] != "kms.amazonaws.com" {
			continue
		}
		n++
		if strings.Contains(line, base64.StdEncoding.EncodeToString(out.Plaintext)) || strings.Contains(line, base64.StdEncoding.EncodeToString(out.CiphertextBlob)) ||
			strings.Contains(line, "plaintext") || strings.Contains(line, "ciphertextBlob") {
			t.Fatalf("CloudTrail record with key material: %s", line)
		}
		if !strings.Contains(line, `"aws:ssm:SessionId":"carol-1"`) {
			t.Fatalf("CloudTrail record without the encryption context: %s", line)
		}
	}
	if n != 4 || !strings.Contains(string(b), `"errorCode":"AccessDeniedException"`) {
		t.Fatalf("%d KMS records in CloudTrail, want 4 (one denied):\n%s", n, b)
	}
}

// TestKMSAWSCLI: the pip-installed aws CLI (botocore's own KMS model and
// signing) generates a data key, decrypts it, and gets the AccessDenied.
func TestKMSAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aws CLI")
	}
	t.Parallel()
	e, _ := newKMSEnv(t)
	out, stderr, code := awsCLI(t, e, alice, alice.SecretAccessKey, "kms", "generate-data-key", "--key-id", "alias/ssm-sessions",
		"--key-spec", "AES_256", "--encryption-context", "aws:ssm:SessionId=cli-1,aws:ssm:TargetId="+idWeb1)
	if code != 0 {
		t.Fatalf("generate-data-key: exit %d: %s", code, stderr)
	}
	var gen struct{ CiphertextBlob, Plaintext, KeyId string }
	if err := json.Unmarshal([]byte(out), &gen); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	blob, err := base64.StdEncoding.DecodeString(gen.CiphertextBlob)
	if err != nil {
		t.Fatal(err)
	}
	blobFile := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(blobFile, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = awsCLI(t, e, alice, alice.SecretAccessKey, "kms", "decrypt", "--ciphertext-blob", "fileb://"+blobFile,
		"--encryption-context", "aws:ssm:SessionId=cli-1,aws:ssm:TargetId="+idWeb1)
	if code != 0 {
		t.Fatalf("decrypt: exit %d: %s", code, stderr)
	}
	var dec struct{ Plaintext, KeyId string }
	if err := json.Unmarshal([]byte(out), &dec); err != nil || dec.Plaintext != gen.Plaintext || dec.KeyId != gen.KeyId {
		t.Fatalf("decrypt gave %+v (%v), want the generated key", dec, err)
	}
	_, stderr, code = awsCLI(t, e, carol, carol.SecretAccessKey, "kms", "generate-data-key", "--key-id", "alias/ssm-sessions", "--number-of-bytes", "64")
	if code == 0 || !strings.Contains(stderr, "An error occurred (AccessDeniedException) when calling the GenerateDataKey operation: User: arn:aws:sts::123456789012:assumed-role/Auditor/carol is not authorized") {
		t.Fatalf("carol: exit %d, stderr %s", code, stderr)
	}
}
