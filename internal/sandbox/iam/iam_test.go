package iam

import (
	"regexp"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/policy"
)

const (
	acct     = "123456789012"
	instARN  = "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f00001"
	docARN   = "arn:aws:ssm:us-east-1::document/AWS-StartSSHSession"
	shellARN = "arn:aws:ssm:us-east-1:123456789012:document/SSM-SessionManagerRunShell"
	cmdARN   = "arn:aws:ssm:us-east-1::document/AWS-StartInteractiveCommand"
)

var (
	aliceP = Principal{ARN: "arn:aws:sts::123456789012:assumed-role/Dev/alice", UserID: "AROAEXAMPLE:alice", Account: acct,
		Tags: map[string]string{"userName": "alice"}}
	untagged = Principal{ARN: "arn:aws:sts::123456789012:assumed-role/Dev/mallory", UserID: "AROAEXAMPLE:mallory", Account: acct}
	userBob  = Principal{ARN: "arn:aws:iam::123456789012:user/ops/bob", UserID: "AIDABOB", Account: acct,
		Tags: map[string]string{"userName": "bob"}}
	fullAccess = policy.Document{Version: policy.Version, Statement: []policy.Statement{{
		Sid: "FullAWSAccess", Effect: policy.Allow, Action: policy.Strings{"*"}, Resource: policy.Strings{"*"}}}}
)

func jitssh(tagKey, tagValue string) Policies {
	o := policy.Options{Region: "us-east-1", Account: acct, TagKey: tagKey, TagValue: tagValue}
	return Policies{
		Identity: []policy.Document{policy.User(o)},
		SCPs:     []policy.Document{fullAccess, policy.SCP(o)},
	}
}

func TestEvaluateJitsshPolicies(t *testing.T) {
	push := func(p Principal, osuser string) Request {
		return Request{Principal: p, Action: "ec2-instance-connect:SendSSHPublicKey", Resource: instARN,
			Context: map[string][]string{"ec2:osuser": {osuser}}}
	}
	start := func(p Principal, res string, tags map[string]string) Request {
		ctx := map[string][]string{}
		for k, v := range tags {
			ctx["ssm:resourceTag/"+k] = []string{v}
			ctx["aws:ResourceTag/"+k] = []string{v}
		}
		return Request{Principal: p, Action: "ssm:StartSession", Resource: res, Context: ctx}
	}
	sessionReq := func(p Principal, action, owner string) Request {
		return Request{Principal: p, Action: action, Resource: "arn:aws:ssm:us-east-1:123456789012:session/x-0123",
			Context: map[string][]string{"ssm:resourceTag/aws:ssmmessages:session-id": {owner}}}
	}
	none := Policies{}
	tagged := jitssh("jitssh", "enabled")
	for _, tc := range []struct {
		name string
		req  Request
		pol  Policies
		want Decision
		sid  string
	}{
		{"push for self", push(aliceP, "alice"), jitssh("", ""), Allowed, "SendSSHPublicKeyForOwnOSUser"},
		{"push for someone else", push(aliceP, "bob"), jitssh("", ""), ExplicitDenySCP, "DenySendSSHPublicKeyForOtherOSUsers"},
		{"push for root", push(aliceP, "root"), jitssh("", ""), ExplicitDenySCP, "DenySendSSHPublicKeyForOtherOSUsers"},
		{"push without user tag", push(untagged, "mallory"), jitssh("", ""), ExplicitDenySCP, "DenySendSSHPublicKeyWithoutUserTag"},
		{"IAM user pushes for self", push(userBob, "bob"), jitssh("", ""), Allowed, "SendSSHPublicKeyForOwnOSUser"},
		{"no policies", push(aliceP, "alice"), none, NoIdentityAllow, ""},
		{"SCP layer without allow", push(aliceP, "alice"), Policies{Identity: jitssh("", "").Identity, SCPs: []policy.Document{policy.SCP(policy.Options{})}}, NoSCPAllow, ""},
		{"start on instance", start(aliceP, instARN, nil), jitssh("", ""), Allowed, "StartSessionOnInstances"},
		{"start with SSH document", start(aliceP, docARN, nil), jitssh("", ""), Allowed, "StartSessionWithJitsshDocuments"},
		{"start with shell document", start(aliceP, shellARN, nil), jitssh("", ""), Allowed, "StartSessionWithJitsshDocuments"},
		{"start with shell document of another account", start(aliceP, strings.Replace(shellARN, acct, "999999999999", 1), nil), jitssh("", ""), NoIdentityAllow, ""},
		{"start with a command document", start(aliceP, cmdARN, nil), jitssh("", ""), NoIdentityAllow, ""},
		{"start on tagged instance", start(aliceP, instARN, map[string]string{"jitssh": "enabled"}), tagged, Allowed, "StartSessionOnInstances"},
		{"start on untagged instance", start(aliceP, instARN, nil), tagged, NoIdentityAllow, ""},
		{"start on wrongly tagged instance", start(aliceP, instARN, map[string]string{"jitssh": "disabled"}), tagged, NoIdentityAllow, ""},
		{"start in other account", start(aliceP, "arn:aws:ec2:us-east-1:999999999999:instance/i-1", nil), jitssh("", ""), NoIdentityAllow, ""},
		{"terminate own session", sessionReq(aliceP, "ssm:TerminateSession", "AROAEXAMPLE:alice"), jitssh("", ""), Allowed, "ManageOwnSessions"},
		{"terminate other's session", sessionReq(aliceP, "ssm:TerminateSession", "AROAEXAMPLE:bob"), jitssh("", ""), NoIdentityAllow, ""},
		{"resume own session", sessionReq(aliceP, "ssm:ResumeSession", "AROAEXAMPLE:alice"), jitssh("", ""), Allowed, "ManageOwnSessions"},
		{"describe", Request{Principal: aliceP, Action: "ec2:DescribeInstances", Resource: "*"}, jitssh("", ""), Allowed, "DescribeTargets"},
		{"action case-insensitive", Request{Principal: aliceP, Action: "EC2:describeinstances", Resource: "*"}, jitssh("", ""), Allowed, "DescribeTargets"},
		{"open tunnel to 22", Request{Principal: aliceP, Action: "ec2-instance-connect:OpenTunnel",
			Resource: "arn:aws:ec2:us-east-1:123456789012:instance-connect-endpoint/eice-0123",
			Context:  map[string][]string{"ec2-instance-connect:remotePort": {"22"}}}, jitssh("", ""), Allowed, "OpenTunnelToSSHPort"},
		{"open tunnel to 3389", Request{Principal: aliceP, Action: "ec2-instance-connect:OpenTunnel",
			Resource: "arn:aws:ec2:us-east-1:123456789012:instance-connect-endpoint/eice-0123",
			Context:  map[string][]string{"ec2-instance-connect:remotePort": {"3389"}}}, jitssh("", ""), NoIdentityAllow, ""},
		{"unrelated action", Request{Principal: aliceP, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, jitssh("", ""), NoIdentityAllow, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.req, tc.pol)
			if got.Decision != tc.want || got.Sid != tc.sid {
				t.Errorf("Evaluate = %v (%q), want %v (%q)", got.Decision, got.Sid, tc.want, tc.sid)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	req := Request{Principal: aliceP, Action: "ec2-instance-connect:SendSSHPublicKey", Resource: instARN}
	for d, want := range map[Decision]string{
		ExplicitDenySCP:      "User: arn:aws:sts::123456789012:assumed-role/Dev/alice is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: " + instARN + " with an explicit deny in a service control policy",
		ExplicitDenyIdentity: "User: arn:aws:sts::123456789012:assumed-role/Dev/alice is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: " + instARN + " with an explicit deny in an identity-based policy",
		NoIdentityAllow:      "User: arn:aws:sts::123456789012:assumed-role/Dev/alice is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: " + instARN + " because no identity-based policy allows the ec2-instance-connect:SendSSHPublicKey action",
		NoSCPAllow:           "User: arn:aws:sts::123456789012:assumed-role/Dev/alice is not authorized to perform: ec2-instance-connect:SendSSHPublicKey on resource: " + instARN + " because no service control policy allows the ec2-instance-connect:SendSSHPublicKey action",
	} {
		if got := (Result{Decision: d}).Message(req); got != want {
			t.Errorf("%v:\n got %s\nwant %s", d, got, want)
		}
	}
	req = Request{Principal: aliceP, Action: "ec2:DescribeInstances", Resource: "*"}
	want := "User: arn:aws:sts::123456789012:assumed-role/Dev/alice is not authorized to perform: ec2:DescribeInstances because no identity-based policy allows the ec2:DescribeInstances action"
	if got := (Result{Decision: NoIdentityAllow}).Message(req); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func doc(t *testing.T, js string) policy.Document {
	t.Helper()
	d, err := policy.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConditionOperators(t *testing.T) {
	ctx := map[string][]string{"ec2:osuser": {"alice"}, "aws:TagKeys": {"a", "b"}, "aws:SecureTransport": {"true"}, "n": {"22"},
		"ec2-instance-connect:privateIpAddress": {"10.0.2.31"}}
	for _, tc := range []struct {
		cond string
		want bool
	}{
		{`{"StringEquals":{"ec2:osuser":"alice"}}`, true},
		{`{"StringEquals":{"EC2:OSUSER":"alice"}}`, true}, // key names are case-insensitive
		{`{"StringEquals":{"ec2:osuser":"Alice"}}`, false},
		{`{"StringEqualsIgnoreCase":{"ec2:osuser":"ALICE"}}`, true},
		{`{"StringEquals":{"ec2:osuser":["bob","alice"]}}`, true},
		{`{"StringNotEquals":{"ec2:osuser":"alice"}}`, false},
		{`{"StringNotEquals":{"ec2:osuser":["bob","carol"]}}`, true},
		{`{"StringLike":{"ec2:osuser":"al*"}}`, true},
		{`{"StringLike":{"ec2:osuser":"a?ice"}}`, true},
		{`{"StringLike":{"ec2:osuser":"b*"}}`, false},
		{`{"StringNotLike":{"ec2:osuser":"b*"}}`, true},
		{`{"StringEquals":{"missing":"x"}}`, false},
		{`{"StringNotEquals":{"missing":"x"}}`, true},
		{`{"StringEqualsIfExists":{"missing":"x"}}`, true},
		{`{"StringEqualsIfExists":{"ec2:osuser":"bob"}}`, false},
		{`{"Null":{"missing":"true"}}`, true},
		{`{"Null":{"ec2:osuser":"true"}}`, false},
		{`{"Null":{"ec2:osuser":"false"}}`, true},
		{`{"Bool":{"aws:SecureTransport":"true"}}`, true},
		{`{"Bool":{"aws:SecureTransport":false}}`, false},
		{`{"NumericEquals":{"n":"22"}}`, true},
		{`{"NumericLessThan":{"n":"22"}}`, false},
		{`{"NumericGreaterThanEquals":{"n":"22"}}`, true},
		{`{"NumericNotEquals":{"n":"22"}}`, false},
		{`{"NumericEquals":{"n":"not-a-number"}}`, false},
		{`{"IpAddress":{"ec2-instance-connect:privateIpAddress":"10.0.2.0/24"}}`, true},
		{`{"IpAddress":{"ec2-instance-connect:privateIpAddress":["10.0.1.0/24","10.0.3.0/24"]}}`, false},
		{`{"IpAddress":{"ec2-instance-connect:privateIpAddress":"10.0.2.31"}}`, true},
		{`{"IpAddress":{"ec2-instance-connect:privateIpAddress":"not-a-cidr"}}`, false},
		{`{"NotIpAddress":{"ec2-instance-connect:privateIpAddress":"10.0.1.0/24"}}`, true},
		{`{"NotIpAddress":{"ec2-instance-connect:privateIpAddress":"10.0.0.0/16"}}`, false},
		{`{"IpAddress":{"missing":"10.0.0.0/8"}}`, false},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["b","z"]}}`, true},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["b","z"]}}`, false},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b","c"]}}`, true},
		{`{"ForAllValues:StringEquals":{"missing":["a"]}}`, true},
		{`{"ForAnyValue:StringEquals":{"missing":["a"]}}`, false},
		{`{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a"]}}`, true},
		{`{"ForAllValues:StringNotEquals":{"aws:TagKeys":["a"]}}`, false},
		{`{"StringEquals":{"ec2:osuser":"${aws:PrincipalTag/userName}"}}`, true},
		{`{"StringEquals":{"ec2:osuser":"${aws:PrincipalTag/missing}"}}`, false},
		{`{"StringNotEquals":{"ec2:osuser":"${aws:PrincipalTag/missing}"}}`, false},
		{`{"StringEquals":{"ec2:osuser":"${aws:PrincipalTag/missing, 'alice'}"}}`, true},
		{`{"StringEquals":{"ec2:osuser":"${aws:username}"}}`, false}, // role sessions have no aws:username
		{`{"StringLike":{"aws:userid":"*:${ec2:osuser}"}}`, true},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Dev"}}`, true},
		{`{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Dev"}}`, false},
		{`{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}`, true},
		{`{"Frobnicate":{"ec2:osuser":"alice"}}`, false},                       // unknown operator: fail closed
		{`{"Sometimes:StringEquals":{"ec2:osuser":"alice"}}`, false},           // unknown qualifier
		{`{"StringEquals":{"ec2:osuser":"alice"},"Null":{"n":"true"}}`, false}, // every operator must hold
	} {
		d := doc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"x:Y","Resource":"*","Condition":`+tc.cond+`}]}`)
		got := Evaluate(Request{Principal: aliceP, Action: "x:Y", Resource: "arn:aws:x:us-east-1:1:thing/t", Context: ctx}, Policies{Identity: []policy.Document{d}})
		if got.Allowed() != tc.want {
			t.Errorf("%s: allowed = %v, want %v", tc.cond, got.Allowed(), tc.want)
		}
	}
}

func TestResourcesAndActions(t *testing.T) {
	for _, tc := range []struct {
		stmt string
		user Principal
		res  string
		want bool
	}{
		{`"Action":"ssm:*","Resource":"arn:aws:ssm:*:*:session/${aws:username}-*"`, userBob, "arn:aws:ssm:us-east-1:1:session/bob-0123", true},
		{`"Action":"ssm:*","Resource":"arn:aws:ssm:*:*:session/${aws:username}-*"`, userBob, "arn:aws:ssm:us-east-1:1:session/bobby-0123", false},
		{`"Action":"ssm:*","Resource":"arn:aws:ssm:*:*:session/${aws:username}-*"`, aliceP, "arn:aws:ssm:us-east-1:1:session/alice-0123", false},
		{`"Action":"ssm:Start*","Resource":"*"`, aliceP, "anything", true},
		{`"NotAction":"ssm:*","Resource":"*"`, aliceP, "anything", false},
		{`"NotAction":"ec2:*","Resource":"*"`, aliceP, "anything", true},
		{`"Action":"*","NotResource":"arn:aws:ssm:*:*:session/*"`, aliceP, "arn:aws:ssm:us-east-1:1:session/x", false},
		{`"Action":"*","NotResource":"arn:aws:ssm:*:*:session/*"`, aliceP, "arn:aws:ssm:us-east-1:1:document/x", true},
		{`"Action":"*","Resource":"arn:aws:ec2:*"`, aliceP, instARN, false}, // * does not cross ARN segments
		{`"Action":"*","Resource":"arn:aws:ec2:*:*:*"`, aliceP, instARN, true},
		{`"Action":"*","Resource":"arn:aws:ec2:us-east-?:*:instance/i-*"`, aliceP, instARN, true},
	} {
		d := doc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",`+tc.stmt+`}]}`)
		got := Evaluate(Request{Principal: tc.user, Action: "ssm:StartSession", Resource: tc.res}, Policies{Identity: []policy.Document{d}})
		if got.Allowed() != tc.want {
			t.Errorf("%s on %s as %s: allowed = %v, want %v", tc.stmt, tc.res, tc.user.ARN, got.Allowed(), tc.want)
		}
	}
}

func TestExplicitDenyWins(t *testing.T) {
	deny := doc(t, `{"Version":"2012-10-17","Statement":[{"Sid":"NoProd","Effect":"Deny","Action":"ssm:StartSession","Resource":"*","Condition":{"StringEquals":{"ssm:resourceTag/env":"prod"}}}]}`)
	p := jitssh("", "")
	p.Identity = append(p.Identity, deny)
	req := Request{Principal: aliceP, Action: "ssm:StartSession", Resource: instARN, Context: map[string][]string{"ssm:resourceTag/env": {"prod"}}}
	if got := Evaluate(req, p); got.Decision != ExplicitDenyIdentity || got.Sid != "NoProd" {
		t.Errorf("got %v %q", got.Decision, got.Sid)
	}
	req.Context["ssm:resourceTag/env"] = []string{"dev"}
	if got := Evaluate(req, p); !got.Allowed() {
		t.Errorf("dev instance: got %v", got.Decision)
	}
}

// globRef is a reference implementation of glob through regexp.
func globRef(p, s string) bool {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String()).MatchString(s)
}

func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{{"a*b?c", "axxbyc"}, {"*", ""}, {"?", "é"}, {"**a", "ba"}, {"a*", "b"}, {"*?*", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if len(p) > 64 || len(s) > 64 {
			return
		}
		if !utf8Valid(p) || !utf8Valid(s) {
			return
		}
		if got, want := glob(p, s), globRef(p, s); got != want {
			t.Fatalf("glob(%q, %q) = %v, want %v", p, s, got, want)
		}
	})
}

func FuzzEvaluate(f *testing.F) {
	f.Add(policy.User(policy.Options{}).JSON(), "alice", "ec2-instance-connect:SendSSHPublicKey")
	f.Add(policy.SCP(policy.Options{}).JSON(), "bob", "ec2-instance-connect:SendSSHPublicKey")
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"${a","Condition":{"ForAllValues:StringLikeIfExists":{"k":"${x, 'y'}"}}}]}`), "x", "a:b")
	f.Fuzz(func(t *testing.T, b []byte, osuser, action string) {
		d, err := policy.Parse(b)
		if err != nil {
			return
		}
		req := Request{Principal: aliceP, Action: action, Resource: instARN, Context: map[string][]string{"ec2:osuser": {osuser}}}
		r1 := Evaluate(req, Policies{Identity: []policy.Document{d}})
		// Adding the document as an SCP on top of FullAWSAccess can only
		// take permissions away, never add them.
		r2 := Evaluate(req, Policies{Identity: []policy.Document{d}, SCPs: []policy.Document{fullAccess, d}})
		if r2.Allowed() && !r1.Allowed() {
			t.Fatalf("an SCP granted what the identity policy did not")
		}
		_ = r1.Message(req)
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
