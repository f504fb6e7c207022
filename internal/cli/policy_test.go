package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func TestPolicyGolden(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-central-1") // must not scope the documents
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"user.json", []string{"policy", "user"}},
		{"user-scoped.json", []string{"policy", "user", "--region", "eu-west-1", "--account", "111122223333", "--instance-tag", "jitssh=enabled"}},
		{"user-ssh-only.json", []string{"policy", "user", "--document", "AWS-StartSSHSession", "--user-tag", "login"}},
		{"user-managed-scoped.json", []string{"policy", "user", "--managed-instances", "--region", "eu-west-1", "--account", "111122223333", "--instance-tag", "jitssh=enabled"}},
		{"scp.json", []string{"policy", "scp"}},
		{"instance.json", []string{"policy", "instance"}},
		{"auditor.json", []string{"policy", "auditor"}},
		{"auditor-scoped.json", []string{"policy", "auditor", "--region", "eu-west-1", "--account", "111122223333", "--log-group", "/org/jitssh"}},
		{"revoker.json", []string{"policy", "revoker"}},
		{"revoker-scoped.json", []string{"policy", "revoker", "--region", "eu-west-1", "--account", "111122223333", "--instance-tag", "jitssh=enabled"}},
		{"instance-trust-cn.json", []string{"policy", "instance", "--trust-policy", "--partition", "aws-cn"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("jitssh %s: exit %d, stderr %q", strings.Join(tc.args, " "), code, errOut)
			}
			path := filepath.Join("testdata", "policy", tc.golden)
			if *update {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if out != string(want) {
				t.Fatalf("jitssh %s differs from %s:\n%s", strings.Join(tc.args, " "), path, out)
			}
			if strings.HasPrefix(tc.golden, "instance.json") {
				return
			}
			// Ready to paste: it parses as the IAM document the sandbox enforces.
			if _, err := policy.Parse([]byte(out)); err != nil {
				t.Fatalf("printed document does not parse: %v", err)
			}
		})
	}
}

func TestPolicyMatchesPackage(t *testing.T) {
	out, _, code := runCLI(t, "policy", "user")
	if code != 0 || out != string(policy.User(policy.Options{}).JSON()) {
		t.Fatalf("jitssh policy user (exit %d) is not policy.User:\n%s", code, out)
	}
}

func TestPolicyBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"policy"}, "name one document"},
		{[]string{"policy", "admin"}, `unknown document "admin"`},
		{[]string{"policy", "user", "--account", "12345"}, "want 12 digits"},
		{[]string{"policy", "user", "--region", "mars"}, "region"},
		{[]string{"policy", "user", "--instance-tag", "novalue"}, "want KEY=VALUE"},
		{[]string{"policy", "user", "--document", "bad name!"}, "document name"},
		{[]string{"policy", "scp", "--trust-policy"}, "instance document only"},
	} {
		out, errOut, code := runCLI(t, tc.args...)
		if code == 0 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("jitssh %s: exit %d, stdout %q, stderr %q; want a failure saying %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
}

func TestPolicyHelpHasExamples(t *testing.T) {
	out, _, code := runCLI(t, "policy", "--help")
	if code != 0 || !strings.Contains(out, "jitssh policy user --account") || !strings.Contains(out, "--trust-policy") {
		t.Fatalf("help (exit %d) lacks examples:\n%s", code, out)
	}
}
