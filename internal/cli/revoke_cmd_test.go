package cli

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/revoke"
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
