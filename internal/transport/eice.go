package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/eice"
	"github.com/jitssh/jitssh/internal/targets"
)

// EndpointAPI is what the eice transport asks of AWS: the VPC's Instance
// Connect Endpoints and the signing configuration for OpenTunnel.
type EndpointAPI interface {
	InstanceConnectEndpoints(ctx context.Context, filters map[string][]string) ([]awsapi.InstanceConnectEndpoint, error)
	EICESigning() awsapi.EICESigning
}

// EndpointLister is the EC2 call FindEndpoint makes.
type EndpointLister interface {
	InstanceConnectEndpoints(ctx context.Context, filters map[string][]string) ([]awsapi.InstanceConnectEndpoint, error)
}

// EICE tunnels through an EC2 Instance Connect Endpoint in the instance's
// VPC, chosen as the AWS CLI does; every Dial presigns a fresh URL.
type EICE struct {
	API EndpointAPI
	// MaxDuration is the tunnel's maxTunnelDuration in seconds; 0 is the
	// service's default (3600).
	MaxDuration int
	// Endpoint, if set, is the endpoint to use (skipping discovery).
	Endpoint *eice.Endpoint
	// Timeouts bound the endpoint lookup (API) and the tunnel's opening
	// (Open).
	Timeouts Timeouts
}

// Name implements Transport.
func (EICE) Name() string { return NameEICE }

// Dial implements Transport.
func (t EICE) Dial(ctx context.Context, inst targets.Instance, port int) (Conn, error) {
	ep := t.Endpoint
	if ep == nil {
		var found eice.Endpoint
		err := Within(ctx, t.Timeouts.APITimeout(), "EC2 to list the Instance Connect Endpoints of "+dash(inst.VpcID), CauseAPI, func(ctx context.Context) (err error) {
			found, err = FindEndpoint(ctx, t.API, inst)
			return err
		})
		if err != nil {
			return nil, err
		}
		ep = &found
	}
	s := t.API.EICESigning()
	d := &eice.Dialer{Credentials: s.Credentials, Region: s.Region, BaseEndpoint: s.BaseEndpoint, HTTPClient: s.HTTPClient}
	var c Conn
	err := Within(ctx, t.Timeouts.OpenTimeout(), fmt.Sprintf("EC2 Instance Connect Endpoint %s to open a tunnel to %s (%s port %d)", ep.ID, inst.ID, inst.PrivateIP, port),
		"the endpoint did not connect: a security group of the endpoint or the instance may not allow it, or the instance is not listening on that port",
		func(ctx context.Context) (err error) {
			c, err = d.Dial(ctx, *ep, eice.Target{PrivateIP: inst.PrivateIP, RemotePort: port, MaxDuration: t.MaxDuration})
			return err
		})
	if err != nil {
		var te *TimeoutError
		if errors.As(err, &te) {
			return nil, err
		}
		return nil, fmt.Errorf("eice to %s: %w", inst.ID, err)
	}
	return c, nil
}

// FindEndpoint returns the EC2 Instance Connect Endpoint the AWS CLI would
// use for inst: a usable one in its subnet, else the first in its VPC.
func FindEndpoint(ctx context.Context, api EndpointLister, inst targets.Instance) (eice.Endpoint, error) {
	if inst.VpcID == "" {
		return eice.Endpoint{}, fmt.Errorf("%s is in no VPC that EC2 reports: EC2 Instance Connect Endpoints cannot reach it", inst.ID)
	}
	found, err := api.InstanceConnectEndpoints(ctx, map[string][]string{"vpc-id": {inst.VpcID}, "state": eice.UsableStates})
	if err != nil {
		return eice.Endpoint{}, err
	}
	eps := make([]eice.Endpoint, len(found))
	for i, e := range found {
		eps[i] = eice.Endpoint{ID: e.ID, DNSName: e.DNSName, FIPSName: e.FIPSDNSName, VpcID: e.VpcID, SubnetID: e.SubnetID, State: e.State}
	}
	ep, err := eice.Choose(eps, inst.VpcID, inst.SubnetID)
	if err != nil {
		return eice.Endpoint{}, fmt.Errorf("%s: %w: create one (aws ec2 create-instance-connect-endpoint --subnet-id %s) or use another transport", inst.ID, err, inst.SubnetID)
	}
	return ep, nil
}
