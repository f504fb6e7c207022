package apis

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// TestTemporaryCredentials: credentials from World.IssueSession sign
// requests with their session token; without it, with another one, or
// after expiry AWS's codes come back from each protocol.
func TestTemporaryCredentials(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	e := newEnvWith(t, world.Config{Now: func() time.Time { return time.Unix(clock.Load(), 0) }, Roles: []world.Role{{Name: "Ops"}}})
	role, _ := e.world.Role("Ops")
	sess := e.world.RoleSession(role, "carol", map[string]string{"userName": "carol"})
	sess.Policies = alice.Policies
	creds := e.world.IssueSession(sess, time.Hour)
	id, ok := e.world.Identity(creds.AccessKeyID)
	if !ok || id.SessionToken != creds.SessionToken || !id.Temporary() {
		t.Fatalf("Identity(%s) = %+v, %v", creds.AccessKeyID, id, ok)
	}
	ctx := context.Background()
	out, err := sts.NewFromConfig(e.cfgSession(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:sts::123456789012:assumed-role/Ops/carol"; aws.ToString(out.Arn) != want || aws.ToString(out.UserId) != role.ID+":carol" {
		t.Errorf("GetCallerIdentity = %s %s, want %s %s:carol", aws.ToString(out.Arn), aws.ToString(out.UserId), want, role.ID)
	}

	_, err = sts.NewFromConfig(e.cfg(creds.AccessKeyID, creds.SecretAccessKey)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", "The security token included in the request is invalid")
	_, err = ssm.NewFromConfig(e.cfgSession(creds.AccessKeyID, creds.SecretAccessKey, "wrong")).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	wantAPIError(t, err, "UnrecognizedClientException", "The security token included in the request is invalid")
	_, err = sts.NewFromConfig(e.cfgSession(alice.AccessKeyID, alice.SecretAccessKey, creds.SessionToken)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", "The security token included in the request is invalid")

	// An hour later the session is over; a request signed at that time
	// (the SDK signs with the local clock, so the world's clock moves
	// instead of the request's) is refused with ExpiredToken.
	clock.Add(3600)
	cfg := e.cfgSession(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "ExpiredToken", "The security token included in the request is expired")
	_, err = ssm.NewFromConfig(cfg).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	wantAPIError(t, err, "ExpiredTokenException", "The security token included in the request is expired")
	_, err = ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	wantAPIError(t, err, "RequestExpired", "Request has expired")
}
