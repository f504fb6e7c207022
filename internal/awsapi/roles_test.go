package awsapi

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestRoleArgsOfChain: a role → role → user chain gives each role's
// configured AssumeRole arguments, from the top, as botocore reads them
// (duration_seconds of 900 is configured even though the Go SDK ignores
// durations of 15 minutes or less).
func TestRoleArgsOfChain(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	conf := `[profile user]
aws_access_key_id = AKIAJITSSHCHAIN00001
aws_secret_access_key = secret
[profile ops]
role_arn = arn:aws:iam::111122223333:role/Ops
source_profile = user
mfa_serial = arn:aws:iam::111122223333:mfa/user
duration_seconds = 900
[profile top]
role_arn = arn:aws:iam::444455556666:role/Deploy
source_profile = ops
external_id = ext-1
role_session_name = deployer
`
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_PROFILE", "")
	_, name, sc, err := loadProfile(context.Background(), Options{Profile: "top"})
	if err != nil || sc == nil || name != "top" {
		t.Fatalf("loadProfile: %q %v %v", name, sc, err)
	}
	got := roleArgs(sc)
	if len(got) != 2 {
		t.Fatalf("%d roles: %+v", len(got), got)
	}
	if a := got[0]; a.RoleARN != "arn:aws:iam::444455556666:role/Deploy" || a.ExternalID != "ext-1" || a.RoleSessionName != "deployer" || a.SerialNumber != "" || a.DurationSeconds != nil {
		t.Errorf("top: %+v", a)
	}
	if a := got[1]; a.RoleARN != "arn:aws:iam::111122223333:role/Ops" || a.SerialNumber != "arn:aws:iam::111122223333:mfa/user" || a.DurationSeconds == nil || *a.DurationSeconds != 900 {
		t.Errorf("ops: %+v", a)
	}
	src, err := DescribeCredentials(context.Background(), Options{Profile: "top"})
	if err != nil {
		t.Fatal(err)
	}
	want := "top (role arn:aws:iam::444455556666:role/Deploy) → ops (role arn:aws:iam::111122223333:role/Ops, MFA arn:aws:iam::111122223333:mfa/user) → user (static keys)"
	if src.String() != want {
		t.Errorf("chain\n %s\nwant\n %s", src, want)
	}
}

// TestProfileUsesSSO: what the SDK read of the profile says of IAM
// Identity Center, without a second read of the files (a scope search
// makes clients for tens of profiles): an sso_session or sso_start_url
// profile is SSO, a key or role profile (even on an SSO source) is not,
// and credentials from the environment alone say nothing.
func TestProfileUsesSSO(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	conf := `[profile keys]
region = us-east-1
aws_access_key_id = AKIAJITSSHSSO0000001
aws_secret_access_key = secret
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
[profile sso]
region = us-east-1
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Dev
[profile legacy]
region = us-east-1
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_account_id = 111122223333
sso_role_name = Dev
[profile onsso]
region = us-east-1
role_arn = arn:aws:iam::111122223333:role/Deploy
source_profile = sso
`
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	for _, c := range []struct {
		profile    string
		sso, known bool
	}{{"keys", false, true}, {"sso", true, true}, {"legacy", true, true}, {"onsso", false, true}} {
		api, err := New(context.Background(), Options{Profile: c.profile, Region: "us-east-1"})
		if err != nil {
			t.Fatalf("%s: %v", c.profile, err)
		}
		if sso, known := api.ProfileUsesSSO(); sso != c.sso || known != c.known {
			t.Errorf("%s: ProfileUsesSSO %v, %v; want %v, %v", c.profile, sso, known, c.sso, c.known)
		}
		if sso, known := api.InRegion("eu-west-1").ProfileUsesSSO(); sso != c.sso || known != c.known {
			t.Errorf("%s in another region: ProfileUsesSSO %v, %v", c.profile, sso, known)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAJITSSHSSO0000002")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	api, err := New(context.Background(), Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, known := api.ProfileUsesSSO(); known {
		t.Error("credentials from the environment and no profile: ProfileUsesSSO known")
	}
}
