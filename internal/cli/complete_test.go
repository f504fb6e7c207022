package cli

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
)

// TestCompleteTargets: completion offers each running instance's name and
// id once, only for the first argument, and nothing (no file names
// either) when AWS cannot be asked.
func TestCompleteTargets(t *testing.T) {
	fleet := []awsapi.Instance{
		{ID: "i-0aaaaaaaaaaaaaaa1", Name: "web", PrivateIP: "10.0.0.1"},
		{ID: "i-0aaaaaaaaaaaaaaa2", Name: "web", PrivateIP: "10.0.0.2"},
		{ID: "i-0aaaaaaaaaaaaaaa3", PrivateIP: "10.0.0.3"},
	}
	for _, c := range []struct {
		name   string
		args   []string
		api    *fakeAWS
		apiErr error
		want   []cobra.Completion
		dir    cobra.ShellCompDirective
	}{
		{"instances", nil, &fakeAWS{instances: fleet}, nil, []cobra.Completion{
			"web\ti-0aaaaaaaaaaaaaaa1 10.0.0.1", "i-0aaaaaaaaaaaaaaa1\ti-0aaaaaaaaaaaaaaa1 10.0.0.1",
			"i-0aaaaaaaaaaaaaaa2\ti-0aaaaaaaaaaaaaaa2 10.0.0.2", "i-0aaaaaaaaaaaaaaa3\ti-0aaaaaaaaaaaaaaa3 10.0.0.3"}, cobra.ShellCompDirectiveNoFileComp},
		{"second argument", []string{"web"}, &fakeAWS{instances: fleet}, nil, nil, cobra.ShellCompDirectiveDefault},
		{"EC2 denied", nil, &fakeAWS{ec2: denied("ec2:DescribeInstances")}, nil, nil, cobra.ShellCompDirectiveNoFileComp},
		{"no credentials", nil, nil, errors.New("no credentials"), nil, cobra.ShellCompDirectiveNoFileComp},
	} {
		t.Run(c.name, func(t *testing.T) {
			complete := completeTargetsWith(func(context.Context) (instanceDescriber, error) {
				if c.apiErr != nil {
					return nil, c.apiErr
				}
				return c.api, nil
			})
			cmd := &cobra.Command{}
			cmd.SetContext(context.Background())
			got, dir := complete(cmd, c.args, "")
			if !reflect.DeepEqual(got, c.want) || dir != c.dir {
				t.Errorf("%q, %v; want %q, %v", got, dir, c.want, c.dir)
			}
		})
	}
}
