package apis

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// Identities of an account configured as jitssh recommends: the user
// policy on developers, the impersonation SCP on the organisation.
var (
	// Only the SSH document, so that the shell document shows a denial.
	jitsshOpts = policy.Options{Region: testRegion, Account: testAccount, Documents: []string{policy.SSHDocument}}
	devAlice   = world.Identity{
		AccessKeyID:     "AKIASANDBOXDEVALICE1",
		SecretAccessKey: "devalice/secret/0123456789abcdefghijklmno",
		ARN:             "arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/alice",
		UserID:          "AROASANDBOXJITSSHDEV:alice",
		Tags:            map[string]string{"userName": "alice"},
		Policies:        []policy.Document{policy.User(jitsshOpts)},
	}
	devCarol = world.Identity{
		AccessKeyID:     "AKIASANDBOXDEVCAROL1",
		SecretAccessKey: "devcarol/secret/0123456789abcdefghijklmno",
		ARN:             "arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/carol",
		UserID:          "AROASANDBOXJITSSHDEV:carol",
		Tags:            map[string]string{"userName": "carol"},
		Policies:        []policy.Document{policy.User(jitsshOpts)},
	}
	noPolicy = world.Identity{
		AccessKeyID:     "AKIASANDBOXNOPOLICY1",
		SecretAccessKey: "nopolicy/secret/0123456789abcdefghijklmno",
		ARN:             "arn:aws:iam::123456789012:user/nopolicy",
		UserID:          "AIDASANDBOXNOPOLICY",
		Tags:            map[string]string{"userName": "nopolicy"},
	}
	fullAWSAccess = policy.Document{Version: policy.Version, Statement: []policy.Statement{{
		Sid: "FullAWSAccess", Effect: policy.Allow, Action: policy.Strings{"*"}, Resource: policy.Strings{"*"}}}}
)

// newIAMEnv is newEnv for an organisation with the impersonation SCP and
// the identities above, recording a CloudTrail log.
func newIAMEnv(t *testing.T) (*env, string) {
	t.Helper()
	w, err := world.New(world.Config{Region: testRegion, Account: testAccount,
		Identities: []world.Identity{devAlice, devCarol, noPolicy},
		SCPs:       []policy.Document{fullAWSAccess, policy.SCP(jitsshOpts)},
		Instances:  testInstances()})
	if err != nil {
		t.Fatal(err)
	}
	trailPath := filepath.Join(t.TempDir(), "cloudtrail.jsonl")
	tl, err := trail.Open(trailPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	e := &env{t: t, world: w, logs: &syncBuffer{}}
	e.srv = httptest.NewServer(NewHandler(w, Options{
		StreamURL: func(id string) string { return "ws://127.0.0.1:9/v1/data-channel/" + id + "?role=publish_subscribe" },
		Logger:    slog.New(slog.NewJSONHandler(e.logs, nil)),
		Trail:     tl,
	}))
	t.Cleanup(e.srv.Close)
	return e, trailPath
}

func pubKey(t *testing.T) string {
	t.Helper()
	return testkeys.New(t).Line("test")
}

const web1ARN = "arn:aws:ec2:us-east-1:123456789012:instance/" + idWeb1

func TestIAMWithSDK(t *testing.T) {
	t.Parallel()
	e, _ := newIAMEnv(t)
	ctx := context.Background()
	key := pubKey(t)
	push := func(id world.Identity, osUser string) error {
		_, err := e.eic(id).SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
			InstanceId: aws.String(idWeb1), InstanceOSUser: aws.String(osUser), SSHPublicKey: aws.String(key)})
		return err
	}

	t.Run("push for own user", func(t *testing.T) {
		if err := push(devAlice, "alice"); err != nil {
			t.Fatal(err)
		}
		if len(e.world.ActiveKeys(idWeb1, "alice")) != 1 {
			t.Error("key for alice not published")
		}
	})
	t.Run("push for another user is denied by the SCP", func(t *testing.T) {
		err := push(devAlice, "bob")
		wantAPIError(t, err, "AccessDeniedException",
			"User: arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/alice is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: "+web1ARN+" with an explicit deny in a service control policy")
		if len(e.world.ActiveKeys(idWeb1, "bob")) != 0 {
			t.Error("a denied push published a key")
		}
	})
	t.Run("push without identity policy", func(t *testing.T) {
		wantAPIError(t, push(noPolicy, "nopolicy"), "AccessDeniedException",
			"User: arn:aws:iam::123456789012:user/nopolicy is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: "+web1ARN+" because no identity-based policy allows the ec2-instance-connect:SendSSHPublicKey action")
	})
	t.Run("push for unknown instance is denied before lookup when not allowed", func(t *testing.T) {
		_, err := e.eic(devAlice).SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
			InstanceId: aws.String(idAbsent), InstanceOSUser: aws.String("root"), SSHPublicKey: aws.String(key)})
		wantAPIError(t, err, "AccessDeniedException", "with an explicit deny in a service control policy")
	})

	t.Run("StartSession without identity policy", func(t *testing.T) {
		_, err := e.ssm(noPolicy).StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: aws.String(SSHDocument)})
		wantAPIError(t, err, "AccessDeniedException",
			"User: arn:aws:iam::123456789012:user/nopolicy is not authorized to perform: ssm:StartSession on resource: "+web1ARN+" because no identity-based policy allows the ssm:StartSession action")
	})
	t.Run("StartSession with a document the policy does not name", func(t *testing.T) {
		_, err := e.ssm(devAlice).StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(idWeb1)})
		wantAPIError(t, err, "AccessDeniedException",
			"is not authorized to perform: ssm:StartSession on resource: arn:aws:ssm:us-east-1:123456789012:document/SSM-SessionManagerRunShell because no identity-based policy allows the ssm:StartSession action")
	})
	var sessionID string
	t.Run("StartSession with the SSH document", func(t *testing.T) {
		out, err := e.ssm(devAlice).StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: aws.String(SSHDocument),
			Parameters: map[string][]string{"portNumber": {"22"}}})
		if err != nil {
			t.Fatal(err)
		}
		sessionID = aws.ToString(out.SessionId)
	})
	t.Run("others cannot end or resume the session", func(t *testing.T) {
		_, err := e.ssm(devCarol).TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(sessionID)})
		wantAPIError(t, err, "AccessDeniedException",
			"User: arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/carol is not authorized to perform: ssm:TerminateSession on resource: arn:aws:ssm:us-east-1:123456789012:session/"+sessionID+" because no identity-based policy allows the ssm:TerminateSession action")
		_, err = e.ssm(devCarol).ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: aws.String(sessionID)})
		wantAPIError(t, err, "AccessDeniedException", "ssm:ResumeSession")
		s, _ := e.world.Session(sessionID)
		select {
		case <-s.Done():
			t.Error("a denied TerminateSession ended the session")
		default:
		}
	})
	t.Run("the owner resumes and ends the session", func(t *testing.T) {
		if _, err := e.ssm(devAlice).ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: aws.String(sessionID)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ssm(devAlice).TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(sessionID)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("DescribeInstances", func(t *testing.T) {
		if _, err := e.ec2(devAlice).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
			t.Fatal(err)
		}
		_, err := e.ec2(noPolicy).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		wantAPIError(t, err, "UnauthorizedOperation",
			"You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/nopolicy is not authorized to perform: ec2:DescribeInstances because no identity-based policy allows the ec2:DescribeInstances action")
		// DryRun answers UnauthorizedOperation, not DryRunOperation, to
		// those who may not call it.
		_, err = e.ec2(noPolicy).DescribeInstances(ctx, &ec2.DescribeInstancesInput{DryRun: aws.Bool(true)})
		wantAPIError(t, err, "UnauthorizedOperation", "ec2:DescribeInstances")
	})
	t.Run("DescribeInstanceInformation", func(t *testing.T) {
		_, err := e.ssm(noPolicy).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
		wantAPIError(t, err, "AccessDeniedException", "ssm:DescribeInstanceInformation because no identity-based policy allows")
	})
	t.Run("GetCallerIdentity needs no permission", func(t *testing.T) {
		out, err := e.sts(noPolicy).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(out.Arn) != noPolicy.ARN {
			t.Fatalf("%v %v", out, err)
		}
	})
}

func TestIAMWithCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aws CLI")
	}
	t.Parallel()
	e, _ := newIAMEnv(t)
	key := pubKey(t)
	for _, tc := range []struct {
		name string
		id   world.Identity
		args []string
		want string // "" = success
	}{
		{"push for self", devAlice, []string{"ec2-instance-connect", "send-ssh-public-key", "--instance-id", idWeb1, "--instance-os-user", "alice", "--ssh-public-key", key}, ""},
		{"push for bob", devAlice, []string{"ec2-instance-connect", "send-ssh-public-key", "--instance-id", idWeb1, "--instance-os-user", "bob", "--ssh-public-key", key},
			"An error occurred (AccessDeniedException) when calling the SendSSHPublicKey operation: User: arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/alice is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: " + web1ARN + " with an explicit deny in a service control policy"},
		{"start-session without policy", noPolicy, []string{"ssm", "start-session", "--target", idWeb1, "--document-name", SSHDocument, "--parameters", "portNumber=22"},
			"An error occurred (AccessDeniedException) when calling the StartSession operation: User: arn:aws:iam::123456789012:user/nopolicy is not authorized to perform: ssm:StartSession on resource: " + web1ARN + " because no identity-based policy allows the ssm:StartSession action"},
		{"describe-instances without policy", noPolicy, []string{"ec2", "describe-instances"},
			"An error occurred (UnauthorizedOperation) when calling the DescribeInstances operation: You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/nopolicy is not authorized to perform: ec2:DescribeInstances because no identity-based policy allows the ec2:DescribeInstances action"},
		{"get-caller-identity without policy", noPolicy, []string{"sts", "get-caller-identity"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, code := awsCLI(t, e, tc.id, tc.id.SecretAccessKey, tc.args...)
			if tc.want == "" {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				return
			}
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant it to contain:\n%s", code, stderr, tc.want)
			}
		})
	}
}

func TestCloudTrail(t *testing.T) {
	t.Parallel()
	e, path := newIAMEnv(t)
	ctx := context.Background()
	key := pubKey(t)
	_, err := e.eic(devAlice).SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
		InstanceId: aws.String(idWeb1), InstanceOSUser: aws.String("bob"), SSHPublicKey: aws.String(key)})
	if err == nil {
		t.Fatal("impersonation allowed")
	}
	out, err := e.ssm(devAlice).StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: aws.String(SSHDocument)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sts(noPolicy).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	e.raw(&world.Identity{AccessKeyID: "AKIAUNKNOWN000000000", SecretAccessKey: "x"}, "sts",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "Action=GetCallerIdentity&Version=2011-06-15")

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		events = append(events, ev)
	}
	if len(events) != 4 {
		t.Fatalf("%d events, want 4:\n%v", len(events), events)
	}
	deny, start, gci, unknown := events[0], events[1], events[2], events[3]
	str := func(m map[string]any, path ...string) string {
		var v any = m
		for _, p := range path {
			mm, _ := v.(map[string]any)
			v = mm[p]
		}
		s, _ := v.(string)
		return s
	}
	for k, want := range map[string]string{
		"eventSource": "ec2-instance-connect.amazonaws.com", "eventName": "SendSSHPublicKey",
		"errorCode": "AccessDeniedException", "sourceIPAddress": "127.0.0.1", "awsRegion": testRegion,
		"recipientAccountId": testAccount, "eventType": "AwsApiCall",
	} {
		if got := str(deny, k); got != want {
			t.Errorf("denied push: %s = %q, want %q", k, got, want)
		}
	}
	if str(deny, "userIdentity", "arn") != devAlice.ARN || str(deny, "userIdentity", "type") != "AssumedRole" ||
		str(deny, "userIdentity", "accessKeyId") != devAlice.AccessKeyID {
		t.Errorf("denied push: userIdentity = %v", deny["userIdentity"])
	}
	if str(deny, "requestParameters", "instanceOSUser") != "bob" || str(deny, "requestParameters", "instanceId") != idWeb1 {
		t.Errorf("denied push: requestParameters = %v", deny["requestParameters"])
	}
	if !strings.Contains(str(deny, "errorMessage"), "explicit deny in a service control policy") {
		t.Errorf("denied push: errorMessage = %q", str(deny, "errorMessage"))
	}
	authz, _ := deny["sandboxAuthorization"].([]any)
	if len(authz) != 1 || !strings.Contains(string(mustJSON(authz)), `"statementId":"DenySendSSHPublicKeyForOtherOSUsers"`) {
		t.Errorf("denied push: sandboxAuthorization = %s", mustJSON(authz))
	}
	if str(start, "responseElements", "sessionId") != aws.ToString(out.SessionId) ||
		str(start, "responseElements", "tokenValue") != trail.HiddenValue || str(start, "errorCode") != "" {
		t.Errorf("StartSession record: %s", mustJSON(start))
	}
	if strings.Contains(string(mustJSON(events)), aws.ToString(out.TokenValue)) {
		t.Error("the session token reached the CloudTrail log")
	}
	for _, ev := range events {
		for _, secret := range []string{devAlice.SecretAccessKey, noPolicy.SecretAccessKey} {
			if strings.Contains(string(mustJSON(ev)), secret) {
				t.Errorf("a secret key reached the CloudTrail log: %s", mustJSON(ev))
			}
		}
		if str(ev, "eventID") == "" || str(ev, "requestID") == "" || str(ev, "eventTime") == "" {
			t.Errorf("event without ids or time: %s", mustJSON(ev))
		}
	}
	if str(gci, "eventName") != "GetCallerIdentity" || str(gci, "userIdentity", "type") != "IAMUser" || str(gci, "userIdentity", "userName") != "nopolicy" {
		t.Errorf("GetCallerIdentity record: %s", mustJSON(gci))
	}
	if str(unknown, "errorCode") != "InvalidClientTokenId" || str(unknown, "userIdentity", "accessKeyId") != "AKIAUNKNOWN000000000" {
		t.Errorf("unknown key record: %s", mustJSON(unknown))
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
