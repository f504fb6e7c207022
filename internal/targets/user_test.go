package targets

import (
	"strings"
	"testing"
)

func TestUserFromARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/alice":                             "alice",
		"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0a1b/Alice.Smith@example.com": "alice.smith",
		"arn:aws:sts::123456789012:assumed-role/R/bob+ops":                                         "bob_ops",
		"arn:aws:sts::123456789012:assumed-role/R/1234567":                                         "_1234567",
		"arn:aws:iam::123456789012:user/eng/carol":                                                 "carol",
		"arn:aws-us-gov:sts::123456789012:federated-user/dave":                                     "dave",
		"arn:aws:sts::123456789012:assumed-role/R/a-very-long-session-name-that-goes-on":           "a-very-long-session-name-that-go",
	} {
		got, err := UserFromARN(arn)
		if err != nil || got != want {
			t.Errorf("UserFromARN(%s) = %q, %v; want %q", arn, got, err, want)
		}
	}
	for _, bad := range []string{"", "alice", "arn:aws:iam::123456789012:root", "arn:aws:sts::123456789012:assumed-role/R/@example.com", "arn:aws:sts::1:assumed-role/R"} {
		if got, err := UserFromARN(bad); err == nil {
			t.Errorf("UserFromARN(%q) = %q, want an error", bad, got)
		}
	}
}

// TestUserFromSSOARN: an IAM Identity Center role session is
// assumed-role/AWSReservedSSO_<permission set>_<hex>/<user name>, the user
// name being what the directory holds: a plain name or an e-mail address.
// jitssh takes the session name as for any role (docs/credentials.md,
// "The OS user of an SSO session"): the part before '@', lower-cased,
// other characters a Linux login cannot have as '_'.
func TestUserFromSSOARN(t *testing.T) {
	for session, want := range map[string]string{
		"dave":                    "dave",
		"dave@example.com":        "dave",
		"Dave.OBrien@Example.COM": "dave.obrien",
		"o'neil@example.com":      "o_neil",
		"2fa-bot@example.com":     "_2fa-bot",
		"first last":              "first_last",
		"jürgen@example.de":       "j_rgen",
		"a.b+tag@example.com":     "a.b_tag",
		"x@y@z":                   "x",
	} {
		arn := "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Developer_0123456789abcdef/" + session
		got, err := UserFromARN(arn)
		if err != nil || got != want {
			t.Errorf("UserFromARN(%s) = %q, %v; want %q", arn, got, err, want)
		}
	}
	if got, err := UserFromARN("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Developer_0123456789abcdef/@example.com"); err == nil {
		t.Errorf("an empty name before '@' gave %q", got)
	}
}

func FuzzUserFromARN(f *testing.F) {
	f.Add("arn:aws:sts::123456789012:assumed-role/R/alice@example.com")
	f.Add("arn:aws:iam::123456789012:user/x")
	f.Fuzz(func(t *testing.T, arn string) {
		u, err := UserFromARN(arn)
		if err == nil && ValidUser(u) != nil {
			t.Fatalf("UserFromARN(%q) = %q, not a valid user", arn, u)
		}
	})
}

// TestUserFromGeneratedSessionName: a role session the SDK named (no
// role_session_name in the profile) names no user: an error that says
// how to name one, not a login as "aws-go-sdk-1733…".
func TestUserFromGeneratedSessionName(t *testing.T) {
	for _, arn := range []string{
		"arn:aws:sts::123456789012:assumed-role/Admin/aws-go-sdk-1733140800123456789",
		"arn:aws:sts::123456789012:assumed-role/Admin/botocore-session-1733140800",
	} {
		if got, err := UserFromARN(arn); err == nil || !strings.Contains(err.Error(), "role_session_name") {
			t.Errorf("UserFromARN(%s) = %q, %v; want an error naming role_session_name", arn, got, err)
		}
	}
	if got, err := UserFromARN("arn:aws:sts::123456789012:assumed-role/Admin/aws-go-sdk-fan"); err != nil || got != "aws-go-sdk-fan" {
		t.Errorf("a chosen name like the prefix: %q, %v", got, err)
	}
}
