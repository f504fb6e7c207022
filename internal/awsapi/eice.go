package awsapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// InstanceConnectEndpoint is what jitssh needs to know about an EC2
// Instance Connect Endpoint.
type InstanceConnectEndpoint struct {
	ID          string
	DNSName     string
	FIPSDNSName string
	VpcID       string
	SubnetID    string
	State       string
}

// InstanceConnectEndpoints lists the endpoints matching filters (EC2
// filter names: instance-connect-endpoint-id, state, subnet-id, vpc-id,
// tag:KEY, ...), following every page, in the order EC2 returns them.
func (c *Client) InstanceConnectEndpoints(ctx context.Context, filters map[string][]string) ([]InstanceConnectEndpoint, error) {
	in := &ec2.DescribeInstanceConnectEndpointsInput{}
	for name, values := range filters {
		in.Filters = append(in.Filters, ec2types.Filter{Name: aws.String(name), Values: values})
	}
	var out []InstanceConnectEndpoint
	p := ec2.NewDescribeInstanceConnectEndpointsPaginator(c.ec2(), in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, explain("ec2:DescribeInstanceConnectEndpoints", err)
		}
		for _, e := range page.InstanceConnectEndpoints {
			out = append(out, InstanceConnectEndpoint{
				ID: aws.ToString(e.InstanceConnectEndpointId), DNSName: aws.ToString(e.DnsName),
				FIPSDNSName: aws.ToString(e.FipsDnsName), VpcID: aws.ToString(e.VpcId),
				SubnetID: aws.ToString(e.SubnetId), State: string(e.State),
			})
		}
	}
	return out, nil
}

// EICESigning is what presigning an EC2 Instance Connect Endpoint tunnel
// needs from the SDK configuration: credentials, region, and the custom
// endpoint the SDK resolved for the ec2-instance-connect service
// (AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT, AWS_ENDPOINT_URL or the
// profile's endpoint_url settings; "" for AWS's own).
type EICESigning struct {
	Credentials  aws.CredentialsProvider
	Region       string
	BaseEndpoint string
	// HTTPClient dials the tunnel's websocket (Client.HTTPClient).
	HTTPClient *http.Client
}

// EICESigning returns the client's signing configuration for OpenTunnel.
func (c *Client) EICESigning() EICESigning {
	o := c.eic().Options()
	return EICESigning{Credentials: o.Credentials, Region: o.Region, BaseEndpoint: aws.ToString(o.BaseEndpoint), HTTPClient: c.http}
}
