package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// VPCSpec is one VPC.
type VPCSpec struct {
	ID   string            `toml:"id"`
	CIDR string            `toml:"cidr"`
	Tags map[string]string `toml:"tags"`
}

// SubnetSpec is one subnet.
type SubnetSpec struct {
	ID    string `toml:"id"`
	VpcID string `toml:"vpc_id"`
	CIDR  string `toml:"cidr"`
	AZ    string `toml:"az"` // default <region>a
	// Public subnets route to an internet gateway: their instances may
	// have public IPs.
	Public bool              `toml:"public"`
	Tags   map[string]string `toml:"tags"`
}

// EndpointSpec is one EC2 Instance Connect Endpoint.
type EndpointSpec struct {
	ID               string            `toml:"id"`
	SubnetID         string            `toml:"subnet_id"`
	State            string            `toml:"state"` // default create-complete
	PreserveClientIP bool              `toml:"preserve_client_ip"`
	Tags             map[string]string `toml:"tags"`
}

// EndpointStates are the states an EC2 Instance Connect Endpoint can be in.
var EndpointStates = []string{"create-in-progress", "create-complete", "create-failed", "delete-in-progress",
	"delete-complete", "delete-failed", "update-in-progress", "update-complete", "update-failed"}

// checkNetwork validates the VPCs, subnets and endpoints.
func (f *File) checkNetwork() error {
	vpcs, err := f.checkVPCs()
	if err != nil {
		return err
	}
	subnets, err := f.checkSubnets(vpcs)
	if err != nil {
		return err
	}
	return f.checkEndpoints(subnets)
}

// checkVPCs validates the VPCs and returns their blocks by id.
func (f *File) checkVPCs() (map[string]netip.Prefix, error) {
	vpcs := map[string]netip.Prefix{}
	for i, v := range f.VPCs {
		where := fmt.Sprintf("vpcs[%d]", i)
		if !strings.HasPrefix(v.ID, "vpc-") || !resIDPattern.MatchString(v.ID) {
			return nil, fmt.Errorf("%s: id %q: want vpc- and 8 or 17 lower-case hex digits", where, v.ID)
		}
		where = fmt.Sprintf("vpcs[%d] (%s)", i, v.ID)
		if _, dup := vpcs[v.ID]; dup {
			return nil, fmt.Errorf("%s: duplicate id", where)
		}
		p, err := privateCIDR(v.CIDR, 16, 28)
		if err != nil {
			return nil, fmt.Errorf("%s: cidr: %w", where, err)
		}
		vpcs[v.ID] = p
		if err := checkTags(v.Tags, where+".tags"); err != nil {
			return nil, err
		}
	}
	return vpcs, nil
}

// checkSubnets validates the subnets, each inside its VPC (vpcs), and
// returns their ids.
func (f *File) checkSubnets(vpcs map[string]netip.Prefix) (map[string]bool, error) {
	if len(f.Subnets) > 0 && len(f.VPCs) == 0 {
		return nil, errors.New("[[subnets]] need their [[vpcs]]: declare the VPC (id and cidr) each subnet's vpc_id names")
	}
	subnets := map[string]bool{}
	for i := range f.Subnets {
		sn := &f.Subnets[i]
		where, err := checkID(fmt.Sprintf("subnets[%d]", i), sn.ID, subnetIDPattern, "subnet- and 8 or 17 lower-case hex digits", subnets)
		if err != nil {
			return nil, err
		}
		vp, ok := vpcs[sn.VpcID]
		if !ok {
			return nil, fmt.Errorf("%s: vpc_id %q names no [[vpcs]] entry", where, sn.VpcID)
		}
		p, err := privateCIDR(sn.CIDR, 16, 28)
		if err != nil {
			return nil, fmt.Errorf("%s: cidr: %w", where, err)
		}
		if !vp.Contains(p.Addr()) || p.Bits() < vp.Bits() {
			return nil, fmt.Errorf("%s: cidr %s is not inside its VPC's %s", where, p, vp)
		}
		for _, other := range f.Subnets[:i] {
			if op, err := netip.ParsePrefix(other.CIDR); err == nil && other.VpcID == sn.VpcID && op.Overlaps(p) {
				return nil, fmt.Errorf("%s: cidr %s overlaps subnet %s (%s)", where, p, other.ID, op)
			}
		}
		if sn.AZ == "" {
			sn.AZ = f.Region + "a"
		}
		if !azPattern.MatchString(sn.AZ) || !strings.HasPrefix(sn.AZ, f.Region) {
			return nil, fmt.Errorf("%s: az %q: want an availability zone of %s", where, sn.AZ, f.Region)
		}
		if err := checkTags(sn.Tags, where+".tags"); err != nil {
			return nil, err
		}
	}
	return subnets, nil
}

// checkEndpoints validates the EC2 Instance Connect Endpoints, each in one
// of the subnets.
func (f *File) checkEndpoints(subnets map[string]bool) error {
	if len(f.Endpoints) > 0 && len(f.Subnets) == 0 {
		return errors.New("[[endpoints]] need [[subnets]] (and [[vpcs]]): an endpoint lives in a subnet")
	}
	eps := map[string]bool{}
	for i := range f.Endpoints {
		e := &f.Endpoints[i]
		where, err := checkID(fmt.Sprintf("endpoints[%d]", i), e.ID, endpointIDPattern, "eice- and 8 to 17 lower-case hex digits", eps)
		if err != nil {
			return err
		}
		if !subnets[e.SubnetID] {
			return fmt.Errorf("%s: subnet_id %q names no [[subnets]] entry", where, e.SubnetID)
		}
		if e.State == "" {
			e.State = "create-complete"
		}
		known := false
		for _, st := range EndpointStates {
			known = known || st == e.State
		}
		if !known {
			return fmt.Errorf("%s: state %q: want one of %s", where, e.State, strings.Join(EndpointStates, ", "))
		}
		if err := checkTags(e.Tags, where+".tags"); err != nil {
			return err
		}
	}
	return nil
}

// privateCIDR parses an IPv4 RFC 1918 CIDR block with a prefix length
// from minBits to maxBits, given in its canonical form.
func privateCIDR(s string, minBits, maxBits int) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || !p.Addr().IsPrivate() {
		return netip.Prefix{}, fmt.Errorf("%q: want a private IPv4 CIDR block like 10.0.0.0/16", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q: host bits are set; did you mean %s?", s, p.Masked())
	}
	if p.Bits() < minBits || p.Bits() > maxBits {
		return netip.Prefix{}, fmt.Errorf("%q: the prefix length must be /%d to /%d", s, minBits, maxBits)
	}
	return p, nil
}

// subnet returns the declared subnet with the given id.
func (f *File) subnet(id string) (SubnetSpec, bool) {
	for _, sn := range f.Subnets {
		if sn.ID == id {
			return sn, true
		}
	}
	return SubnetSpec{}, false
}

// PublicDNS returns the public DNS name EC2 gives an address in region.
func PublicDNS(region, ip string) string {
	return "ec2-" + strings.ReplaceAll(ip, ".", "-") + "." + publicDomain(region)
}

// endpoint resolves an endpoint in subnet sn. Its DNS name has AWS's
// shape, eice-ID.HASH.ec2-instance-connect-endpoint.REGION.amazonaws.com;
// clients never resolve it against the sandbox (they use the endpoint URL).
func (f *File) endpoint(e EndpointSpec, sn SubnetSpec) world.Endpoint {
	h := fnv(e.ID)
	domain := "ec2-instance-connect-endpoint." + f.Region + ".amazonaws.com"
	tags := map[string]string{}
	for k, v := range e.Tags {
		tags[k] = v
	}
	return world.Endpoint{
		ID: e.ID, SubnetID: e.SubnetID, VpcID: sn.VpcID, AZ: sn.AZ, State: e.State,
		DNSName:            fmt.Sprintf("%s.%08x.%s", e.ID, uint32(h), domain),
		FipsDNSName:        fmt.Sprintf("%s.%08x.fips.%s", e.ID, uint32(h), domain),
		NetworkInterfaceID: fmt.Sprintf("eni-%017x", h>>4),
		SecurityGroupID:    fmt.Sprintf("sg-%017x", (h>>8)^0x5a5a5a5a),
		PreserveClientIP:   e.PreserveClientIP,
		CreatedAt:          launch,
		Tags:               tags,
	}
}

func fnv(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func internalDomain(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

func publicDomain(region string) string {
	if region == "us-east-1" {
		return "compute-1.amazonaws.com"
	}
	return region + ".compute.amazonaws.com"
}
