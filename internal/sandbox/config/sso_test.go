package config

import (
	"strings"
	"testing"
	"time"
)

func TestBuiltinIdentityCenter(t *testing.T) {
	a, err := Builtin().Resolve("developer")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.SSOUsers) != 2 || a.SSOUsers[0].UserName != "developer" || a.SSOUsers[0].Email != "developer@example.com" || a.SSOUsers[1].UserName != "dave" {
		t.Fatalf("users %+v", a.SSOUsers)
	}
	if as := a.SSOUsers[0].Assignments; len(as) != 2 || as[0].Account != DefaultAccount || as[0].PermissionSet != "JitsshUser" {
		t.Fatalf("assignments %+v", as)
	}
	if len(a.PermissionSets) != 2 || a.PermissionSets[0].SessionDuration != time.Hour || len(a.PermissionSets[0].Policies) != 1 {
		t.Fatalf("permission sets %+v", a.PermissionSets)
	}
	// A local user named like the second user: the first entry is kept.
	a, err = Builtin().Resolve("dave")
	if err != nil || len(a.SSOUsers) != 1 || len(a.SSOUsers[0].Assignments) != 2 {
		t.Fatalf("local user dave: %v %+v", err, a.SSOUsers)
	}
}

func TestIdentityCenterConfig(t *testing.T) {
	const head = "[[identities]]\nrole = \"Dev\"\nsession_name = \"dev\"\naccess_key_id = \"AKIAJITSSHSANDBOX001\"\n"
	f, err := Parse([]byte(head+`
[sso]
access_token_ttl = "30s"
device_code_ttl = "5s"
[[permission_sets]]
name = "Ops"
policies = ["AdministratorAccess"]
session_duration = "8h"
[[sso_users]]
user_name = "erin"
assignments = [{ account = "123456789012", permission_set = "Ops" }]
`), "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Resolve("x")
	if err != nil || a.SSOAccessTokenTTL != 30*time.Second || a.SSODeviceCodeTTL != 5*time.Second || a.PermissionSets[0].SessionDuration != 8*time.Hour || a.SSOUsers[0].Email != "erin@example.com" {
		t.Fatalf("%v %+v", err, a)
	}
	for _, c := range []struct{ conf, want string }{
		{"[sso]\naccess_token_ttl = \"0s\"\n", "sso.access_token_ttl"},
		{"[sso]\ndevice_code_ttl = \"2h\"\n", "sso.device_code_ttl"},
		{"[sso]\nlifetime = \"1h\"\n", `unknown key "sso.lifetime"`},
		{"[[permission_sets]]\nname = \"a b\"\n", "permission_sets[0]: name"},
		{"[[permission_sets]]\nname = \"A\"\n[[permission_sets]]\nname = \"A\"\n", "duplicate name"},
		{"[[permission_sets]]\nname = \"A\"\nsession_duration = \"13h\"\n", "session_duration"},
		{"[[permission_sets]]\nname = \"A\"\npolicies = [\"nope\"]\n", `unknown policy "nope"`},
		{"[[sso_users]]\nuser_name = \"e\"\n", "user_name"},
		{"[[sso_users]]\nuser_name = \"erin\"\nemail = \"erin\"\n", "not an email"},
		{"[[sso_users]]\nuser_name = \"erin\"\n[[sso_users]]\nuser_name = \"erin\"\n", "duplicate user_name"},
		{"[[sso_users]]\nuser_name = \"erin\"\nassignments = [{ permission_set = \"Nope\" }]\n", `permission_set "Nope" is not defined`},
		{"[[permission_sets]]\nname = \"A\"\n[[sso_users]]\nuser_name = \"erin\"\nassignments = [{ account = \"210987654321\", permission_set = \"A\" }]\n", "the sandbox has one account"},
	} {
		if _, err := Parse([]byte(head+c.conf), ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.conf, err, c.want)
		}
	}
}
