package config

import (
	"strings"
	"testing"
	"time"
)

const rolesBase = "[[identities]]\nname = \"d\"\n" +
	"[[identities]]\nname = \"u\"\ntype = \"user\"\nuser = \"ops/u\"\nmfa = true\n" +
	"[policies.t]\ndocument = '''{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"123456789012\"}, \"Action\": \"sts:AssumeRole\"}]}'''\n"

func TestRoles(t *testing.T) {
	f, err := Parse([]byte(rolesBase+`
[[roles]]
name = "R"
trust = "t"
policies = ["jitssh-user"]
tags = { userName = "u" }
max_session = "4h"
profile = "r"
source_profile = "u"
use_mfa = true

[[roles]]
name = "W"
profile = "w"
[roles.web_identity]
subject = "ci"
`), "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Resolve("me")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Roles) != 2 || a.Roles[0].Name != "R" || a.Roles[0].MaxSession != 4*time.Hour || a.Roles[0].Tags["userName"] != "u" ||
		len(a.Roles[0].Policies) != 1 || len(a.Roles[0].Trust.Statement) != 1 {
		t.Fatalf("roles %+v", a.Roles)
	}
	if a.Identities[1].MFASerial != "arn:aws:iam::123456789012:mfa/u" {
		t.Errorf("MFA serial %q", a.Identities[1].MFASerial)
	}
	if got := a.RoleProfiles; len(got) != 2 || got[0] != (RoleProfile{Name: "r", RoleARN: "arn:aws:iam::123456789012:role/R", SourceProfile: "u", MFASerial: "arn:aws:iam::123456789012:mfa/u"}) ||
		!got[1].WebIdentity || got[1].RoleARN != "arn:aws:iam::123456789012:role/W" {
		t.Errorf("profiles %+v", got)
	}
	if w := a.WebIdentity["W"]; w.Subject != "ci" || w.Audience != DefaultWebIdentityAudience {
		t.Errorf("web identity %+v", w)
	}
	st := WebIdentityTrust("arn:aws:iam::123456789012:oidc-provider/127.0.0.1:1/oidc", "127.0.0.1:1/oidc", a.WebIdentity["W"])
	if st.Principal.Federated[0] != "arn:aws:iam::123456789012:oidc-provider/127.0.0.1:1/oidc" || st.Condition["StringEquals"]["127.0.0.1:1/oidc:sub"][0] != "ci" {
		t.Errorf("web identity trust %+v", st)
	}
}

func TestBadRoles(t *testing.T) {
	role := func(body string) string { return rolesBase + "[[roles]]\n" + body }
	for _, tc := range []struct{ text, want string }{
		{role("name = \"a b\"\ntrust = \"t\"\n"), `roles[0]: name "a b"`},
		{role("name = \"R\"\n"), "roles[0] (R): set trust"},
		{role("name = \"R\"\ntrust = \"t\"\n") + "[[roles]]\nname = \"R\"\ntrust = \"t\"\n", "roles[1] (R): duplicate role name"},
		{role("name = \"R\"\ntrust = \"nope\"\n"), `roles[0] (R): trust: unknown policy "nope"`},
		{role("name = \"R\"\ntrust = \"jitssh-user\"\n"), "statement 0 has no Principal"},
		{role("name = \"R\"\ntrust = '{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"*\"}, \"Action\": \"ec2:*\"}]}'\n"), "a trust policy grants only sts: actions"},
		{role("name = \"R\"\ntrust = '{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"*\"}, \"Action\": \"sts:AssumeRole\", \"Resource\": \"*\"}]}'\n"), "has a Resource"},
		{role("name = \"R\"\ntrust = '{not json'\n"), "inline trust policy"},
		{role("name = \"R\"\ntrust = \"t\"\npolicies = [\"nope\"]\n"), `roles[0] (R): unknown policy "nope"`},
		{role("name = \"R\"\ntrust = \"t\"\nmax_session = \"30m\"\n"), `max_session "30m": want a duration from 1h to 12h`},
		{role("name = \"R\"\ntrust = \"t\"\nmax_session = \"13h\"\n"), `max_session "13h"`},
		{role("name = \"R\"\ntrust = \"t\"\ntags = { \"aws:x\" = \"y\" }\n"), "not a valid tag key"},
		{role("name = \"R\"\ntrust = \"t\"\nprofile = \"u\"\nsource_profile = \"u\"\n"), `profile "u" is already an identity's`},
		{role("name = \"R\"\ntrust = \"t\"\nprofile = \"r\"\n"), "profile r needs source_profile"},
		{role("name = \"R\"\ntrust = \"t\"\nprofile = \"r\"\nsource_profile = \"nobody\"\n"), `source_profile "nobody" is not an identity's name`},
		{role("name = \"R\"\ntrust = \"t\"\nprofile = \"r\"\nsource_profile = \"d\"\nuse_mfa = true\n"), "the source identity d has no MFA device"},
		{role("name = \"R\"\ntrust = \"t\"\nsource_profile = \"u\"\n"), "are for a role with a profile"},
		{role("name = \"R\"\ntrust = \"t\"\nbogus = 1\n"), `unknown key "roles.bogus"`},
		{"[[identities]]\nname = \"d\"\nmfa = true\n", "mfa = true is for IAM users"},
		{rolesBase + "[[identities]]\nname = \"u2\"\ntype = \"user\"\nuser = \"dev/u\"\nmfa = true\n", "its MFA device would be mfa/u, as u's is"},
	} {
		_, err := Parse([]byte(tc.text), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}

func TestBuiltinRoles(t *testing.T) {
	a, err := Builtin().Resolve("dev")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range a.Roles {
		names[r.Name] = true
	}
	if !names["JitsshAdminMFA"] || !names["JitsshWebIdentity"] {
		t.Errorf("built-in roles %v", names)
	}
	var mfa, webid bool
	for _, p := range a.RoleProfiles {
		mfa = mfa || p.Name == "mfa" && p.SourceProfile == "carol" && p.MFASerial == "arn:aws:iam::123456789012:mfa/carol"
		webid = webid || p.Name == "webid" && p.WebIdentity
	}
	if !mfa || !webid {
		t.Errorf("built-in role profiles %+v", a.RoleProfiles)
	}
}
