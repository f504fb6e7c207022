package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
)

// completeTargets offers the Name tags and ids of live instances for shell
// completion (`jitssh completion bash|zsh|fish|powershell` installs it).
func completeTargets(g *globals) cobra.CompletionFunc {
	return completeTargetsWith(func(ctx context.Context) (instanceDescriber, error) {
		g.noPrompt = true // no MFA prompt in the middle of a command line
		g.noSignIn = true // never a sign-in question while the shell completes
		return g.api(ctx, "")
	})
}

// instanceDescriber is the AWS call completion makes.
type instanceDescriber interface {
	DescribeInstances(ctx context.Context, ids []string, filters map[string][]string) ([]awsapi.Instance, error)
}

// completeTargetsWith completes the first argument from the running
// instances newAPI's clients list; nothing when AWS cannot be asked.
func completeTargetsWith(newAPI func(context.Context) (instanceDescriber, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
		defer cancel()
		api, err := newAPI(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		found, err := api.DescribeInstances(ctx, nil, map[string][]string{"instance-state-name": {"running"}})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		seen := map[string]bool{}
		for _, in := range found {
			for _, c := range []string{in.Name, in.ID} {
				if c != "" && !seen[c] {
					seen[c] = true
					out = append(out, cobra.CompletionWithDesc(c, in.ID+" "+in.PrivateIP))
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
