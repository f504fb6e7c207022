package awsapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// TestAccountAlias: against the sandbox's IAM, the account's alias for a
// caller with jitssh's user policy; "" without error for an account
// without one; for a caller without iam:ListAccountAliases, the denial
// naming the action.
func TestAccountAlias(t *testing.T) {
	user := world.Identity{AccessKeyID: "AKIAJITSSHALIASUSER1", SecretAccessKey: "secret-for-the-alias-test-0123456789ab",
		ARN: "arn:aws:sts::123456789012:assumed-role/R/alice", UserID: "AROA:alice",
		Policies: []policy.Document{policy.User(policy.Options{Region: "us-east-1", Account: "123456789012"})}}
	nobody := world.Identity{AccessKeyID: "AKIAJITSSHALIASNONE1", SecretAccessKey: "secret-for-the-alias-test-0123456789cd",
		ARN: "arn:aws:sts::123456789012:assumed-role/R/nobody", UserID: "AROA:nobody"}
	for _, tc := range []struct {
		alias   string
		id      world.Identity
		want    string
		denied  bool
		comment string
	}{
		{"acme-prod", user, "acme-prod", false, "the alias"},
		{"", user, "", false, "no alias"},
		{"acme-prod", nobody, "", true, "denied"},
	} {
		t.Run(tc.comment, func(t *testing.T) {
			w, err := world.New(world.Config{Region: "us-east-1", Account: "123456789012", AccountAlias: tc.alias, Identities: []world.Identity{user, nobody}})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(apis.NewHandler(w, apis.Options{}))
			defer srv.Close()
			testEnv(t, srv.URL)
			t.Setenv("AWS_ACCESS_KEY_ID", tc.id.AccessKeyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", tc.id.SecretAccessKey)
			c, err := New(context.Background(), Options{Region: "us-east-1"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.AccountAlias(Secondary(context.Background()))
			var ae *APIError
			if tc.denied {
				if !errors.As(err, &ae) || ae.Action != "iam:ListAccountAliases" || ae.Code != "AccessDenied" {
					t.Fatalf("AccountAlias = %q, %v; want AccessDenied on iam:ListAccountAliases", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("AccountAlias = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
