package targets

import (
	"encoding/json"
	"net/netip"
	"strings"
	"time"
)

// HintMaxAge bounds how old a hint may be when it is used.
const HintMaxAge = time.Minute

// hint is the wire form of a resolved instance handed from `jitssh ssh`
// to the proxy that ssh starts, so that the proxy need not ask EC2 again.
type hint struct {
	V         int    `json:"v"`
	At        int64  `json:"at"` // unix seconds when resolved
	Region    string `json:"region"`
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	State     string `json:"state,omitempty"`
	AZ        string `json:"az,omitempty"`
	PrivateIP string `json:"private_ip,omitempty"`
	PublicIP  string `json:"public_ip,omitempty"`
	VpcID     string `json:"vpc,omitempty"`
	SubnetID  string `json:"subnet,omitempty"`
	Platform  string `json:"platform,omitempty"`
	Account   string `json:"account,omitempty"` // the reservation's owner
}

// Hint encodes in, resolved in region at now, for FromHint. The SSM agent
// status is left out: it changes and the proxy asks for it when it needs it.
func Hint(in Instance, region string, now time.Time) string {
	b, _ := json.Marshal(hint{V: 1, At: now.Unix(), Region: region, ID: in.ID, Name: in.Name, State: in.State,
		AZ: in.AZ, PrivateIP: in.PrivateIP, PublicIP: in.PublicIP, VpcID: in.VpcID, SubnetID: in.SubnetID, Platform: in.Platform, Account: in.Account})
	return string(b)
}

// FromHint decodes a hint and returns the instance if and only if it is
// well formed, names exactly the EC2 instance id wanted in region (SSM
// managed instances are always looked up: their agent status matters), says the
// instance was running, and is at most HintMaxAge old. Anything else is
// (Instance{}, false): the caller resolves the target itself. A hint only
// saves a lookup; it grants nothing (every call that gives access is
// authorized by AWS, and the host key is checked against the pin kept
// under the instance id, which must be a pin of the account the hint
// names, as it must be of the account a lookup names).
func FromHint(s, id, region string, now time.Time) (Instance, bool) {
	if s == "" || len(s) > 4096 || id == "" || region == "" {
		return Instance{}, false
	}
	var h hint
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || dec.More() {
		return Instance{}, false
	}
	age := now.Sub(time.Unix(h.At, 0))
	if h.V != 1 || h.ID != id || h.Region != region || age < -time.Second || age > HintMaxAge || h.State != "running" {
		return Instance{}, false
	}
	sp, err := Parse(h.ID)
	if err != nil || sp.Kind != KindInstanceID || sp.Value != h.ID {
		return Instance{}, false
	}
	for _, ip := range []string{h.PrivateIP, h.PublicIP} {
		if ip == "" {
			continue
		}
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			return Instance{}, false
		}
	}
	if h.Account != "" && !ValidAccount(h.Account) {
		return Instance{}, false
	}
	for _, f := range []string{h.Name, h.AZ, h.VpcID, h.SubnetID, h.Platform} {
		if len(f) > 256 || strings.ContainsFunc(f, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return Instance{}, false
		}
	}
	return Instance{ID: h.ID, Name: h.Name, State: h.State, AZ: h.AZ, PrivateIP: h.PrivateIP, PublicIP: h.PublicIP,
		VpcID: h.VpcID, SubnetID: h.SubnetID, Platform: h.Platform, Account: h.Account}, true
}
