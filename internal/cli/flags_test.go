package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// parseFlags runs the command newCmd makes (given a runF that keeps its
// options) on args, and returns the options its run function would get.
// With wantErr, parsing must fail with an error containing it and run
// nothing; it then returns nil.
func parseFlags[O any](t *testing.T, newCmd func(runF func(context.Context, *O) error) *cobra.Command, args []string, wantErr string) *O {
	t.Helper()
	var got *O
	cmd := newCmd(func(_ context.Context, o *O) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) || got != nil {
			t.Fatalf("err = %v, want %q (and no run)", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return got
}
