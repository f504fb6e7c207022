package apis

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// stateCode returns EC2's code for an instance state name.
func stateCode(state string) int {
	switch state {
	case "pending":
		return 0
	case "running":
		return 16
	case "shutting-down":
		return 32
	case "terminated":
		return 48
	case "stopping":
		return 64
	case "stopped":
		return 80
	}
	return 0
}

// instanceView is an instance as EC2 shows it: addresses an instance does
// not hold in its current state are blank (a stopped instance has released
// its public IPv4 address; a terminated one has released everything).
type instanceView struct {
	world.Instance
	ReservationID string
	OwnerID       string
}

func viewOf(in world.Instance, owner string) instanceView {
	v := instanceView{Instance: in, ReservationID: reservationID(in.ID), OwnerID: owner}
	switch in.State {
	case "stopped", "stopping", "shutting-down":
		v.PublicIP, v.PublicDNS = "", ""
	case "terminated":
		v.PublicIP, v.PublicDNS, v.PrivateIP, v.PrivateDNS, v.SubnetID, v.VpcID = "", "", "", "", "", ""
	}
	return v
}

// reservationID derives a stable r-… id from an instance id (one
// reservation per instance).
func reservationID(instanceID string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(instanceID); i++ {
		h ^= uint64(instanceID[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("r-%017x", h)
}

// ec2Filter is a compiled DescribeInstances filter: an instance matches
// when any of the values matches one of the instance's attribute values.
type ec2Filter struct {
	name   string
	values []string
	attrs  func(v instanceView) []string
}

// compileEC2Filter validates f's name and returns its attribute extractor.
func compileEC2Filter(f awsproto.Filter) (ec2Filter, error) {
	one := func(get func(v instanceView) string) func(instanceView) []string {
		return func(v instanceView) []string {
			if s := get(v); s != "" {
				return []string{s}
			}
			return nil
		}
	}
	var attrs func(instanceView) []string
	switch f.Name {
	case "instance-id":
		attrs = one(func(v instanceView) string { return v.ID })
	case "instance-state-name":
		attrs = one(func(v instanceView) string { return v.State })
	case "instance-state-code":
		attrs = one(func(v instanceView) string { return strconv.Itoa(stateCode(v.State)) })
	case "instance-type":
		attrs = one(func(v instanceView) string { return v.InstanceType })
	case "image-id":
		attrs = one(func(v instanceView) string { return v.ImageID })
	case "platform":
		attrs = one(func(v instanceView) string { return v.Platform })
	case "private-ip-address", "network-interface.addresses.private-ip-address":
		attrs = one(func(v instanceView) string { return v.PrivateIP })
	case "ip-address", "network-interface.association.public-ip":
		attrs = one(func(v instanceView) string { return v.PublicIP })
	case "private-dns-name":
		attrs = one(func(v instanceView) string { return v.PrivateDNS })
	case "dns-name":
		attrs = one(func(v instanceView) string { return v.PublicDNS })
	case "availability-zone":
		attrs = one(func(v instanceView) string { return v.AZ })
	case "vpc-id":
		attrs = one(func(v instanceView) string { return v.VpcID })
	case "subnet-id":
		attrs = one(func(v instanceView) string { return v.SubnetID })
	case "owner-id":
		attrs = one(func(v instanceView) string { return v.OwnerID })
	case "reservation-id":
		attrs = one(func(v instanceView) string { return v.ReservationID })
	case "architecture":
		attrs = one(func(instanceView) string { return "x86_64" })
	case "tag-key":
		attrs = func(v instanceView) []string {
			out := make([]string, 0, len(v.Tags))
			for k := range v.Tags {
				out = append(out, k)
			}
			return out
		}
	case "tag-value":
		attrs = func(v instanceView) []string {
			out := make([]string, 0, len(v.Tags))
			for _, val := range v.Tags {
				out = append(out, val)
			}
			return out
		}
	default:
		key, ok := strings.CutPrefix(f.Name, "tag:")
		if !ok || key == "" {
			return ec2Filter{}, awsproto.Errorf("InvalidParameterValue", "The filter '%s' is invalid", f.Name)
		}
		attrs = func(v instanceView) []string {
			if val, ok := v.Tags[key]; ok {
				return []string{val}
			}
			return nil
		}
	}
	if len(f.Values) == 0 {
		return ec2Filter{}, awsproto.Errorf("InvalidParameterValue", "The filter '%s' must have at least one value", f.Name)
	}
	return ec2Filter{name: f.Name, values: f.Values, attrs: attrs}, nil
}

func (f ec2Filter) match(v instanceView) bool {
	for _, a := range f.attrs(v) {
		for _, p := range f.values {
			if wildcardMatch(p, a) {
				return true
			}
		}
	}
	return false
}

// wildcardMatch reports whether s matches the EC2 filter pattern p: '*'
// matches any run of characters (including none), '?' exactly one, and a
// backslash makes the next character literal. Matching is case-sensitive
// and by characters (UTF-8 sequences; an invalid byte is a character of
// its own). It runs in O(len(p)·len(s)).
func wildcardMatch(p, s string) bool {
	type tok struct {
		c       string
		literal bool
	}
	var pat []tok
	pc := chars(p)
	for i := 0; i < len(pc); i++ {
		if pc[i] == `\` && i+1 < len(pc) {
			i++
			pat = append(pat, tok{pc[i], true})
			continue
		}
		pat = append(pat, tok{pc[i], false})
	}
	isMeta := func(t tok, m string) bool { return !t.literal && t.c == m }
	str := chars(s)
	// Greedy matching with backtracking to the last star.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(str) {
		switch {
		case pi < len(pat) && isMeta(pat[pi], "*"):
			star, mark = pi, si
			pi++
		case pi < len(pat) && (isMeta(pat[pi], "?") || pat[pi].c == str[si]):
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pat) && isMeta(pat[pi], "*") {
		pi++
	}
	return pi == len(pat)
}

// chars splits s into characters: whole UTF-8 sequences, or single bytes
// where s is not valid UTF-8.
func chars(s string) []string {
	out := make([]string, 0, len(s))
	for len(s) > 0 {
		_, n := utf8.DecodeRuneInString(s)
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}
