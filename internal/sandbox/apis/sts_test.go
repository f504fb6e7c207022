package apis

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/jitssh/jitssh/internal/sandbox/world"
)

func TestGetCallerIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	for _, id := range []world.Identity{alice, bob} {
		out, err := e.sts(id).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("%s: %v", id.ARN, err)
		}
		if aws.ToString(out.Arn) != id.ARN || aws.ToString(out.UserId) != id.UserID || aws.ToString(out.Account) != testAccount {
			t.Errorf("GetCallerIdentity as %s = %s %s %s", id.ARN, aws.ToString(out.Arn), aws.ToString(out.UserId), aws.ToString(out.Account))
		}
	}
}

func TestSTSRawEnvelopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}

	resp := e.raw(&alice, "sts", form, "Action=GetCallerIdentity&Version=2011-06-15")
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`,
		"<GetCallerIdentityResult><Arn>" + alice.ARN + "</Arn>",
		"<ResponseMetadata><RequestId>" + resp.Header.Get("X-Amzn-Requestid") + "</RequestId></ResponseMetadata>",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("response %s lacks %s", body, want)
		}
	}

	resp = e.raw(&alice, "sts", form, "Action=AssumeRoleWithSAML&Version=2011-06-15")
	body, _ = io.ReadAll(resp.Body)
	want := `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>Could not find operation AssumeRoleWithSAML for version 2011-06-15</Message></Error><RequestId>` +
		resp.Header.Get("X-Amzn-Requestid") + `</RequestId></ErrorResponse>`
	if resp.StatusCode != 400 || !strings.Contains(string(body), want) {
		t.Errorf("unknown action: %d %s, want 400 %s", resp.StatusCode, body, want)
	}
}
