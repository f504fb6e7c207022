package cli

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
)

// TestDoctorFlags: doctor's flags and argument → doctorOptions.
func TestDoctorFlags(t *testing.T) {
	for _, c := range []struct {
		args                 []string
		target, output, user string
		err                  string
	}{
		{nil, "", "table", "", ""},
		{[]string{"web-1"}, "web-1", "table", "", ""},
		{[]string{"i-0123456789abcdef0", "-o", "json", "-l", "alice"}, "i-0123456789abcdef0", "json", "alice", ""},
		{[]string{"web-1", "--user=bob", "--output", "table"}, "web-1", "table", "bob", ""},
		{[]string{"a", "b"}, "", "", "", "accepts at most 1 arg"},
		{[]string{"-l"}, "", "", "", "flag needs an argument"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			g := &globals{}
			got := parseFlags(t, func(runF func(context.Context, *doctorOptions) error) *cobra.Command { return newDoctorCmd(g, runF) }, c.args, c.err)
			if got == nil {
				return
			}
			if got.Target != c.target || got.Output != c.output || got.User != c.user || got.API == nil || got.g != g {
				t.Errorf("options %+v; want target %q, output %q, user %q", *got, c.target, c.output, c.user)
			}
		})
	}
}

// TestDoctorExitCodes: any failed check is exit 1 (and the checks are
// printed); a bad --output is 255. What each check finds is proven
// against the sandbox (e2e/doctor_test.go).
func TestDoctorExitCodes(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("OpenSSH client (ssh) not installed") // the openssh check would fail
	}
	scrubAWS(t)
	caller := &awsapi.Caller{Account: testAccount, ARN: "arn:aws:sts::" + testAccount + ":assumed-role/Dev/alice", UserID: "AROA:alice"}
	for _, c := range []struct {
		name   string
		output string
		target string
		api    *fakeAWS
		apiErr error
		code   int
		stdout string
	}{
		{"all well", "table", "", &fakeAWS{caller: caller}, nil, 0, "OK    credentials"},
		{"all well, json", "json", "", &fakeAWS{caller: caller}, nil, 0, `"check": "credentials"`},
		{"no region", "table", "", nil, errors.New("no region"), 1, "FAIL  region"},
		{"credentials refused", "table", "", &fakeAWS{sts: &awsapi.APIError{Action: "sts:GetCallerIdentity", Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}}, nil, 1, "FAIL  credentials"},
		{"clock 10 minutes off", "table", "", &fakeAWS{caller: caller, date: time.Now().Add(-10 * time.Minute)}, nil, 1, "FAIL  clock"},
		{"bad target", "table", "bad target!", &fakeAWS{caller: caller}, nil, 1, "FAIL  target"},
		{"instance search denied", "table", "web-1", &fakeAWS{caller: caller, ec2: denied("ec2:DescribeInstances"), ssm: denied("ssm:DescribeInstanceInformation")}, nil, 1, "FAIL  instance"},
		{"bad --output", "yaml", "", &fakeAWS{caller: caller}, nil, 255, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut strings.Builder
			if c.api != nil && c.api.date.IsZero() && c.api.sts == nil {
				c.api.date = time.Now()
			}
			o := &doctorOptions{IO: IOStreams{Out: &out, Err: &errOut}, g: &globals{}, Output: c.output, Target: c.target,
				API: func(context.Context, string) (doctorAPI, string, error) {
					if c.apiErr != nil {
						return nil, "", c.apiErr
					}
					return c.api, testRegion, nil
				}}
			code, printed := codeOf(runDoctor(context.Background(), o))
			if code != c.code || !strings.Contains(out.String(), c.stdout) {
				t.Errorf("exit %d (%s); want %d and %q in:\n%s%s", code, printed, c.code, c.stdout, out.String(), errOut.String())
			}
		})
	}
}
