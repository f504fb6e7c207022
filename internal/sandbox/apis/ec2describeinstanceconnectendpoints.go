package apis

import (
	"encoding/xml"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

var endpointIDPattern = regexp.MustCompile(`^eice-[0-9a-f]{8,17}$`)

type describeInstanceConnectEndpointsResponse struct {
	XMLName   xml.Name  `xml:"DescribeInstanceConnectEndpointsResponse"`
	Xmlns     string    `xml:"xmlns,attr"`
	RequestID string    `xml:"requestId"`
	Endpoints []eiceXML `xml:"instanceConnectEndpointSet>item"`
	NextToken string    `xml:"nextToken,omitempty"`
}

type eiceDNSNames struct {
	DNSName     string `xml:"dnsName"`
	FipsDNSName string `xml:"fipsDnsName"`
}

type eiceXML struct {
	OwnerID                    string   `xml:"ownerId"`
	InstanceConnectEndpointID  string   `xml:"instanceConnectEndpointId"`
	InstanceConnectEndpointArn string   `xml:"instanceConnectEndpointArn"`
	State                      string   `xml:"state"`
	StateMessage               string   `xml:"stateMessage"`
	DNSName                    string   `xml:"dnsName"`
	FipsDNSName                string   `xml:"fipsDnsName"`
	NetworkInterfaceIDs        []string `xml:"networkInterfaceIdSet>item"`
	VpcID                      string   `xml:"vpcId"`
	AvailabilityZone           string   `xml:"availabilityZone"`
	AvailabilityZoneID         string   `xml:"availabilityZoneId"`
	CreatedAt                  string   `xml:"createdAt"`
	SubnetID                   string   `xml:"subnetId"`
	PreserveClientIP           bool     `xml:"preserveClientIp"`
	SecurityGroupIDs           []string `xml:"securityGroupIdSet>item"`
	TagSet                     []ec2Tag `xml:"tagSet>item"`
	IPAddressType              string   `xml:"ipAddressType"`
	PublicDNSNames             struct {
		IPv4 eiceDNSNames `xml:"ipv4"`
	} `xml:"publicDnsNames"`
}

// endpointARN returns the ARN of an EC2 Instance Connect Endpoint.
func endpointARN(region, account, id string) string {
	return "arn:aws:ec2:" + region + ":" + account + ":instance-connect-endpoint/" + id
}

// azID returns the zone id AWS pairs with an AZ name (use1-az1 for
// us-east-1a, …): stable, not AWS's per-account shuffle.
func azID(az string) string {
	if az == "" {
		return ""
	}
	region, letter := az[:len(az)-1], az[len(az)-1]
	parts := strings.Split(region, "-")
	if len(parts) < 3 {
		return ""
	}
	short := parts[0] // us, eu, ap, …
	for _, p := range parts[1 : len(parts)-1] {
		// east → e, northeast → ne, central → c
		if rest, ok := strings.CutPrefix(p, "north"); ok && rest != "" {
			short += "n" + rest[:1]
		} else if rest, ok := strings.CutPrefix(p, "south"); ok && rest != "" {
			short += "s" + rest[:1]
		} else {
			short += p[:1]
		}
	}
	return short + parts[len(parts)-1] + "-az" + strconv.Itoa(int(letter-'a')+1)
}

// describeInstanceConnectEndpoints serves ec2:DescribeInstanceConnectEndpoints.
func (h *handler) describeInstanceConnectEndpoints(c *call) (any, error) {
	f := c.form
	for k := range f {
		switch {
		case k == "Action", k == "Version", k == "MaxResults", k == "NextToken", k == "DryRun",
			strings.HasPrefix(k, "InstanceConnectEndpointId."), strings.HasPrefix(k, "Filter."):
		default:
			return nil, awsproto.Errorf("UnknownParameter", "The parameter %s is not recognized", k)
		}
	}
	ids, err := awsproto.List(f, "InstanceConnectEndpointId")
	if err != nil {
		return nil, err
	}
	rawFilters, err := awsproto.Filters(f, "Filter")
	if err != nil {
		return nil, err
	}
	maxResults := 0
	if s, ok := f["MaxResults"]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil {
			return nil, awsproto.Errorf("InvalidParameterValue", "Invalid value '%s' for maxResults", s[0])
		}
		if n < 1 || n > 50 {
			return nil, awsproto.Errorf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between 1 and 50.", n)
		}
		maxResults = n
	}
	after := ""
	if tok, ok := f["NextToken"]; ok {
		if after, ok = decodePageToken(tok[0]); !ok {
			return nil, awsproto.Errorf("InvalidParameterValue", "Invalid value '%s' for nextToken", tok[0])
		}
	}
	filters := make([]func(world.Endpoint) bool, 0, len(rawFilters))
	for _, rf := range rawFilters {
		m, err := compileEndpointFilter(rf)
		if err != nil {
			return nil, err
		}
		filters = append(filters, m)
	}
	for _, id := range ids {
		if !endpointIDPattern.MatchString(id) {
			return nil, awsproto.Errorf("InvalidInstanceConnectEndpointId.Malformed", "Invalid id: \"%s\"", id)
		}
	}
	if err := h.authorize(c, "ec2:DescribeInstanceConnectEndpoints", "*", nil); err != nil {
		return nil, err
	}
	if f.Get("DryRun") == "true" {
		return nil, &awsproto.Error{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.", Status: http.StatusPreconditionFailed}
	}

	candidates := h.world.Endpoints() // ordered by ID
	if len(ids) > 0 {
		if candidates, err = pickEndpoints(candidates, ids); err != nil {
			return nil, err
		}
	}
	resp := &describeInstanceConnectEndpointsResponse{Xmlns: awsproto.EC2Namespace, RequestID: c.reqID}
outer:
	for _, e := range candidates {
		if after != "" && e.ID <= after {
			continue
		}
		for _, m := range filters {
			if !m(e) {
				continue outer
			}
		}
		if maxResults > 0 && len(resp.Endpoints) == maxResults {
			resp.NextToken = encodePageToken(resp.Endpoints[len(resp.Endpoints)-1].InstanceConnectEndpointID)
			break
		}
		resp.Endpoints = append(resp.Endpoints, h.eiceXML(e))
	}
	return resp, nil
}

// pickEndpoints returns the endpoints ids name, in all's order; every id
// must exist.
func pickEndpoints(all []world.Endpoint, ids []string) ([]world.Endpoint, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var picked []world.Endpoint
	for _, e := range all {
		if want[e.ID] {
			picked = append(picked, e)
			delete(want, e.ID)
		}
	}
	if len(want) > 0 {
		var missing []string
		for id := range want {
			missing = append(missing, id)
		}
		sort.Strings(missing)
		return nil, awsproto.Errorf("InvalidInstanceConnectEndpointId.NotFound", "The instance connect endpoint ID '%s' does not exist", strings.Join(missing, ", "))
	}
	return picked, nil
}

func (h *handler) eiceXML(e world.Endpoint) eiceXML {
	x := eiceXML{
		OwnerID: h.world.Account, InstanceConnectEndpointID: e.ID,
		InstanceConnectEndpointArn: endpointARN(h.world.Region, h.world.Account, e.ID),
		State:                      e.State, DNSName: e.DNSName, FipsDNSName: e.FipsDNSName,
		NetworkInterfaceIDs: []string{e.NetworkInterfaceID}, VpcID: e.VpcID,
		AvailabilityZone: e.AZ, AvailabilityZoneID: azID(e.AZ),
		CreatedAt: e.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), SubnetID: e.SubnetID,
		PreserveClientIP: e.PreserveClientIP, SecurityGroupIDs: []string{e.SecurityGroupID},
		IPAddressType: "ipv4",
	}
	x.PublicDNSNames.IPv4 = eiceDNSNames{DNSName: e.DNSName, FipsDNSName: e.FipsDNSName}
	keys := make([]string, 0, len(e.Tags))
	for k := range e.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		x.TagSet = append(x.TagSet, ec2Tag{Key: k, Value: e.Tags[k]})
	}
	return x
}

// compileEndpointFilter returns the matcher of one filter of
// DescribeInstanceConnectEndpoints (instance-connect-endpoint-id, state,
// subnet-id, vpc-id, tag:K, tag-key, tag-value), with EC2's wildcards.
func compileEndpointFilter(f awsproto.Filter) (func(world.Endpoint) bool, error) {
	var attrs func(e world.Endpoint) []string
	switch f.Name {
	case "instance-connect-endpoint-id":
		attrs = func(e world.Endpoint) []string { return []string{e.ID} }
	case "state":
		attrs = func(e world.Endpoint) []string { return []string{e.State} }
	case "subnet-id":
		attrs = func(e world.Endpoint) []string { return []string{e.SubnetID} }
	case "vpc-id":
		attrs = func(e world.Endpoint) []string { return []string{e.VpcID} }
	case "tag-key":
		attrs = func(e world.Endpoint) []string {
			out := make([]string, 0, len(e.Tags))
			for k := range e.Tags {
				out = append(out, k)
			}
			return out
		}
	case "tag-value":
		attrs = func(e world.Endpoint) []string {
			out := make([]string, 0, len(e.Tags))
			for _, v := range e.Tags {
				out = append(out, v)
			}
			return out
		}
	default:
		key, ok := strings.CutPrefix(f.Name, "tag:")
		if !ok || key == "" {
			return nil, awsproto.Errorf("InvalidParameterValue", "The filter '%s' is invalid", f.Name)
		}
		attrs = func(e world.Endpoint) []string {
			if v, ok := e.Tags[key]; ok {
				return []string{v}
			}
			return nil
		}
	}
	if len(f.Values) == 0 {
		return nil, awsproto.Errorf("InvalidParameterValue", "The filter '%s' must have at least one value", f.Name)
	}
	return func(e world.Endpoint) bool {
		for _, a := range attrs(e) {
			for _, p := range f.Values {
				if wildcardMatch(p, a) {
					return true
				}
			}
		}
		return false
	}, nil
}
