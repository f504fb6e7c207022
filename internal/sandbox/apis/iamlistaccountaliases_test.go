package apis

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// TestListAccountAliases: iam:ListAccountAliases through the Go SDK's IAM
// client answers the account's configured alias to a caller its policies
// allow, AccessDenied (403, AWS's message) to one they do not, and AWS's
// XML shape (IsTruncated, AccountAliases members); MaxItems is checked.
// Both calls are in CloudTrail, the refusal with its error code.
func TestListAccountAliases(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "cloudtrail.jsonl")
	tl, err := trail.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	e := newEnvWith(t, world.Config{Identities: []world.Identity{alice, dev}, AccountAlias: "acme-prod"}, func(o *Options) { o.Trail = tl })
	ctx := context.Background()
	out, err := iam.NewFromConfig(e.as(alice)).ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.AccountAliases, []string{"acme-prod"}) || out.IsTruncated {
		t.Errorf("aliases %q (truncated %v), want [acme-prod]", out.AccountAliases, out.IsTruncated)
	}
	_, err = iam.NewFromConfig(e.as(dev)).ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	wantAPIError(t, err, "AccessDenied", "User: "+dev.ARN+" is not authorized to perform: iam:ListAccountAliases")
	_, err = iam.NewFromConfig(e.as(alice)).ListAccountAliases(ctx, &iam.ListAccountAliasesInput{MaxItems: aws.Int32(0)})
	wantAPIError(t, err, "ValidationError", "Member must have value between 1 and 1000")

	resp := e.raw(&alice, "iam", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "Action=ListAccountAliases&Version=2010-05-08")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `<ListAccountAliasesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListAccountAliasesResult><IsTruncated>false</IsTruncated><AccountAliases><member>acme-prod</member></AccountAliases></ListAccountAliasesResult><ResponseMetadata><RequestId>`
	if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
		t.Errorf("raw answer %d:\n%s\nwant it to contain\n%s", resp.StatusCode, body, want)
	}

	var got []string
	for _, ev := range trailEvents(t, path) {
		if ev.EventName == "ListAccountAliases" {
			got = append(got, ev.EventSource+" "+ev.UserIdentity.ARN+" "+ev.RecipientAccountID+" "+firstNonEmpty(ev.ErrorCode, "ok"))
		}
	}
	wantTrail := []string{
		"iam.amazonaws.com " + alice.ARN + " " + testAccount + " ok",
		"iam.amazonaws.com " + dev.ARN + " " + testAccount + " AccessDenied",
		"iam.amazonaws.com " + alice.ARN + " " + testAccount + " ValidationError",
		"iam.amazonaws.com " + alice.ARN + " " + testAccount + " ok",
	}
	if !slices.Equal(got, wantTrail) {
		t.Errorf("CloudTrail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantTrail, "\n"))
	}
}

// TestOrgListAccountAliases: each account answers its own alias, through
// any of its regions (IAM is global): the member's alias to its user
// signing for us-west-2, none (an empty list, not an error) to the
// management account, which has no alias.
func TestOrgListAccountAliases(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		id     world.Identity
		region string
		want   []string
	}{
		{memberUser, orgWest, []string{orgMemberAlias}},
		{memberUser, testRegion, []string{orgMemberAlias}},
		{alice, orgWest, nil},
	} {
		out, err := iam.NewFromConfig(e.in(tc.region, credsOf(tc.id))).ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
		if err != nil {
			t.Fatalf("%s in %s: %v", tc.id.ARN, tc.region, err)
		}
		if !slices.Equal(out.AccountAliases, tc.want) {
			t.Errorf("%s in %s: aliases %q, want %q", tc.id.ARN, tc.region, out.AccountAliases, tc.want)
		}
	}
}

// trailEvents reads a CloudTrail log file.
func trailEvents(t *testing.T, path string) []trail.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []trail.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev trail.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		out = append(out, ev)
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
