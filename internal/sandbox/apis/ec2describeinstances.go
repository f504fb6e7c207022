package apis

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// instanceIDPattern is the shape of an EC2 instance id: i- and 8 or 17
// lower-case hex digits.
var instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

type describeInstancesResponse struct {
	XMLName      xml.Name         `xml:"DescribeInstancesResponse"`
	Xmlns        string           `xml:"xmlns,attr"`
	RequestID    string           `xml:"requestId"`
	Reservations []ec2Reservation `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

type ec2Reservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	GroupSet      struct{}      `xml:"groupSet"`
	Instances     []ec2Instance `xml:"instancesSet>item"`
}

type ec2Instance struct {
	InstanceID    string `xml:"instanceId"`
	ImageID       string `xml:"imageId"`
	InstanceState struct {
		Code int    `xml:"code"`
		Name string `xml:"name"`
	} `xml:"instanceState"`
	PrivateDNSName string   `xml:"privateDnsName"`
	DNSName        string   `xml:"dnsName"`
	Reason         string   `xml:"reason"`
	AmiLaunchIndex int      `xml:"amiLaunchIndex"`
	ProductCodes   struct{} `xml:"productCodes"`
	InstanceType   string   `xml:"instanceType"`
	LaunchTime     string   `xml:"launchTime"`
	Placement      struct {
		AvailabilityZone string `xml:"availabilityZone"`
		GroupName        string `xml:"groupName"`
		Tenancy          string `xml:"tenancy"`
	} `xml:"placement"`
	Platform   string `xml:"platform,omitempty"`
	Monitoring struct {
		State string `xml:"state"`
	} `xml:"monitoring"`
	SubnetID           string   `xml:"subnetId,omitempty"`
	VpcID              string   `xml:"vpcId,omitempty"`
	PrivateIPAddress   string   `xml:"privateIpAddress,omitempty"`
	IPAddress          string   `xml:"ipAddress,omitempty"`
	SourceDestCheck    bool     `xml:"sourceDestCheck"`
	GroupSet           struct{} `xml:"groupSet"`
	Architecture       string   `xml:"architecture"`
	RootDeviceType     string   `xml:"rootDeviceType"`
	RootDeviceName     string   `xml:"rootDeviceName"`
	VirtualizationType string   `xml:"virtualizationType"`
	TagSet             []ec2Tag `xml:"tagSet>item"`
	Hypervisor         string   `xml:"hypervisor"`
	EbsOptimized       bool     `xml:"ebsOptimized"`
	EnaSupport         bool     `xml:"enaSupport"`
	MetadataOptions    struct {
		State                   string `xml:"state"`
		HTTPTokens              string `xml:"httpTokens"`
		HTTPPutResponseHopLimit int    `xml:"httpPutResponseHopLimit"`
		HTTPEndpoint            string `xml:"httpEndpoint"`
	} `xml:"metadataOptions"`
	PlatformDetails string `xml:"platformDetails"`
	UsageOperation  string `xml:"usageOperation"`
}

type ec2Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// describeInstancesParams are the parameters DescribeInstances accepts
// besides InstanceId.N and Filter.*.
func describeInstancesParam(k string) bool {
	switch k {
	case "Action", "Version", "MaxResults", "NextToken", "DryRun", "IncludeManagedResources":
		return true
	}
	return strings.HasPrefix(k, "InstanceId.") || strings.HasPrefix(k, "Filter.")
}

// describeInstances serves ec2:DescribeInstances.
func (h *handler) describeInstances(c *call) (any, error) {
	f := c.form
	for k := range f {
		if !describeInstancesParam(k) {
			return nil, awsproto.Errorf("UnknownParameter", "The parameter %s is not recognized", k)
		}
	}
	ids, err := awsproto.List(f, "InstanceId")
	if err != nil {
		return nil, err
	}
	rawFilters, err := awsproto.Filters(f, "Filter")
	if err != nil {
		return nil, err
	}
	maxResults, err := ec2MaxResults(f, ids)
	if err != nil {
		return nil, err
	}
	after := ""
	if tok, ok := f["NextToken"]; ok {
		if after, ok = decodePageToken(tok[0]); !ok {
			return nil, awsproto.Errorf("InvalidParameterValue", "Invalid value '%s' for nextToken", tok[0])
		}
	}
	filters := make([]ec2Filter, 0, len(rawFilters))
	for _, rf := range rawFilters {
		cf, err := compileEC2Filter(rf)
		if err != nil {
			return nil, err
		}
		filters = append(filters, cf)
	}
	if err := h.authorize(c, "ec2:DescribeInstances", "*", nil); err != nil {
		return nil, err
	}
	if dry := f.Get("DryRun"); dry == "true" {
		return nil, &awsproto.Error{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.", Status: http.StatusPreconditionFailed}
	}

	var candidates []world.Instance
	if len(ids) > 0 {
		if candidates, err = h.instancesByID(ids); err != nil {
			return nil, err
		}
	} else {
		candidates = h.world.Instances() // ordered by ID
	}

	resp := &describeInstancesResponse{Xmlns: awsproto.EC2Namespace, RequestID: c.reqID}
outer:
	for _, in := range candidates {
		if in.Managed || after != "" && in.ID <= after {
			continue // managed (mi-) instances are SSM's, not EC2's
		}
		v := viewOf(in, h.world.Account)
		for _, flt := range filters {
			if !flt.match(v) {
				continue outer
			}
		}
		if maxResults > 0 && len(resp.Reservations) == maxResults {
			resp.NextToken = encodePageToken(resp.Reservations[len(resp.Reservations)-1].Instances[0].InstanceID)
			break
		}
		resp.Reservations = append(resp.Reservations, ec2Reservation{
			ReservationID: v.ReservationID,
			OwnerID:       v.OwnerID,
			Instances:     []ec2Instance{ec2InstanceXML(v)},
		})
	}
	return resp, nil
}

// ec2MaxResults is the MaxResults parameter (0 if absent), checked as
// EC2 does: not with instance ids, 5 to 1000.
func ec2MaxResults(f url.Values, ids []string) (int, error) {
	s, ok := f["MaxResults"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(s[0])
	if err != nil {
		return 0, awsproto.Errorf("InvalidParameterValue", "Invalid value '%s' for maxResults", s[0])
	}
	if len(ids) > 0 {
		return 0, awsproto.Errorf("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	if n < 5 {
		return 0, awsproto.Errorf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value greater than 5.", n)
	}
	if n > 1000 {
		return 0, awsproto.Errorf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value less than 1000.", n)
	}
	return n, nil
}

// instancesByID returns the instances ids name (each once, ordered by
// id): every id must be well-formed and exist.
func (h *handler) instancesByID(ids []string) ([]world.Instance, error) {
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return nil, awsproto.Errorf("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
	}
	var candidates []world.Instance
	seen := map[string]bool{}
	var missing []string
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		in, ok := h.world.Instance(id)
		if !ok {
			missing = append(missing, id)
			continue
		}
		candidates = append(candidates, in)
	}
	switch len(missing) {
	case 0:
	case 1:
		return nil, awsproto.Errorf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing[0])
	default:
		return nil, awsproto.Errorf("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
	sort.Slice(candidates, func(a, b int) bool { return candidates[a].ID < candidates[b].ID })
	return candidates, nil
}

func ec2InstanceXML(v instanceView) ec2Instance {
	var x ec2Instance
	x.InstanceID = v.ID
	x.ImageID = v.ImageID
	x.InstanceState.Code = stateCode(v.State)
	x.InstanceState.Name = v.State
	x.PrivateDNSName = v.PrivateDNS
	x.DNSName = v.PublicDNS
	x.InstanceType = v.InstanceType
	x.LaunchTime = v.LaunchTime.UTC().Format("2006-01-02T15:04:05.000Z")
	x.Placement.AvailabilityZone = v.AZ
	x.Placement.Tenancy = "default"
	x.Monitoring.State = "disabled"
	x.SubnetID = v.SubnetID
	x.VpcID = v.VpcID
	x.PrivateIPAddress = v.PrivateIP
	x.IPAddress = v.PublicIP
	x.SourceDestCheck = true
	x.Architecture = "x86_64"
	x.RootDeviceType = "ebs"
	x.RootDeviceName = "/dev/xvda"
	x.VirtualizationType = "hvm"
	x.Hypervisor = "xen"
	x.EbsOptimized = true
	x.EnaSupport = true
	x.MetadataOptions.State = "applied"
	x.MetadataOptions.HTTPTokens = "required"
	x.MetadataOptions.HTTPPutResponseHopLimit = 2
	x.MetadataOptions.HTTPEndpoint = "enabled"
	x.PlatformDetails = "Linux/UNIX"
	x.UsageOperation = "RunInstances"
	if v.Platform == "windows" {
		x.Platform = "windows"
		x.PlatformDetails = "Windows"
		x.UsageOperation = "RunInstances:0002"
		x.RootDeviceName = "/dev/sda1"
	}
	switch v.State {
	case "stopped", "stopping":
		x.Reason = "User initiated"
	}
	keys := make([]string, 0, len(v.Tags))
	for k := range v.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		x.TagSet = append(x.TagSet, ec2Tag{Key: k, Value: v.Tags[k]})
	}
	return x
}

// encodePageToken returns an opaque pagination token resuming after the
// resource id.
func encodePageToken(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("jitssh-sandbox-page:" + after))
}

// decodePageToken reverses encodePageToken.
func decodePageToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", false
	}
	after, ok := strings.CutPrefix(string(b), "jitssh-sandbox-page:")
	return after, ok && after != ""
}
