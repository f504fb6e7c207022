package apis

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// TestDescribeRegionsOneAccount: the sandbox without an organization
// answers DescribeRegions with its one region (it used to refuse the
// action, so a client asking for the enabled regions could not list any).
func TestDescribeRegionsOneAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	out, err := e.ec2(alice).DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{AllRegions: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Regions) != 1 || aws.ToString(out.Regions[0].RegionName) != testRegion || aws.ToString(out.Regions[0].OptInStatus) != "opt-in-not-required" {
		t.Errorf("regions %+v, want only %s, opt-in-not-required", out.Regions, testRegion)
	}
}
