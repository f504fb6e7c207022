package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awscreds"
)

// TestCredentialErrorsAdvice: awscreds' errors, wrapped as the SDK and
// awsapi wrap a credential failure, print as jitssh's own message with
// the command that fixes them, exit 255 like every credential failure.
func TestCredentialErrorsAdvice(t *testing.T) {
	sdk := func(err error) error {
		return fmt.Errorf("ec2:DescribeInstances: operation error EC2: DescribeInstances, get identity: get credentials: failed to refresh cached credentials, %w", err)
	}
	cases := []struct {
		err  error
		want string
	}{
		{sdk(&awscreds.NoTerminalError{Profile: "mfa", Serial: "arn:aws:iam::1:mfa/carol"}),
			`profile "mfa" needs an MFA code and there is no terminal: run "jitssh login --profile mfa" on a terminal first`},
		{sdk(&awscreds.AssumeRoleError{Profile: "mfa", RoleARN: "arn:aws:iam::1:role/Admin", Serial: "S", Code: "AccessDenied", Message: "MultiFactorAuthentication failed with invalid MFA one time pass code. "}),
			"profile \"mfa\": sts:AssumeRole of arn:aws:iam::1:role/Admin failed: AccessDenied: MultiFactorAuthentication failed with invalid MFA one time pass code. \n  AWS refused the MFA code, and nothing was cached: retry with the code your device shows now (each code works once)"},
		{sdk(&awscreds.LockTimeoutError{Profile: "mfa", Path: "/h/.aws/cli/cache/k.lock", Waited: 3 * time.Minute}),
			`profile "mfa": waited 3m0s for another jitssh asking for the MFA code (lock /h/.aws/cli/cache/k.lock); answer the prompt there, or end that jitssh (its lock goes with it), then retry`},
		{sdk(&awscreds.PromptError{Profile: "mfa", Serial: "S", Reason: "no answer within 2m0s"}),
			`profile "mfa": no MFA code for S: no answer within 2m0s; retry, or run "jitssh login --profile mfa"`},
	}
	for _, c := range cases {
		code, printed := exitCode(NewRoot(IOStreams{}), c.err)
		if code != exitFailure || printed == nil || printed.Error() != c.want {
			t.Errorf("exit %d, printed\n%v\nwant 255 and\n%s", code, printed, c.want)
		}
	}
}

// TestDoctorShowsMFASessionCache: doctor's credential source findings
// name the chain and the cached MFA session's expiry and file.
func TestDoctorShowsMFASessionCache(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg := filepath.Join(t.TempDir(), "config")
	const serial = "arn:aws:iam::123456789012:mfa/carol"
	conf := "[profile carol]\naws_access_key_id = AKIAJITSSHDOCTOR0001\naws_secret_access_key = s\n" +
		"[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/Admin\nsource_profile = carol\nmfa_serial = " + serial + "\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_PROFILE", "mfa")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	g := &globals{}
	checks := credentialSourceChecks(context.Background(), g)
	if len(checks) != 2 || checks[0].Detail != "mfa (role arn:aws:iam::123456789012:role/Admin, MFA "+serial+") → carol (static keys)" ||
		!strings.Contains(checks[1].Detail, "none cached") || !strings.Contains(checks[1].Fix, "jitssh login --profile mfa") {
		t.Fatalf("no entry: %+v", checks)
	}
	c := &awscreds.Cache{Dir: filepath.Join(home, ".aws", "cli", "cache")}
	key := awscreds.RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Admin", SerialNumber: serial}.CacheKey()
	exp := time.Now().Add(50 * time.Minute)
	if err := c.Store(key, &awscreds.Entry{AccessKeyID: "ASIAJITSSHDOCTOR0001", SecretAccessKey: "s", SessionToken: "t", Expiration: exp}); err != nil {
		t.Fatal(err)
	}
	checks = credentialSourceChecks(context.Background(), g)
	if len(checks) != 2 || !strings.Contains(checks[1].Detail, "cached until "+exp.Local().Format("2006-01-02 15:04")) ||
		!strings.Contains(checks[1].Detail, "~/.aws/cli/cache/"+key+".json") {
		t.Fatalf("with an entry: %+v", checks)
	}
}
