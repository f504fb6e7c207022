package targets

import "testing"

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
