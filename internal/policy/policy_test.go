package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGolden(t *testing.T) {
	scoped := Options{Partition: "aws", Region: "eu-west-1", Account: "111122223333", TagKey: "jitssh", TagValue: "enabled",
		Documents: []string{SSHDocument}}
	for _, tc := range []struct {
		name string
		doc  []byte
	}{
		{"user.json", User(Options{}).JSON()},
		{"user-scoped.json", User(scoped).JSON()},
		{"user-managed.json", User(Options{ManagedInstances: true}).JSON()},
		{"scp.json", SCP(Options{}).JSON()},
		{"auditor.json", Auditor(Options{}).JSON()},
		{"auditor-scoped.json", Auditor(Options{Region: "eu-west-1", Account: "111122223333", LogGroup: "/org/jitssh"}).JSON()},
		{"revoker.json", Revoker(Options{}).JSON()},
		{"revoker-scoped.json", Revoker(scoped).JSON()},
		{"instance-profile.json", InstanceProfile(Options{}).JSON()},
		{"instance-profile-cn.json", InstanceProfile(Options{Partition: "aws-cn"}).JSON()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, tc.doc)
			// What we print must parse back to the same document: the
			// sandbox enforces exactly what users paste.
			if !strings.HasPrefix(tc.name, "instance-profile") {
				d, err := Parse(tc.doc)
				if err != nil {
					t.Fatalf("Parse(own output): %v", err)
				}
				if !bytes.Equal(d.JSON(), tc.doc) {
					t.Errorf("round trip changed the document:\n%s", d.JSON())
				}
			}
		})
	}
}

func TestUserPolicyContent(t *testing.T) {
	d := User(Options{Region: "us-east-1", Account: "123456789012"})
	actions := map[string]Statement{}
	for _, s := range d.Statement {
		if s.Effect != Allow {
			t.Errorf("%s: user policy statements must all allow", s.Sid)
		}
		for _, a := range s.Action {
			actions[a] = s
		}
	}
	for _, a := range []string{"ssm:StartSession", "ssm:TerminateSession", "ssm:ResumeSession",
		"ec2-instance-connect:SendSSHPublicKey", "ec2-instance-connect:OpenTunnel",
		"ec2:DescribeInstances", "ec2:DescribeInstanceConnectEndpoints", "sts:GetCallerIdentity"} {
		if _, ok := actions[a]; !ok {
			t.Errorf("user policy does not grant %s", a)
		}
	}
	push := actions["ec2-instance-connect:SendSSHPublicKey"]
	if got := push.Condition["StringEquals"]["ec2:osuser"]; len(got) != 1 || got[0] != "${aws:PrincipalTag/userName}" {
		t.Errorf("SendSSHPublicKey condition = %v, want ec2:osuser = ${aws:PrincipalTag/userName}", push.Condition)
	}
	if push.Resource[0] != "arn:aws:ec2:us-east-1:123456789012:instance/*" {
		t.Errorf("SendSSHPublicKey resource = %v", push.Resource)
	}
	if !strings.Contains(string(d.JSON()), `"arn:aws:ssm:us-east-1::document/AWS-StartSSHSession"`) {
		t.Errorf("user policy does not name the SSH document:\n%s", d.JSON())
	}
}

func TestStringsForms(t *testing.T) {
	var s struct{ A, B, C Strings }
	if err := json.Unmarshal([]byte(`{"A":"x","B":["y","z"],"C":[true, 22]}`), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.A) != 1 || s.A[0] != "x" || len(s.B) != 2 || s.C[0] != "true" || s.C[1] != "22" {
		t.Errorf("decoded %+v", s)
	}
	for _, bad := range []string{`{"A":{}}`, `{"A":[[]]}`, `{"A":null}`, `{"A":[null]}`} {
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	b, _ := json.Marshal(Strings{"one"})
	if string(b) != `"one"` {
		t.Errorf("single element marshals as %s", b)
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":        `{`,
		"version":         `{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
		"no statement":    `{"Version":"2012-10-17","Statement":[]}`,
		"effect":          `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`,
		"both actions":    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}]}`,
		"no action":       `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`,
		"bad action":      `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm StartSession","Resource":"*"}]}`,
		"no resource":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*"}]}`,
		"both resources":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}]}`,
		"unknown field":   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Bogus":1}]}`,
		"empty condition": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{}}}]}`,
		"trailing":        `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]} {}`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: Parse accepted %s", name, doc)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	good := []Options{{}, {Partition: "aws-us-gov", Region: "us-gov-west-1", Account: "123456789012"}, {TagKey: "team", TagValue: "ops-*"},
		{TagKey: strings.Repeat("ä", 128), TagValue: strings.Repeat("v", 256)}, {UserTag: strings.Repeat("u", 128)}}
	for _, o := range good {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	bad := []Options{{Documents: []string{"no/slashes"}}, {Partition: "gcp"}, {Region: "mars"}, {Account: "12345"}, {TagKey: "aws:foo"},
		{TagValue: "x"}, {TagKey: "a\"b"}, {UserTag: "has\nnewline"},
		{TagKey: strings.Repeat("k", 129)}, {TagKey: "k", TagValue: strings.Repeat("v", 257)}, {UserTag: strings.Repeat("u", 129)}}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: accepted", o)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(User(Options{}).JSON())
	f.Add(SCP(Options{}).JSON())
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":["s3:*"],"NotResource":"arn:*","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			return
		}
		// Anything accepted must survive a round trip unchanged.
		d2, err := Parse(d.JSON())
		if err != nil {
			t.Fatalf("own output rejected: %v\n%s", err, d.JSON())
		}
		if !bytes.Equal(d.JSON(), d2.JSON()) {
			t.Fatalf("round trip changed the document")
		}
	})
}
