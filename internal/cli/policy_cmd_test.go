package cli

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/policy"
)

// TestPolicyFlags: policy's document, flags and --region → policyOptions.
func TestPolicyFlags(t *testing.T) {
	for _, c := range []struct {
		args   []string
		region string // the global --region
		want   policyOptions
		err    string
	}{
		{[]string{"user"}, "", policyOptions{Document: "user"}, ""},
		{[]string{"user", "--account", "111122223333", "--instance-tag", "jitssh=enabled"}, "eu-west-1",
			policyOptions{Document: "user", Policy: policy.Options{Region: "eu-west-1", Account: "111122223333", TagKey: "jitssh", TagValue: "enabled"}}, ""},
		{[]string{"user", "--instance-tag", "env=", "--user-tag", "login", "--document", "AWS-StartSSHSession", "--document", "X-1", "--managed-instances"}, "",
			policyOptions{Document: "user", Policy: policy.Options{TagKey: "env", UserTag: "login", Documents: []string{"AWS-StartSSHSession", "X-1"}, ManagedInstances: true}}, ""},
		{[]string{"instance", "--trust-policy", "--partition", "aws-cn"}, "", policyOptions{Document: "instance", TrustOnly: true, Policy: policy.Options{Partition: "aws-cn"}}, ""},
		{[]string{"scp"}, "", policyOptions{Document: "scp"}, ""},
		{nil, "", policyOptions{}, "name one document"},
		{[]string{"group"}, "", policyOptions{}, `unknown document "group"`},
		{[]string{"user", "--instance-tag", "novalue"}, "", policyOptions{}, "want KEY=VALUE"},
		{[]string{"user", "--instance-tag", "=v"}, "", policyOptions{}, "want KEY=VALUE"},
		{[]string{"user", "--account", "12"}, "", policyOptions{}, `account "12"`},
		{[]string{"user"}, "mars", policyOptions{}, `region "mars"`},
		{[]string{"scp", "--trust-policy"}, "", policyOptions{}, "instance document only"},
	} {
		t.Run(strings.Join(c.args, " ")+" region="+c.region, func(t *testing.T) {
			var got *policyOptions
			cmd := newPolicyCmd(&globals{region: c.region}, func(o *policyOptions) error { got = o; return nil })
			cmd.SetArgs(c.args)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || got != nil {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				if code, _ := codeOf(err); code != exitFailure {
					t.Errorf("exit %d, want %d", code, exitFailure)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IO = IOStreams{}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("options %+v, want %+v", *got, c.want)
			}
		})
	}
}

// failingWriter is a stdout that cannot be written (a closed pipe).
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) {
	return 0, errors.New("write /dev/stdout: broken pipe")
}

// TestPolicyExitCodes: runPolicy prints the document (exit 0), and a
// stdout that cannot be written is 255.
func TestPolicyExitCodes(t *testing.T) {
	var out strings.Builder
	for _, doc := range []string{"user", "scp", "instance", "auditor", "revoker"} {
		out.Reset()
		if code, msg := codeOf(runPolicy(&policyOptions{IO: IOStreams{Out: &out}, Document: doc})); code != 0 || !strings.HasPrefix(out.String(), "{") {
			t.Errorf("%s: exit %d %s, printed %q", doc, code, msg, out.String())
		}
	}
	if code, msg := codeOf(runPolicy(&policyOptions{IO: IOStreams{Out: failingWriter{}}, Document: "user"})); code != exitFailure || !strings.Contains(msg, "broken pipe") {
		t.Errorf("broken stdout: exit %d %q", code, msg)
	}
}
