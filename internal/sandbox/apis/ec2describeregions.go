package apis

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
)

// optInRegions are AWS's regions that an account must enable (opt in to)
// before use; the others are enabled in every account.
var optInRegions = map[string]bool{
	"af-south-1": true, "ap-east-1": true, "ap-south-2": true, "ap-southeast-3": true, "ap-southeast-4": true,
	"ap-southeast-5": true, "ap-southeast-7": true, "ca-west-1": true, "eu-central-2": true, "eu-south-1": true,
	"eu-south-2": true, "il-central-1": true, "me-central-1": true, "me-south-1": true, "mx-central-1": true,
}

// OptInRegion reports whether region is one an AWS account must opt in
// to (ap-east-1, me-south-1, …).
func OptInRegion(region string) bool { return optInRegions[region] }

type describeRegionsResponse struct {
	XMLName   xml.Name        `xml:"DescribeRegionsResponse"`
	Xmlns     string          `xml:"xmlns,attr"`
	RequestID string          `xml:"requestId"`
	Regions   []ec2RegionInfo `xml:"regionInfo>item"`
}

type ec2RegionInfo struct {
	RegionName     string `xml:"regionName"`
	RegionEndpoint string `xml:"regionEndpoint"`
	OptInStatus    string `xml:"optInStatus"`
}

// describeRegions serves ec2:DescribeRegions over the regions the sandbox
// simulates for the caller's account: those it has enabled
// (opt-in-not-required, or opted-in for an opt-in region) and, with
// AllRegions, the opt-in regions it has not (not-opted-in). RegionName.N
// and the filters region-name, endpoint and opt-in-status narrow the list.
func (h *handler) describeRegions(c *call) (any, error) {
	f := c.form
	for k := range f {
		switch {
		case k == "Action" || k == "Version" || k == "AllRegions" || k == "DryRun":
		case strings.HasPrefix(k, "RegionName.") || strings.HasPrefix(k, "Filter."):
		default:
			return nil, awsproto.Errorf("UnknownParameter", "The parameter %s is not recognized", k)
		}
	}
	all := false
	switch v := f.Get("AllRegions"); v {
	case "", "false":
	case "true":
		all = true
	default:
		return nil, awsproto.Errorf("InvalidParameterValue", "Invalid value '%s' for AllRegions", v)
	}
	names, err := awsproto.List(f, "RegionName")
	if err != nil {
		return nil, err
	}
	filters, err := awsproto.Filters(f, "Filter")
	if err != nil {
		return nil, err
	}
	for _, flt := range filters {
		switch flt.Name {
		case "region-name", "endpoint", "opt-in-status":
		default:
			return nil, awsproto.Errorf("InvalidParameterValue", "The filter '%s' is invalid", flt.Name)
		}
	}
	if err := h.authorize(c, "ec2:DescribeRegions", "*", nil); err != nil {
		return nil, err
	}
	if f.Get("DryRun") == "true" {
		return nil, &awsproto.Error{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.", Status: http.StatusPreconditionFailed}
	}
	known := h.regionInfos(all || len(names) > 0)
	for _, n := range names {
		if !slices.ContainsFunc(known, func(r ec2RegionInfo) bool { return r.RegionName == n }) {
			return nil, awsproto.Errorf("InvalidParameterValue", "Invalid region: %s", n)
		}
	}
	resp := &describeRegionsResponse{Xmlns: awsproto.EC2Namespace, RequestID: c.reqID}
	for _, r := range known {
		if len(names) > 0 && !slices.Contains(names, r.RegionName) {
			continue
		}
		if !regionMatches(r, filters) {
			continue
		}
		resp.Regions = append(resp.Regions, r)
	}
	return resp, nil
}

// regionInfos returns the account's enabled regions and, when all is
// set, its disabled opt-in ones, sorted by name.
func (h *handler) regionInfos(all bool) []ec2RegionInfo {
	var out []ec2RegionInfo
	for _, r := range h.acct.RegionNames() {
		st := "opt-in-not-required"
		if OptInRegion(r) {
			st = "opted-in"
		}
		out = append(out, ec2RegionInfo{RegionName: r, RegionEndpoint: "ec2." + r + ".amazonaws.com", OptInStatus: st})
	}
	if all {
		for _, r := range h.acct.Disabled {
			out = append(out, ec2RegionInfo{RegionName: r, RegionEndpoint: "ec2." + r + ".amazonaws.com", OptInStatus: "not-opted-in"})
		}
	}
	slices.SortFunc(out, func(a, b ec2RegionInfo) int { return strings.Compare(a.RegionName, b.RegionName) })
	return out
}

// regionMatches applies DescribeRegions' filters (values ORed within a
// filter, filters ANDed; * and ? wildcards).
func regionMatches(r ec2RegionInfo, filters []awsproto.Filter) bool {
	for _, flt := range filters {
		v := r.RegionName
		switch flt.Name {
		case "endpoint":
			v = r.RegionEndpoint
		case "opt-in-status":
			v = r.OptInStatus
		}
		if !slices.ContainsFunc(flt.Values, func(p string) bool { return wildcardMatch(p, v) }) {
			return false
		}
	}
	return true
}
