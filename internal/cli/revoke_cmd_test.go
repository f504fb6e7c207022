package cli

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/revoke"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// TestRevokeFlags: revoke's arguments and flags → revokeOptions, and
// every bad combination refused as a usage error before any AWS call.
func TestRevokeFlags(t *testing.T) {
	arn := "arn:aws:sts::123456789012:assumed-role/Developer/alice"
	for _, c := range []struct {
		args []string
		err  string
		ok   func(o *revokeOptions) bool
	}{
		{[]string{"alice", "--yes"}, "", func(o *revokeOptions) bool {
			return o.Revoke.Person.User == "alice" && o.Yes && o.Revoke.DenyIn == revoke.DenyAuto && !o.Revoke.Undo && o.Revoke.Policy.UserTag == "userName"
		}},
		{[]string{"--undo", "alice", "--deny-in", "role", "--role", "A", "--role", "B"}, "", func(o *revokeOptions) bool {
			return o.Revoke.Undo && o.Revoke.DenyIn == revoke.DenyRole && strings.Join(o.Revoke.Roles, ",") == "A,B"
		}},
		{[]string{"--principal", arn, "--dry-run", "-o", "json"}, "", func(o *revokeOptions) bool {
			return o.Revoke.Person.PrincipalARN == arn && o.DryRun && o.Output == "json"
		}},
		{[]string{"alice", "--user-tag", "person"}, "", func(o *revokeOptions) bool { return o.Revoke.Policy.UserTag == "person" }},
		{nil, "name the person", nil},
		{[]string{"alice", "--principal", arn}, "not both", nil},
		{[]string{"--principal", "arn:aws:iam::123456789012:role/Developer"}, "--principal: principal ARN must be", nil},
		{[]string{"a b"}, `user name "a b"`, nil},
		{[]string{"alice", "--deny-in", "everywhere"}, `--deny-in "everywhere"`, nil},
		{[]string{"alice", "-o", "yaml"}, `--output "yaml"`, nil},
		{[]string{"alice", "-o", "json"}, "--output json needs --yes or --dry-run", nil},
		{[]string{"alice", "bob"}, "accepts at most 1 arg", nil},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var got *revokeOptions
			cmd := newRevokeCmd(&globals{}, func(_ context.Context, o *revokeOptions) error { got = o; return nil })
			cmd.SetArgs(c.args)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || got != nil {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				var ue usageError
				if !errors.As(err, &ue) && !strings.Contains(err.Error(), "arg") {
					t.Errorf("%v is not a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.ok(got) {
				t.Errorf("options %+v", *got)
			}
			if got.API == nil || got.Globals == nil {
				t.Error("no API constructor or globals")
			}
		})
	}
}

// TestConfirmRevoke: the question is asked only on a terminal; elsewhere
// revoke refuses to go on without --yes.
func TestConfirmRevoke(t *testing.T) {
	var errOut strings.Builder
	if ok, err := confirmRevoke(IOStreams{In: strings.NewReader("y\n"), Err: &errOut}); ok || err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("not a terminal: %v, %v", ok, err)
	}
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, "\n": false, "no\n": false, "": false} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(in)
		w.Close()
		ok, err := confirmRevoke(IOStreams{In: r, Err: &errOut, IsTerminal: func(int) bool { return true }})
		r.Close()
		if err != nil || ok != want {
			t.Errorf("answer %q: %v, %v; want %v", in, ok, err, want)
		}
	}
	if !strings.Contains(errOut.String(), "Go ahead? [y/N]") {
		t.Errorf("no question on stderr: %q", errOut.String())
	}
}

// TestRevokeExitCodes: runRevoke's errors → exit codes, against the
// sandbox's IAM, Organizations and SSM. A plan shown or applied in full
// is 0; a step that failed is 1, with the advice to run it again; a plan
// that cannot be made (no role known, no SCP outside an organisation, a
// call denied, no credentials) or no one to confirm is 255, naming the
// flag that helps.
func TestRevokeExitCodes(t *testing.T) {
	scrubAWS(t)
	revoker := policy.Revoker(policy.Options{Region: testRegion, Account: testAccount})
	developer := world.Config{Roles: []world.Role{{Name: "Developer"}}}
	for _, c := range []struct {
		name     string
		args     []string // after USER
		policies []policy.Document
		apiErr   error
		code     int
		stdout   string
		stderr   string // also what Main prints
	}{
		{name: "dry run", args: []string{"--role", "Developer", "--dry-run"}, policies: []policy.Document{revoker}, code: 0,
			stdout: "deny, in the inline policy jitssh-revoke-alice of role Developer"},
		{name: "applied", args: []string{"--role", "Developer", "--yes"}, policies: []policy.Document{revoker}, code: 0,
			stdout: "inline deny put"},
		{name: "a step failed", args: []string{"--role", "Developer", "--role", "Ghost", "--yes"}, policies: []policy.Document{revoker}, code: 1,
			stdout: "NoSuchEntity", stderr: "1 step(s) failed (above); run the same command again to finish"},
		{name: "no role known", args: []string{"--yes"}, policies: []policy.Document{revoker}, code: exitFailure,
			stderr: "names a role; name the roles with --role ROLE"},
		{name: "no SCP outside an organisation", args: []string{"--deny-in", "scp", "--yes"}, policies: []policy.Document{revoker}, code: exitFailure,
			stderr: "use --deny-in role"},
		{name: "no one to confirm", args: []string{"--role", "Developer"}, policies: []policy.Document{revoker}, code: exitFailure,
			stdout: "Revoke alice:", stderr: "pass --yes"},
		{name: "caller may not revoke", args: []string{"--role", "Developer", "--yes"}, code: exitFailure, stderr: "not authorized to perform: ssm:DescribeSessions"},
		{name: "the fix is the revoker's policy", args: []string{"--role", "Developer", "--yes"}, code: exitFailure, stderr: "`jitssh policy revoker` prints a policy that grants what revoke needs"},
		{name: "no credentials", args: []string{"--yes"}, apiErr: errors.New("no AWS credentials"), code: exitFailure, stderr: "no AWS credentials"},
	} {
		t.Run(c.name, func(t *testing.T) {
			api, _ := sandboxClientWith(t, developer, c.policies...)
			var got *revokeOptions
			cmd := newRevokeCmd(&globals{}, func(_ context.Context, o *revokeOptions) error { got = o; return nil })
			cmd.SetArgs(append([]string{"alice"}, c.args...))
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			var out, errOut strings.Builder
			got.IO = IOStreams{In: strings.NewReader("y\n"), Out: &out, Err: &errOut}
			got.Globals.io = got.IO
			got.API = func(context.Context) (*awsapi.Client, error) {
				if c.apiErr != nil {
					return nil, c.apiErr
				}
				return api, nil
			}
			code, printed := codeOf(runRevoke(context.Background(), got))
			stderr := errOut.String() + printed
			if code != c.code || !strings.Contains(out.String(), c.stdout) || !strings.Contains(stderr, c.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q and %q", code, out.String(), stderr, c.code, c.stdout, c.stderr)
			}
		})
	}
}
