package cli

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
)

// TestLsFlags: ls's flags and argument → lsOptions.
func TestLsFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want lsOptions
		err  string
	}{
		{nil, lsOptions{Output: "table"}, ""},
		{[]string{"web"}, lsOptions{Filter: "web", Output: "table"}, ""},
		{[]string{"tag:Team=pay", "-o", "json", "--all"}, lsOptions{Filter: "tag:Team=pay", Output: "json", All: true}, ""},
		{[]string{"--output=json"}, lsOptions{Output: "json"}, ""},
		{[]string{"a", "b"}, lsOptions{}, "accepts at most 1 arg"},
		{[]string{"--all=maybe"}, lsOptions{}, "invalid argument"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			got := parseFlags(t, func(runF func(context.Context, *lsOptions) error) *cobra.Command { return newLsCmd(&globals{}, runF) }, c.args, c.err)
			if got == nil {
				return
			}
			if got.API == nil || got.Scope == nil {
				t.Error("no API or Scope constructor")
			}
			got.API, got.Scope, got.IO = nil, nil, IOStreams{}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("options %+v, want %+v", *got, c.want)
			}
		})
	}
}

// TestLsExitCodes: runLs's errors → exit codes. A source failing alone is
// a warning (exit 0); EC2 and SSM both failing, no credentials or a bad
// --output is an error (255).
func TestLsExitCodes(t *testing.T) {
	running := []awsapi.Instance{{ID: "i-0123456789abcdef0", Name: "web-1", State: "running", PrivateIP: "10.0.0.1"}}
	for _, c := range []struct {
		name   string
		output string
		api    *fakeAWS
		apiErr error
		code   int
		stderr string
	}{
		{"all sources answer", "table", &fakeAWS{instances: running}, nil, 0, ""},
		{"SSM denied: a warning", "json", &fakeAWS{instances: running, ssm: denied("ssm:DescribeInstanceInformation")}, nil, 0, "jitssh: warning: "},
		{"endpoints denied: a warning", "table", &fakeAWS{instances: running, eice: denied("ec2:DescribeInstanceConnectEndpoints")}, nil, 0, "EC2 Instance Connect Endpoints"},
		{"EC2 denied: a warning", "table", &fakeAWS{ec2: denied("ec2:DescribeInstances")}, nil, 0, "EC2 instances"},
		{"EC2 and SSM denied", "table", &fakeAWS{ec2: denied("ec2:DescribeInstances"), ssm: denied("ssm:DescribeInstanceInformation")}, nil, 255, "ec2:DescribeInstances"},
		{"no credentials", "table", nil, errors.New("no AWS credentials"), 255, "no AWS credentials"},
		{"bad --output", "yaml", &fakeAWS{}, nil, 255, `--output "yaml"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut strings.Builder
			o := &lsOptions{IO: IOStreams{Out: &out, Err: &errOut}, Output: c.output, API: func(context.Context) (lister, error) {
				if c.apiErr != nil {
					return nil, c.apiErr
				}
				return c.api, nil
			}}
			code, printed := exitCode(NewRoot(IOStreams{}), runLs(context.Background(), o))
			if printed != nil {
				errOut.WriteString(printed.Error())
			}
			if code != c.code || !strings.Contains(errOut.String(), c.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut.String(), c.code, c.stderr)
			}
			if code == 0 && !strings.Contains(out.String(), "web-1") && c.api.ec2 == nil {
				t.Errorf("web-1 not listed:\n%s", out.String())
			}
		})
	}
}
