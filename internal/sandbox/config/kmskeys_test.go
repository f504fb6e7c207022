package config

import (
	"strings"
	"testing"
)

const kmsBase = prefsBase + `
[policies.carol-key]
document = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/Auditor"},"Action":"kms:Decrypt","Resource":"*"}]}'''

[[kms_keys]]
id = "0b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40"
alias = "alias/ssm-sessions"

[[kms_keys]]
id = "7c1d9e2f-0a3b-4c5d-8e6f-9a0b1c2d3e4f"
policy = "carol-key"
`

// TestKMSKeysAndPreferences: [[kms_keys]] with the default or a named key
// policy, and the preferences naming a key by alias, id or ARN, Run As
// and a shell profile; bad keys and preferences are refused with the
// field in the message.
func TestKMSKeysAndPreferences(t *testing.T) {
	for _, ref := range []string{"alias/ssm-sessions", "0b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40",
		"arn:aws:kms:us-east-1:123456789012:key/7c1d9e2f-0a3b-4c5d-8e6f-9a0b1c2d3e4f", "arn:aws:kms:us-east-1:123456789012:alias/ssm-sessions"} {
		f, err := Parse([]byte(kmsBase+"[session_preferences]\nkms_key_id = \""+ref+"\"\nrun_as_enabled = true\nrun_as_default_user = \"ec2-user\"\nshell_profile = \"cd /tmp\"\n"), "")
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		a, err := f.Resolve("carol")
		if err != nil {
			t.Fatal(err)
		}
		if len(a.KMSKeys) != 2 || a.SessionKMSKey != ref || !a.RunAs.Enabled || a.RunAs.DefaultUser != "ec2-user" || a.ShellProfile != "cd /tmp" {
			t.Fatalf("%s: resolved %+v %q %+v %q", ref, a.KMSKeys, a.SessionKMSKey, a.RunAs, a.ShellProfile)
		}
		if p := a.KMSKeys[0].Policy.Statement[0]; p.Principal == nil || p.Principal.AWS[0] != "arn:aws:iam::123456789012:root" {
			t.Fatalf("default key policy: %+v", p)
		}
		if p := a.KMSKeys[1].Policy.Statement[0]; p.Principal.AWS[0] != "arn:aws:iam::123456789012:role/Auditor" {
			t.Fatalf("named key policy: %+v", p)
		}
	}
	for _, c := range []struct{ toml, want string }{
		{"[session_preferences]\nkms_key_id = \"alias/nope\"", "session_preferences.kms_key_id: Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found."},
		{"[session_preferences]\nkms_key_id = \"11111111-2222-3333-4444-555555555555\"", "does not exist"},
		{"[session_preferences]\nrun_as_enabled = true", "run_as_default_user: required"},
		{"[session_preferences]\nrun_as_default_user = \"Root User\"", "not a Linux user name"},
		{"[session_preferences]\nshell_profile = \"" + strings.Repeat("x", 4097) + "\"", "at most 4096"},
		{"[[kms_keys]]\nid = \"not-a-uuid\"", "is not a UUID"},
		{"[[kms_keys]]\nid = \"0b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40\"", "declared twice"},
		{"[[kms_keys]]\nid = \"1b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40\"\nalias = \"alias/aws/ssm\"", "not alias/aws/"},
		{"[[kms_keys]]\nid = \"1b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40\"\nalias = \"alias/ssm-sessions\"", "names two keys"},
		{"[[kms_keys]]\nid = \"1b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40\"\npolicy = \"missing\"", "kms_keys[2].policy: unknown policy"},
		{"[[kms_keys]]\nid = \"1b6f3c2e-8d4a-4a51-9c1e-5f2d7a9b1c40\"\npolicy = \"jitssh-user\"", "has no Principal"},
	} {
		_, err := Parse([]byte(kmsBase+c.toml+"\n"), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60q: error %v, want one containing %q", c.toml, err, c.want)
		}
	}
}
