package apis

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// AgentVersion is the SSM agent version the sandbox's instances report.
const AgentVersion = "3.3.987.0"

// defaultInstanceInformationPage is the page size when MaxResults is
// absent. AWS pages DescribeInstanceInformation by default; a small page
// makes clients that forget NextToken fail visibly in the sandbox too.
const defaultInstanceInformationPage = 10

type instanceInformation struct {
	InstanceID       string  `json:"InstanceId"`
	PingStatus       string  `json:"PingStatus"`
	LastPingDateTime float64 `json:"LastPingDateTime"`
	AgentVersion     string  `json:"AgentVersion"`
	IsLatestVersion  bool    `json:"IsLatestVersion"`
	PlatformType     string  `json:"PlatformType"`
	PlatformName     string  `json:"PlatformName"`
	PlatformVersion  string  `json:"PlatformVersion"`
	ResourceType     string  `json:"ResourceType"`
	IPAddress        string  `json:"IPAddress,omitempty"`
	ComputerName     string  `json:"ComputerName,omitempty"`
	SourceID         string  `json:"SourceId"`
	SourceType       string  `json:"SourceType"`
	// Managed (hybrid) instances only.
	Name             string   `json:"Name,omitempty"`
	ActivationID     string   `json:"ActivationId,omitempty"`
	IamRole          string   `json:"IamRole,omitempty"`
	RegistrationDate *float64 `json:"RegistrationDate,omitempty"`
}

type describeInstanceInformationOutput struct {
	InstanceInformationList []instanceInformation `json:"InstanceInformationList"`
	NextToken               string                `json:"NextToken,omitempty"`
}

// ssmInfo returns what SSM reports about an instance's agent.
func (h *handler) ssmInfo(in world.Instance) instanceInformation {
	info := instanceInformation{
		InstanceID:      in.ID,
		PingStatus:      "ConnectionLost",
		AgentVersion:    AgentVersion,
		PlatformType:    "Linux",
		PlatformName:    "Amazon Linux",
		PlatformVersion: "2023",
		ResourceType:    "EC2Instance",
		IPAddress:       in.PrivateIP,
		ComputerName:    in.Hostname,
		SourceID:        in.ID,
		SourceType:      "AWS::EC2::Instance",
	}
	if in.Managed {
		// As AWS reports a server registered with a hybrid activation.
		info.ResourceType, info.SourceType = "ManagedInstance", "AWS::SSM::ManagedInstance"
		info.Name, info.IamRole = in.Name(), managedInstanceRole
		info.ActivationID = activationID(in.ID)
		reg := float64(in.LaunchTime.UnixMilli()) / 1000
		info.RegistrationDate = &reg
		info.PlatformName, info.PlatformVersion = "Ubuntu", "22.04"
	}
	last := in.LaunchTime
	if !in.LastPing.IsZero() {
		last = in.LastPing
	}
	if in.State == "running" && in.SSMOnline {
		info.PingStatus = "Online"
		last = h.world.Now()
	}
	info.LastPingDateTime = float64(last.UnixMilli()) / 1000
	if in.Platform == "windows" {
		info.PlatformType, info.PlatformName, info.PlatformVersion = "Windows", "Microsoft Windows Server 2022 Datacenter", "10.0.20348"
	}
	return info
}

// managedInstanceRole is the service role of the sandbox's hybrid
// activation, as AWS's setup guide names it.
const managedInstanceRole = "SSMServiceRole"

// activationID returns a stable activation id (a UUID) for a managed
// instance.
func activationID(id string) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	x := fmt.Sprintf("%016x%016x", h, h^0x9e3779b97f4a7c15)
	return x[:8] + "-" + x[8:12] + "-4" + x[13:16] + "-a" + x[17:20] + "-" + x[20:32]
}

// infoFilter is one DescribeInstanceInformation filter: an instance
// matches when its attribute equals one of the values.
type infoFilter struct {
	tag    bool // tag-key or tag:KEY
	values []string
	attrs  func(in world.Instance, info instanceInformation) []string
}

func (f infoFilter) match(in world.Instance, info instanceInformation) bool {
	for _, a := range f.attrs(in, info) {
		for _, v := range f.values {
			if a == v {
				return true
			}
		}
	}
	return false
}

// compileInfoFilter returns the filter for key; tags are allowed only in
// the newer Filters list (tagsAllowed).
func compileInfoFilter(key string, values []string, tagsAllowed bool) (infoFilter, error) {
	one := func(get func(world.Instance, instanceInformation) string) func(world.Instance, instanceInformation) []string {
		return func(in world.Instance, info instanceInformation) []string { return []string{get(in, info)} }
	}
	f := infoFilter{values: values}
	switch key {
	case "InstanceIds":
		f.attrs = one(func(in world.Instance, _ instanceInformation) string { return in.ID })
	case "AgentVersion":
		f.attrs = one(func(_ world.Instance, i instanceInformation) string { return i.AgentVersion })
	case "PingStatus":
		f.attrs = one(func(_ world.Instance, i instanceInformation) string { return i.PingStatus })
	case "PlatformTypes":
		f.attrs = one(func(_ world.Instance, i instanceInformation) string { return i.PlatformType })
	case "ResourceType":
		f.attrs = one(func(_ world.Instance, i instanceInformation) string { return i.ResourceType })
	case "ActivationIds", "IamRole", "AssociationStatus":
		f.attrs = func(world.Instance, instanceInformation) []string { return nil }
	case "tag-key":
		if !tagsAllowed {
			return f, awsproto.Errorf("InvalidFilterKey", "The filter key %s is not valid.", key)
		}
		f.tag = true
		f.attrs = func(in world.Instance, _ instanceInformation) []string {
			out := make([]string, 0, len(in.Tags))
			for k := range in.Tags {
				out = append(out, k)
			}
			return out
		}
	default:
		tag, ok := strings.CutPrefix(key, "tag:")
		if !ok || tag == "" || !tagsAllowed {
			return f, awsproto.Errorf("InvalidFilterKey", "The filter key %s is not valid.", key)
		}
		f.tag = true
		f.attrs = func(in world.Instance, _ instanceInformation) []string {
			if v, ok := in.Tags[tag]; ok {
				return []string{v}
			}
			return nil
		}
	}
	if len(values) == 0 || len(values) > 100 {
		return f, awsproto.Errorf("InvalidInstanceInformationFilterValue", "Filter %s must have between 1 and 100 values.", key)
	}
	for _, v := range values {
		if v == "" {
			return f, awsproto.Errorf("InvalidInstanceInformationFilterValue", "Filter %s has an empty value.", key)
		}
	}
	if key == "ResourceType" {
		// As AWS answers (boto3 #3027, aws-sdk #130).
		if len(values) > 1 {
			return f, awsproto.Errorf("InvalidInstanceInformationFilterValue", "ResourceType filter may contain only one value.")
		}
		if values[0] != "EC2Instance" && values[0] != "ManagedInstance" {
			return f, awsproto.Errorf("InvalidInstanceInformationFilterValue", "ResourceType filter is invalid, valid values are EC2Instance, ManagedInstance")
		}
	}
	return f, nil
}

// describeInstanceInformation serves ssm:DescribeInstanceInformation over
// every instance that is not terminated (each runs an agent that has
// registered at some point).
func (h *handler) describeInstanceInformation(c *call) (any, error) {
	in, err := parseJSONObject(c.body)
	if err != nil {
		return nil, err
	}
	maxResults, err := in.int("MaxResults")
	if err != nil {
		return nil, err
	}
	next, err := in.str("NextToken")
	if err != nil {
		return nil, err
	}
	oldFilters, err := in.objList("InstanceInformationFilterList")
	if err != nil {
		return nil, err
	}
	newFilters, err := in.objList("Filters")
	if err != nil {
		return nil, err
	}

	if maxResults != nil && (*maxResults < 5 || *maxResults > 50) {
		var v validation
		s := strconv.FormatInt(*maxResults, 10)
		if *maxResults < 5 {
			v.fail(&s, "maxResults", "have value greater than or equal to 5")
		} else {
			v.fail(&s, "maxResults", "have value less than or equal to 50")
		}
		return nil, v.err("ValidationException")
	}
	if err := h.authorize(c, "ssm:DescribeInstanceInformation", "*", nil); err != nil {
		return nil, err
	}
	page := defaultInstanceInformationPage
	if maxResults != nil {
		page = int(*maxResults)
	}
	after := ""
	if next != nil {
		var ok bool
		if after, ok = decodePageToken(*next); !ok {
			return nil, awsproto.Errorf("InvalidNextToken", "The specified token is not valid.")
		}
	}

	filters, err := infoFilters(oldFilters, newFilters)
	if err != nil {
		return nil, err
	}

	out := describeInstanceInformationOutput{InstanceInformationList: []instanceInformation{}}
outer:
	for _, inst := range h.world.Instances() {
		if inst.State == "terminated" || (after != "" && inst.ID <= after) {
			continue
		}
		info := h.ssmInfo(inst)
		for _, f := range filters {
			if !f.match(inst, info) {
				continue outer
			}
		}
		if len(out.InstanceInformationList) == page {
			out.NextToken = encodePageToken(out.InstanceInformationList[page-1].InstanceID)
			break
		}
		out.InstanceInformationList = append(out.InstanceInformationList, info)
	}
	return out, nil
}

// infoFilters compiles both filter lists (the old InstanceInformationFilterList
// and Filters, which may filter on tags), refusing tag filters mixed with
// others as AWS does.
func infoFilters(oldFilters, newFilters []jsonObject) ([]infoFilter, error) {
	var filters []infoFilter
	for _, group := range []struct {
		list       []jsonObject
		keyName    string
		valuesName string
		tags       bool
	}{
		{oldFilters, "key", "valueSet", false},
		{newFilters, "Key", "Values", true},
	} {
		for _, fo := range group.list {
			key, err := fo.str(group.keyName)
			if err != nil {
				return nil, err
			}
			values, err := fo.strList(group.valuesName)
			if err != nil {
				return nil, err
			}
			var v validation
			v.required(key, group.keyName)
			if values == nil {
				v.fail(nil, group.valuesName, "not be null")
			}
			if err := v.err("ValidationException"); err != nil {
				return nil, err
			}
			f, err := compileInfoFilter(*key, values, group.tags)
			if err != nil {
				return nil, err
			}
			filters = append(filters, f)
		}
	}
	// AWS: "Tag filters can't be combined with other filter types."
	var tags, others int
	for _, f := range filters {
		if f.tag {
			tags++
		} else {
			others++
		}
	}
	if tags > 0 && others > 0 {
		return nil, awsproto.Errorf("ValidationException", "Cannot mix tag or inventory filter with any other filter.")
	}
	return filters, nil
}
