package apis

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// testEndpoints: two endpoints in vpc-01 (subnets a and b) and one in
// vpc-02 being deleted, with tags to filter on.
func testEndpoints() []world.Endpoint {
	mk := func(n int, subnet, vpc, az, state string, tags map[string]string) world.Endpoint {
		id := fmt.Sprintf("eice-0%016x", n)
		return world.Endpoint{ID: id, SubnetID: subnet, VpcID: vpc, AZ: az, State: state,
			DNSName:            id + ".1234abcd.ec2-instance-connect-endpoint.us-east-1.amazonaws.com",
			FipsDNSName:        id + ".1234abcd.fips.ec2-instance-connect-endpoint.us-east-1.amazonaws.com",
			NetworkInterfaceID: fmt.Sprintf("eni-0%016x", n), SecurityGroupID: fmt.Sprintf("sg-0%016x", n),
			CreatedAt: launch, Tags: tags}
	}
	return []world.Endpoint{
		mk(1, "subnet-0a1", "vpc-01", "us-east-1a", "create-complete", map[string]string{"Name": "eice-a", "env": "prod"}),
		mk(2, "subnet-0b1", "vpc-01", "us-east-1b", "create-complete", map[string]string{"Name": "eice-b"}),
		mk(3, "subnet-0a2", "vpc-02", "us-east-1a", "delete-in-progress", nil),
	}
}

func endpointIDs(out []ec2types.Ec2InstanceConnectEndpoint) []string {
	ids := []string{}
	for _, e := range out {
		ids = append(ids, aws.ToString(e.InstanceConnectEndpointId))
	}
	return ids
}

// TestDescribeInstanceConnectEndpointsSDK: the SDK's ec2 client reads
// every field the AWS CLI uses (DnsName, FipsDnsName, SubnetId, VpcId,
// State), filters as eicefetcher.py does, pages, and gets AWS's errors.
func TestDescribeInstanceConnectEndpointsSDK(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, world.Config{Instances: testInstances(), Endpoints: testEndpoints()})
	c := e.ec2(alice)
	ctx := context.Background()
	id1, id2, id3 := testEndpoints()[0].ID, testEndpoints()[1].ID, testEndpoints()[2].ID

	out, err := c.DescribeInstanceConnectEndpoints(ctx, &ec2.DescribeInstanceConnectEndpointsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := endpointIDs(out.InstanceConnectEndpoints); !reflect.DeepEqual(got, []string{id1, id2, id3}) || out.NextToken != nil {
		t.Fatalf("all endpoints: %v next %v", got, out.NextToken)
	}
	ep := out.InstanceConnectEndpoints[0]
	want := ec2types.Ec2InstanceConnectEndpoint{
		OwnerId: aws.String(testAccount), InstanceConnectEndpointId: aws.String(id1),
		InstanceConnectEndpointArn: aws.String("arn:aws:ec2:us-east-1:123456789012:instance-connect-endpoint/" + id1),
		State:                      ec2types.Ec2InstanceConnectEndpointStateCreateComplete, StateMessage: aws.String(""),
		DnsName:             aws.String(id1 + ".1234abcd.ec2-instance-connect-endpoint.us-east-1.amazonaws.com"),
		FipsDnsName:         aws.String(id1 + ".1234abcd.fips.ec2-instance-connect-endpoint.us-east-1.amazonaws.com"),
		NetworkInterfaceIds: []string{"eni-00000000000000001"}, VpcId: aws.String("vpc-01"),
		AvailabilityZone: aws.String("us-east-1a"), AvailabilityZoneId: aws.String("use1-az1"),
		CreatedAt: aws.Time(launch.Truncate(time.Millisecond)), SubnetId: aws.String("subnet-0a1"),
		PreserveClientIp: aws.Bool(false), SecurityGroupIds: []string{"sg-00000000000000001"},
		Tags:          []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("eice-a")}, {Key: aws.String("env"), Value: aws.String("prod")}},
		IpAddressType: ec2types.IpAddressTypeIpv4,
		PublicDnsNames: &ec2types.InstanceConnectEndpointPublicDnsNames{Ipv4: &ec2types.InstanceConnectEndpointDnsNames{
			DnsName:     aws.String(id1 + ".1234abcd.ec2-instance-connect-endpoint.us-east-1.amazonaws.com"),
			FipsDnsName: aws.String(id1 + ".1234abcd.fips.ec2-instance-connect-endpoint.us-east-1.amazonaws.com")}},
	}
	if !reflect.DeepEqual(ep, want) {
		gb, _ := json.MarshalIndent(ep, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("endpoint:\n%s\nwant\n%s", gb, wb)
	}

	// The AWS CLI's discovery: state filter + vpc-id, or ids + state.
	usable := ec2types.Filter{Name: aws.String("state"), Values: []string{"create-complete", "update-in-progress", "update-failed", "update-complete"}}
	for name, tc := range map[string]struct {
		in   ec2.DescribeInstanceConnectEndpointsInput
		want []string
	}{
		"vpc":          {ec2.DescribeInstanceConnectEndpointsInput{Filters: []ec2types.Filter{usable, {Name: aws.String("vpc-id"), Values: []string{"vpc-01"}}}}, []string{id1, id2}},
		"vpc deleting": {ec2.DescribeInstanceConnectEndpointsInput{Filters: []ec2types.Filter{usable, {Name: aws.String("vpc-id"), Values: []string{"vpc-02"}}}}, []string{}},
		"id":           {ec2.DescribeInstanceConnectEndpointsInput{InstanceConnectEndpointIds: []string{id2}, Filters: []ec2types.Filter{usable}}, []string{id2}},
		"subnet":       {ec2.DescribeInstanceConnectEndpointsInput{Filters: []ec2types.Filter{{Name: aws.String("subnet-id"), Values: []string{"subnet-0b*"}}}}, []string{id2}},
		"tag":          {ec2.DescribeInstanceConnectEndpointsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{"eice-?"}}}}, []string{id1, id2}},
		"tag-key":      {ec2.DescribeInstanceConnectEndpointsInput{Filters: []ec2types.Filter{{Name: aws.String("tag-key"), Values: []string{"env"}}}}, []string{id1}},
		"tag-value":    {ec2.DescribeInstanceConnectEndpointsInput{Filters: []ec2types.Filter{{Name: aws.String("tag-value"), Values: []string{"eice-b"}}}}, []string{id2}},
		"endpoint-id":  {ec2.DescribeInstanceConnectEndpointsInput{Filters: []ec2types.Filter{{Name: aws.String("instance-connect-endpoint-id"), Values: []string{id3}}}}, []string{id3}},
	} {
		out, err := c.DescribeInstanceConnectEndpoints(ctx, &tc.in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := endpointIDs(out.InstanceConnectEndpoints); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}

	// Pagination with the SDK's paginator, one per page.
	var paged []string
	p := ec2.NewDescribeInstanceConnectEndpointsPaginator(c, &ec2.DescribeInstanceConnectEndpointsInput{MaxResults: aws.Int32(1)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		paged = append(paged, endpointIDs(out.InstanceConnectEndpoints)...)
	}
	if !reflect.DeepEqual(paged, []string{id1, id2, id3}) || pages != 3 {
		t.Errorf("paged: %v in %d pages", paged, pages)
	}

	for name, tc := range map[string]struct {
		in        ec2.DescribeInstanceConnectEndpointsInput
		code, msg string
	}{
		"unknown id":   {ec2.DescribeInstanceConnectEndpointsInput{InstanceConnectEndpointIds: []string{"eice-0ffffffffffffffff"}}, "InvalidInstanceConnectEndpointId.NotFound", "eice-0ffffffffffffffff"},
		"malformed id": {ec2.DescribeInstanceConnectEndpointsInput{InstanceConnectEndpointIds: []string{"i-0123"}}, "InvalidInstanceConnectEndpointId.Malformed", `"i-0123"`},
		"bad filter":   {ec2.DescribeInstanceConnectEndpointsInput{Filters: []ec2types.Filter{{Name: aws.String("colour"), Values: []string{"x"}}}}, "InvalidParameterValue", "colour"},
		"max 0":        {ec2.DescribeInstanceConnectEndpointsInput{MaxResults: aws.Int32(0)}, "InvalidParameterValue", "maxResults"},
		"max 51":       {ec2.DescribeInstanceConnectEndpointsInput{MaxResults: aws.Int32(51)}, "InvalidParameterValue", "maxResults"},
		"bad token":    {ec2.DescribeInstanceConnectEndpointsInput{NextToken: aws.String("garbage!")}, "InvalidParameterValue", "nextToken"},
		"dry run":      {ec2.DescribeInstanceConnectEndpointsInput{DryRun: aws.Bool(true)}, "DryRunOperation", "would have succeeded"},
	} {
		_, err := c.DescribeInstanceConnectEndpoints(ctx, &tc.in)
		t.Run(name, func(t *testing.T) { wantAPIError(t, err, tc.code, tc.msg) })
	}

	// IAM: a caller whose policy allows only DescribeInstances is refused.
	carol := world.Identity{AccessKeyID: "AKIASANDBOXCAROL0003", SecretAccessKey: "carol/secret/key/0123456789abcdefghijklm",
		ARN: "arn:aws:iam::123456789012:user/carol", UserID: "AIDACAROL",
		Policies: []policy.Document{{Version: policy.Version, Statement: []policy.Statement{{Effect: policy.Allow,
			Action: policy.Strings{"ec2:DescribeInstances"}, Resource: policy.Strings{"*"}}}}}}
	e2 := newEnvWith(t, world.Config{Identities: []world.Identity{carol}, Endpoints: testEndpoints()})
	_, err = e2.ec2(carol).DescribeInstanceConnectEndpoints(ctx, &ec2.DescribeInstanceConnectEndpointsInput{})
	wantAPIError(t, err, "UnauthorizedOperation", "User: arn:aws:iam::123456789012:user/carol is not authorized to perform: ec2:DescribeInstanceConnectEndpoints because no identity-based policy allows the ec2:DescribeInstanceConnectEndpoints action")
}

// TestDescribeInstanceConnectEndpointsCLI runs the real aws CLI: the
// discovery call of `aws ec2-instance-connect open-tunnel` (state and vpc
// filters), paging with --page-size, and an unknown id.
func TestDescribeInstanceConnectEndpointsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aws CLI")
	}
	t.Parallel()
	e := newEnvWith(t, world.Config{Instances: testInstances(), Endpoints: testEndpoints()})
	id1, id2 := testEndpoints()[0].ID, testEndpoints()[1].ID
	out, stderr, code := awsCLI(t, e, alice, alice.SecretAccessKey, "ec2", "describe-instance-connect-endpoints",
		"--filters", "Name=state,Values=create-complete,update-in-progress,update-failed,update-complete", "Name=vpc-id,Values=vpc-01",
		"--page-size", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		InstanceConnectEndpoints []struct {
			InstanceConnectEndpointId, DnsName, FipsDnsName, SubnetId, VpcId, State, AvailabilityZone string
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.InstanceConnectEndpoints) != 2 {
		t.Fatalf("got %+v", got)
	}
	first := got.InstanceConnectEndpoints[0]
	if first.InstanceConnectEndpointId != id1 || got.InstanceConnectEndpoints[1].InstanceConnectEndpointId != id2 ||
		first.DnsName != id1+".1234abcd.ec2-instance-connect-endpoint.us-east-1.amazonaws.com" || first.SubnetId != "subnet-0a1" ||
		first.VpcId != "vpc-01" || first.State != "create-complete" || first.AvailabilityZone != "us-east-1a" {
		t.Errorf("got %+v", got)
	}
	_, stderr, code = awsCLI(t, e, alice, alice.SecretAccessKey, "ec2", "describe-instance-connect-endpoints",
		"--instance-connect-endpoint-ids", "eice-0ffffffffffffffff")
	if want := "An error occurred (InvalidInstanceConnectEndpointId.NotFound) when calling the DescribeInstanceConnectEndpoints operation: The instance connect endpoint ID 'eice-0ffffffffffffffff' does not exist"; code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("unknown id: exit %d, stderr %q, want %q", code, stderr, want)
	}
}
