package apis

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/oidc"
	"github.com/jitssh/jitssh/internal/sandbox/totp"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

const (
	carolARN    = "arn:aws:iam::123456789012:user/carol"
	carolSerial = "arn:aws:iam::123456789012:mfa/carol"
	roleMFA     = "arn:aws:iam::123456789012:role/AdminMFA"
	rolePartner = "arn:aws:iam::123456789012:role/Partner"
	roleTagged  = "arn:aws:iam::123456789012:role/Tagged"
	roleChained = "arn:aws:iam::123456789012:role/Chained"
	roleWebID   = "arn:aws:iam::123456789012:role/WebID"
	testIssuer  = "http://127.0.0.1:1/oidc"
)

var carolSecret = []byte("carol-mfa-secret-0123")

func doc(stmts ...policy.Statement) policy.Document {
	return policy.Document{Version: policy.Version, Statement: stmts}
}

func trustAWS(principal string, actions []string, cond policy.Condition) policy.Statement {
	return policy.Statement{Effect: policy.Allow, Principal: &policy.Principal{AWS: policy.Strings{principal}},
		Action: actions, Condition: cond}
}

// stsEnv is a sandbox API with carol (an IAM user with a virtual MFA
// device and only STS permissions), roles trusting her in various ways,
// the OIDC issuer, a CloudTrail log, and a clock tests move (each MFA code
// needs a fresh 30-second window).
type stsEnv struct {
	*env
	clock  *atomic.Int64 // unix seconds
	carol  world.Identity
	issuer *oidc.Issuer
	trail  string
}

func newSTSEnv(t *testing.T) *stsEnv {
	t.Helper()
	clock := &atomic.Int64{}
	clock.Store(time.Now().Unix())
	now := func() time.Time { return time.Unix(clock.Load(), 0) }
	carol := world.Identity{AccessKeyID: "AKIASANDBOXCAROL0001", SecretAccessKey: "carol/secret/key/0123456789abcdefghijklm",
		ARN: carolARN, UserID: "AIDASANDBOXCAROL", Name: "carol", MFASerial: carolSerial,
		Tags: map[string]string{"userName": "carol"},
		Policies: []policy.Document{doc(
			policy.Statement{Effect: policy.Allow, Action: policy.Strings{"sts:AssumeRole", "sts:GetSessionToken", "sts:GetCallerIdentity"}, Resource: policy.Strings{"*"}},
			policy.Statement{Effect: policy.Allow, Action: policy.Strings{"sts:TagSession"}, Resource: policy.Strings{roleTagged}},
		)}}
	key, err := oidc.LoadOrCreateKey(filepath.Join(t.TempDir(), "oidc.pem"))
	if err != nil {
		t.Fatal(err)
	}
	is := oidc.New(testIssuer, key, now)
	prov := is.ProviderID()
	mfaOnly := doc(policy.Statement{Effect: policy.Allow, Action: policy.Strings{"ec2:DescribeInstances"}, Resource: policy.Strings{"*"},
		Condition: policy.Condition{"Bool": {"aws:MultiFactorAuthPresent": {"true"}}, "StringEquals": {"aws:PrincipalTag/userName": {"carol"}}}})
	roles := []world.Role{
		{Name: "AdminMFA", MaxSession: 2 * time.Hour, Tags: map[string]string{"userName": "carol"},
			Trust:    doc(trustAWS(carolARN, policy.Strings{"sts:AssumeRole"}, policy.Condition{"Bool": {"aws:MultiFactorAuthPresent": {"true"}}})),
			Policies: []policy.Document{mfaOnly, doc(policy.Statement{Effect: policy.Allow, Action: policy.Strings{"sts:AssumeRole", "sts:GetSessionToken"}, Resource: policy.Strings{"*"}})}},
		{Name: "Partner", Trust: doc(trustAWS("123456789012", policy.Strings{"sts:AssumeRole"}, policy.Condition{"StringEquals": {"sts:ExternalId": {"ext-123"}}}))},
		{Name: "Tagged", Trust: doc(trustAWS(carolARN, policy.Strings{"sts:AssumeRole", "sts:TagSession"}, nil))},
		{Name: "Chained", MaxSession: 12 * time.Hour, Trust: doc(trustAWS(roleMFA, policy.Strings{"sts:AssumeRole"}, nil))},
		{Name: "WebID", Trust: doc(policy.Statement{Effect: policy.Allow, Principal: &policy.Principal{Federated: policy.Strings{is.ProviderARN(testAccount)}},
			Action:    policy.Strings{"sts:AssumeRoleWithWebIdentity"},
			Condition: policy.Condition{"StringEquals": {prov + ":aud": {"sts.amazonaws.com"}, prov + ":sub": {"ci"}}}}),
			Policies: []policy.Document{adminAccess}},
	}
	tl := filepath.Join(t.TempDir(), "cloudtrail.jsonl")
	log, err := trail.Open(tl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	e := newEnvWith(t, world.Config{Now: now, Identities: []world.Identity{alice, carol}, Roles: roles,
		MFADevices: []world.MFADevice{{Serial: carolSerial, UserARN: carolARN, Secret: carolSecret}}},
		func(o *Options) { o.OIDC, o.Trail = is, log })
	return &stsEnv{env: e, clock: clock, carol: carol, issuer: is, trail: tl}
}

// code returns the MFA code of the current window after moving the clock
// on by one window, so every call gets a code never used.
func (e *stsEnv) code() string {
	e.clock.Add(30)
	return totp.Code(carolSecret, time.Unix(e.clock.Load(), 0))
}

func (e *stsEnv) assume(id world.Identity, in *sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
	return e.sts(id).AssumeRole(context.Background(), in)
}

func sessionIdentity(c *ststypes.Credentials) world.Identity {
	return world.Identity{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey), SessionToken: aws.ToString(c.SessionToken)}
}

func TestAssumeRoleWithMFA(t *testing.T) {
	t.Parallel()
	e := newSTSEnv(t)
	ctx := context.Background()
	in := func(code string) *sts.AssumeRoleInput {
		return &sts.AssumeRoleInput{RoleArn: aws.String(roleMFA), RoleSessionName: aws.String("carol"),
			SerialNumber: aws.String(carolSerial), TokenCode: aws.String(code)}
	}
	code := e.code()
	out, err := e.assume(e.carol, in(code))
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::123456789012:assumed-role/AdminMFA/carol" {
		t.Errorf("AssumedRoleUser.Arn = %s", got)
	}
	if got := aws.ToString(out.AssumedRoleUser.AssumedRoleId); !strings.HasPrefix(got, "AROA") || !strings.HasSuffix(got, ":carol") {
		t.Errorf("AssumedRoleId = %s", got)
	}
	if k := aws.ToString(out.Credentials.AccessKeyId); !strings.HasPrefix(k, "ASIA") {
		t.Errorf("AccessKeyId = %s", k)
	}
	if exp := out.Credentials.Expiration; exp == nil || exp.Sub(time.Unix(e.clock.Load(), 0)) != time.Hour {
		t.Errorf("Expiration = %v, want an hour from now", exp)
	}
	sess := sessionIdentity(out.Credentials)
	who, err := e.sts(sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != aws.ToString(out.AssumedRoleUser.Arn) {
		t.Fatalf("GetCallerIdentity with the session = %v, %v", who, err)
	}
	// The role's policy needs MFA and the principal tag from the role.
	if _, err := e.ec2(sess).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("DescribeInstances in the MFA session: %v", err)
	}

	// The same code again, a wrong code, half the MFA pair, another
	// user's device, a malformed code.
	_, err = e.assume(e.carol, in(code))
	wantAPIError(t, err, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
	wrong := "000000"
	if wrong == totp.Code(carolSecret, time.Unix(e.clock.Load(), 0)) {
		wrong = "111111"
	}
	_, err = e.assume(e.carol, in(wrong))
	wantAPIError(t, err, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
	_, err = e.assume(e.carol, &sts.AssumeRoleInput{RoleArn: aws.String(roleMFA), RoleSessionName: aws.String("carol"), TokenCode: aws.String(e.code())})
	wantAPIError(t, err, "AccessDenied", "must provide both MFA serial number and one time pass code")
	bad := in(e.code())
	bad.SerialNumber = aws.String("arn:aws:iam::123456789012:mfa/alice")
	_, err = e.assume(e.carol, bad)
	wantAPIError(t, err, "AccessDenied", "Please verify your MFA serial number is valid and associated with this user.")
	_, err = e.assume(e.carol, in("12a456"))
	wantAPIError(t, err, "ValidationError", "Value '12a456' at 'tokenCode' failed to satisfy constraint")

	// Without MFA the trust policy denies, with AWS's words.
	_, err = e.assume(e.carol, &sts.AssumeRoleInput{RoleArn: aws.String(roleMFA), RoleSessionName: aws.String("carol")})
	wantAPIError(t, err, "AccessDenied", "User: "+carolARN+" is not authorized to perform: sts:AssumeRole on resource: "+roleMFA)
	// alice may call sts:AssumeRole (administrator) but is not trusted;
	// a role that does not exist is denied the same way.
	_, err = e.assume(alice, &sts.AssumeRoleInput{RoleArn: aws.String(roleMFA), RoleSessionName: aws.String("alice")})
	wantAPIError(t, err, "AccessDenied", "User: "+alice.ARN+" is not authorized to perform: sts:AssumeRole on resource: "+roleMFA)
	_, err = e.assume(e.carol, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/Nope"), RoleSessionName: aws.String("carol")})
	wantAPIError(t, err, "AccessDenied", "is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/Nope")

	// CloudTrail: one AssumeRole event per call, the caller, the session,
	// error codes for the failures, never the code or the secret.
	events := readTrail(t, e.trail, "AssumeRole")
	if len(events) != 9 {
		t.Fatalf("%d AssumeRole events, want 9", len(events))
	}
	first := events[0]
	if first.UserIdentity.ARN != carolARN || first.ErrorCode != "" {
		t.Errorf("first event: %+v", first.UserIdentity)
	}
	re, _ := json.Marshal(first.ResponseElements)
	if !strings.Contains(string(re), "assumed-role/AdminMFA/carol") || strings.Contains(string(re), aws.ToString(out.Credentials.SecretAccessKey)) ||
		strings.Contains(string(re), aws.ToString(out.Credentials.SessionToken)) {
		t.Errorf("responseElements %s", re)
	}
	rp, _ := json.Marshal(first.RequestParameters)
	if strings.Contains(string(rp), code) {
		t.Errorf("requestParameters record the MFA code: %s", rp)
	}
	for _, ev := range events[1:] {
		if ev.ErrorCode == "" {
			t.Errorf("failed call without errorCode: %+v", ev)
		}
	}
	// The session's own calls: AssumedRole with its session context.
	gci := readTrail(t, e.trail, "GetCallerIdentity")
	if len(gci) != 1 || gci[0].UserIdentity.Type != "AssumedRole" || gci[0].UserIdentity.SessionContext == nil ||
		gci[0].UserIdentity.SessionContext.Attributes.MFAAuthenticated != "true" ||
		gci[0].UserIdentity.SessionContext.SessionIssuer.ARN != roleMFA || gci[0].UserIdentity.AccessKeyID != sess.AccessKeyID {
		t.Errorf("GetCallerIdentity records %+v", gci)
	}
}

// readTrail is the CloudTrail log's events named name.
func readTrail(t *testing.T, path, name string) []trail.Event {
	t.Helper()
	var out []trail.Event
	for _, ev := range trailEvents(t, path) {
		if ev.EventName == name {
			out = append(out, ev)
		}
	}
	return out
}

func TestAssumeRoleParameters(t *testing.T) {
	t.Parallel()
	e := newSTSEnv(t)
	for _, tc := range []struct {
		name      string
		in        *sts.AssumeRoleInput
		code, msg string
	}{
		{"short session name", &sts.AssumeRoleInput{RoleArn: aws.String(rolePartner), RoleSessionName: aws.String("a")},
			"ValidationError", "Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"session name pattern", &sts.AssumeRoleInput{RoleArn: aws.String(rolePartner), RoleSessionName: aws.String("a b")},
			"ValidationError", `Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{"short duration", &sts.AssumeRoleInput{RoleArn: aws.String(rolePartner), RoleSessionName: aws.String("ci"), DurationSeconds: aws.Int32(899)},
			"ValidationError", "Member must have value greater than or equal to 900"},
		{"duration above the role's maximum", &sts.AssumeRoleInput{RoleArn: aws.String(rolePartner), RoleSessionName: aws.String("ci"), DurationSeconds: aws.Int32(3601), ExternalId: aws.String("ext-123")},
			"ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
		{"no external id", &sts.AssumeRoleInput{RoleArn: aws.String(rolePartner), RoleSessionName: aws.String("ci")},
			"AccessDenied", "is not authorized to perform: sts:AssumeRole on resource: " + rolePartner},
		{"wrong external id", &sts.AssumeRoleInput{RoleArn: aws.String(rolePartner), RoleSessionName: aws.String("ci"), ExternalId: aws.String("ext-999")},
			"AccessDenied", "is not authorized to perform: sts:AssumeRole"},
		{"tags without sts:TagSession", &sts.AssumeRoleInput{RoleArn: aws.String(rolePartner), RoleSessionName: aws.String("ci"), ExternalId: aws.String("ext-123"),
			Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("ops")}}},
			"AccessDenied", "is not authorized to perform: sts:TagSession on resource: " + rolePartner},
		{"duplicate tag keys", &sts.AssumeRoleInput{RoleArn: aws.String(roleTagged), RoleSessionName: aws.String("ci"),
			Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("Team"), Value: aws.String("b")}}},
			"InvalidParameterValue", "Duplicate tag keys found"},
	} {
		_, err := e.assume(e.carol, tc.in)
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, err, tc.code, tc.msg) })
	}

	out, err := e.assume(e.carol, &sts.AssumeRoleInput{RoleArn: aws.String(rolePartner), RoleSessionName: aws.String("ci"), ExternalId: aws.String("ext-123"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatalf("with the external id: %v", err)
	}
	//lint:ignore SA1019 STS still sends PackedPolicySize (with session tags or policies)
	packed := out.PackedPolicySize
	if out.Credentials.Expiration.Sub(time.Unix(e.clock.Load(), 0)) != 15*time.Minute || packed != nil {
		t.Errorf("900 s session: expires %v, packed %v", out.Credentials.Expiration, packed)
	}
	if size := aws.ToInt32(out.SessionTokenSize); int(size) != len(aws.ToString(out.Credentials.SessionToken)) || aws.ToInt32(out.SessionTokenUtilization) < 1 {
		t.Errorf("SessionTokenSize %d, SessionTokenUtilization %d", size, aws.ToInt32(out.SessionTokenUtilization))
	}
	out, err = e.assume(e.carol, &sts.AssumeRoleInput{RoleArn: aws.String(roleTagged), RoleSessionName: aws.String("ci"),
		Tags:              []ststypes.Tag{{Key: aws.String("userName"), Value: aws.String("carol")}, {Key: aws.String("team"), Value: aws.String("ops")}},
		TransitiveTagKeys: []string{"userName"}})
	if err != nil {
		t.Fatalf("with session tags: %v", err)
	}
	//lint:ignore SA1019 STS still sends PackedPolicySize (with session tags or policies)
	if packed = out.PackedPolicySize; packed == nil || *packed < 1 {
		t.Errorf("PackedPolicySize = %v, want a percentage", packed)
	}
	id, ok := e.world.Identity(aws.ToString(out.Credentials.AccessKeyId))
	if !ok || id.Tags["userName"] != "carol" || id.Tags["team"] != "ops" || len(id.TransitiveTagKeys) != 1 {
		t.Errorf("tagged session %+v", id)
	}
}

func TestRoleChainingAndGetSessionToken(t *testing.T) {
	t.Parallel()
	e := newSTSEnv(t)
	ctx := context.Background()
	// GetSessionToken with MFA, then AssumeRole of the MFA role without a
	// code: the session's MFA counts (what aws-vault does).
	gst, err := e.sts(e.carol).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(carolSerial), TokenCode: aws.String(e.code())})
	if err != nil {
		t.Fatal(err)
	}
	if d := gst.Credentials.Expiration.Sub(time.Unix(e.clock.Load(), 0)); d != 12*time.Hour {
		t.Errorf("GetSessionToken lasts %s, want the default 12h", d)
	}
	userSess := sessionIdentity(gst.Credentials)
	who, err := e.sts(userSess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != carolARN {
		t.Fatalf("GetCallerIdentity with the session token = %v %v", who, err)
	}
	_, err = e.sts(userSess).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantAPIError(t, err, "AccessDenied", "Cannot call GetSessionToken with session credentials")
	out, err := e.assume(userSess, &sts.AssumeRoleInput{RoleArn: aws.String(roleMFA), RoleSessionName: aws.String("carol"), DurationSeconds: aws.Int32(7200)})
	if err != nil {
		t.Fatalf("AssumeRole with an MFA session token: %v", err)
	}
	roleSess := sessionIdentity(out.Credentials)

	// Role chaining: at most an hour, whatever the role allows.
	_, err = e.assume(roleSess, &sts.AssumeRoleInput{RoleArn: aws.String(roleChained), RoleSessionName: aws.String("hop"), DurationSeconds: aws.Int32(3601)})
	wantAPIError(t, err, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	hop, err := e.assume(roleSess, &sts.AssumeRoleInput{RoleArn: aws.String(roleChained), RoleSessionName: aws.String("hop")})
	if err != nil {
		t.Fatalf("chained AssumeRole: %v", err)
	}
	if got := aws.ToString(hop.AssumedRoleUser.Arn); got != "arn:aws:sts::123456789012:assumed-role/Chained/hop" {
		t.Errorf("chained session %s", got)
	}
	_, err = e.sts(roleSess).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantAPIError(t, err, "AccessDenied", "Cannot call GetSessionToken with session credentials")
	_, err = e.sts(e.carol).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(129601)})
	wantAPIError(t, err, "ValidationError", "Member must have value less than or equal to 129600")

	// A session without MFA: aws:MultiFactorAuthPresent is false.
	plain, err := e.sts(e.carol).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.assume(sessionIdentity(plain.Credentials), &sts.AssumeRoleInput{RoleArn: aws.String(roleMFA), RoleSessionName: aws.String("carol")})
	wantAPIError(t, err, "AccessDenied", "is not authorized to perform: sts:AssumeRole on resource: "+roleMFA)
}

func TestAssumeRoleWithWebIdentity(t *testing.T) {
	t.Parallel()
	e := newSTSEnv(t)
	ctx := context.Background()
	anon := sts.NewFromConfig(e.cfg("", ""), func(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} })
	call := func(tok string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
		return anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleWebID),
			RoleSessionName: aws.String("build-42"), WebIdentityToken: aws.String(tok)})
	}
	tok, err := e.issuer.Sign("ci", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := call(tok)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::123456789012:assumed-role/WebID/build-42" ||
		aws.ToString(out.SubjectFromWebIdentityToken) != "ci" || aws.ToString(out.Audience) != "sts.amazonaws.com" ||
		aws.ToString(out.Provider) != e.issuer.ProviderID() {
		t.Errorf("AssumeRoleWithWebIdentity = %+v %+v", out.AssumedRoleUser, out)
	}
	if _, err := e.ec2(sessionIdentity(out.Credentials)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("the web identity session cannot call EC2: %v", err)
	}

	other, _ := e.issuer.Sign("someone-else", "", 0)
	_, err = call(other)
	wantAPIError(t, err, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	wrongAud, _ := e.issuer.Sign("ci", "my-app", 0)
	_, err = call(wrongAud)
	wantAPIError(t, err, "InvalidIdentityToken", "Incorrect token audience")
	_, err = call(tok[:len(tok)-4] + "AAAA")
	wantAPIError(t, err, "InvalidIdentityToken", "could not be validated")
	_, err = call("not-a-jwt")
	wantAPIError(t, err, "InvalidIdentityToken", "could not be validated")
	short, _ := e.issuer.Sign("ci", "", time.Minute)
	e.clock.Add(120)
	_, err = call(short)
	wantAPIError(t, err, "ExpiredTokenException", "Token expired")

	events := readTrail(t, e.trail, "AssumeRoleWithWebIdentity")
	if len(events) != 6 || events[0].UserIdentity.Type != "WebIdentityUser" || events[0].UserIdentity.UserName != "ci" {
		t.Errorf("%d events, first %+v", len(events), events[0].UserIdentity)
	}
	if b, _ := json.Marshal(events[0]); strings.Contains(string(b), tok) {
		t.Error("CloudTrail records the web identity token")
	}
}

// TestSimulateConfiguredRole: the policy simulator knows [[roles]] roles
// before anybody assumes them (it once knew only roles of identities).
func TestSimulateConfiguredRole(t *testing.T) {
	t.Parallel()
	e := newSTSEnv(t)
	out, err := iam.NewFromConfig(e.as(alice)).SimulatePrincipalPolicy(context.Background(), &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String(roleWebID), ActionNames: []string{"ec2:DescribeInstances"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.EvaluationResults) != 1 || out.EvaluationResults[0].EvalDecision != "allowed" {
		t.Errorf("simulation of WebID: %+v", out.EvaluationResults)
	}
}
