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
