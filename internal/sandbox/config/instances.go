package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// InstanceSpec is one instance.
type InstanceSpec struct {
	ID           string            `toml:"id"`
	Name         string            `toml:"name"`
	State        string            `toml:"state"` // default running
	PrivateIP    string            `toml:"private_ip"`
	PublicIP     string            `toml:"public_ip"`
	AZ           string            `toml:"az"`       // default <region>a
	SSM          string            `toml:"ssm"`      // online (default) or offline
	Platform     string            `toml:"platform"` // linux (default) or windows
	InstanceType string            `toml:"instance_type"`
	ImageID      string            `toml:"image_id"`
	SubnetID     string            `toml:"subnet_id"`
	VpcID        string            `toml:"vpc_id"`
	Tags         map[string]string `toml:"tags"`
	// Public gives the instance a public IP from the sandbox's loopback
	// block at start (127.X.Y.n, see docs/sandbox.md); it needs a public
	// subnet when subnets are declared. Exclusive with public_ip.
	Public bool `toml:"public"`
	// Bastion makes the instance's SSH server the embedded one, which
	// forwards ssh -J / -W connections (direct-tcpip) into its VPC.
	Bastion bool `toml:"bastion"`
	// JIT has the instance's OpenSSH sshd resolve unknown users through a
	// `jitssh-host userdb` service the sandbox starts (just-in-time users;
	// needs root and nss-systemd, see sandbox.Config.JIT); JITGroups are
	// the supplementary groups every such user gets.
	JIT       bool     `toml:"jit"`
	JITGroups []string `toml:"jit_groups"`
	// EIC = false: the instance's image lacks EC2 Instance Connect, so
	// pushed keys are accepted by the API and never used (default true).
	EIC *bool `toml:"eic"`
	// Virtual instances exist only in the APIs (world.Instance.Virtual):
	// no IMDS, no SSH server; for listings and resolution.
	Virtual bool `toml:"virtual"`
	// Role is the IAM role of the instance profile (one of [[roles]]):
	// IMDS serves its credentials, and a JIT instance's jitssh-host ships
	// its audit events to CloudWatch Logs with them (log_group).
	Role string `toml:"role"`
	// LogGroup is where a JIT instance's jitssh-host ships its audit
	// events ([cloudwatch] log_group); it needs role. The sandbox creates
	// the group at start.
	LogGroup string `toml:"log_group"`
}

// ManagedInstanceSpec is one SSM managed (hybrid) instance. It has its own
// SSH server and no IMDS; EC2 does not list it.
type ManagedInstanceSpec struct {
	ID        string            `toml:"id"` // mi- and 17 hex digits
	Name      string            `toml:"name"`
	IPAddress string            `toml:"ip_address"`
	SSM       string            `toml:"ssm"` // online (default) or offline
	Tags      map[string]string `toml:"tags"`
}

// checkAddresses checks that no two instances of a VPC share a private IP
// (the sandbox routes by it) and no two a public IP.
func (f *File) checkAddresses() error {
	priv, pub := map[string]string{}, map[string]string{}
	for _, in := range f.Instances {
		k := or(in.VpcID, "vpc-0a1b2c3d4e5f60001") + " " + in.PrivateIP
		if other, dup := priv[k]; dup {
			return fmt.Errorf("instances %s and %s: both have private_ip %s in the same VPC", other, in.ID, in.PrivateIP)
		}
		priv[k] = in.ID
		if in.PublicIP != "" {
			if other, dup := pub[in.PublicIP]; dup {
				return fmt.Errorf("instances %s and %s: both have public_ip %s", other, in.ID, in.PublicIP)
			}
			pub[in.PublicIP] = in.ID
		}
	}
	return nil
}

// checkInstances validates the instances and the managed instances and
// returns their ids.
func (f *File) checkInstances() (map[string]bool, error) {
	ids := map[string]bool{}
	for i := range f.Instances {
		if err := f.checkInstance(i, ids); err != nil {
			return nil, err
		}
	}
	if err := f.checkAddresses(); err != nil {
		return nil, err
	}
	for i := range f.ManagedInstances {
		if err := f.checkManaged(i, ids); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func (f *File) checkInstance(i int, ids map[string]bool) error {
	in := &f.Instances[i]
	where, err := checkID(fmt.Sprintf("instances[%d]", i), in.ID, instanceIDPattern, "i- and 8 or 17 lower-case hex digits", ids)
	if err != nil {
		return err
	}
	switch in.State {
	case "":
		in.State = "running"
	case "pending", "running", "stopping", "stopped", "shutting-down", "terminated":
	default:
		return fmt.Errorf("%s: state %q: want pending, running, stopping, stopped, shutting-down or terminated", where, in.State)
	}
	switch in.SSM {
	case "":
		in.SSM = "online"
	case "online", "offline":
	default:
		return fmt.Errorf("%s: ssm %q: want online or offline", where, in.SSM)
	}
	switch in.Platform {
	case "", "linux", "windows":
	default:
		return fmt.Errorf("%s: platform %q: want linux or windows", where, in.Platform)
	}
	ip, err := netip.ParseAddr(in.PrivateIP)
	if err != nil || !ip.Is4() || !ip.IsPrivate() {
		return fmt.Errorf("%s: private_ip %q: want a private IPv4 address", where, in.PrivateIP)
	}
	if in.PublicIP != "" {
		// Loopback is allowed: it is what the sandbox itself hands out
		// (public = true), and an explicit one is the user's choice.
		if ip, err := netip.ParseAddr(in.PublicIP); err != nil || !ip.Is4() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsMulticast() {
			return fmt.Errorf("%s: public_ip %q: want a public (or loopback) IPv4 address", where, in.PublicIP)
		}
		if in.Public {
			return fmt.Errorf("%s: set public = true (an address from the sandbox's loopback block) or public_ip, not both", where)
		}
	}
	if len(f.Subnets) > 0 {
		if err := f.placeInstance(in, ip, where); err != nil {
			return err
		}
	}
	if err := checkInstanceRole(in, where); err != nil {
		return err
	}
	if err := f.checkInstanceProfile(in, where); err != nil {
		return err
	}
	return f.checkInstanceFacts(in, where)
}

// checkInstanceRole validates what an instance is for: bastion, JIT users
// and their groups, EC2 Instance Connect.
func checkInstanceRole(in *InstanceSpec, where string) error {
	if in.Bastion && in.Platform == "windows" {
		return fmt.Errorf("%s: a bastion runs the sandbox's SSH server; it cannot be a windows instance", where)
	}
	if in.JIT && (in.Bastion || in.Platform == "windows") {
		return fmt.Errorf("%s: jit = true needs a linux instance running OpenSSH sshd (not a bastion or windows)", where)
	}
	if in.EIC != nil && !*in.EIC && (in.JIT || in.Bastion) {
		return fmt.Errorf("%s: eic = false leaves no way to log in with a pushed key; it cannot be combined with jit or bastion", where)
	}
	if len(in.JITGroups) > 0 && !in.JIT {
		return fmt.Errorf("%s: jit_groups without jit = true", where)
	}
	for _, g := range in.JITGroups {
		if !jitGroupPattern.MatchString(g) {
			return fmt.Errorf("%s: jit_groups: %q is not a group name (lower case, at most 32 characters)", where, g)
		}
	}
	return nil
}

// checkInstanceProfile validates an instance's role and log group.
func (f *File) checkInstanceProfile(in *InstanceSpec, where string) error {
	if in.Role != "" {
		found := false
		for _, r := range f.Roles {
			found = found || r.Name == in.Role
		}
		if !found {
			return fmt.Errorf("%s: role %q is not one of [[roles]]", where, in.Role)
		}
	}
	if in.LogGroup != "" {
		if !in.JIT || in.Role == "" {
			return fmt.Errorf("%s: log_group needs jit = true (jitssh-host ships the events) and a role (its credentials)", where)
		}
		if !logGroupPattern.MatchString(in.LogGroup) {
			return fmt.Errorf("%s: log_group %q is not a CloudWatch Logs group name", where, in.LogGroup)
		}
	}
	return nil
}

var logGroupPattern = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]{1,512}$`)

// checkInstanceFacts validates an instance's AZ, ids, type, tags and name.
func (f *File) checkInstanceFacts(in *InstanceSpec, where string) error {
	if in.AZ == "" {
		in.AZ = f.Region + "a"
	}
	if !azPattern.MatchString(in.AZ) || !strings.HasPrefix(in.AZ, f.Region) {
		return fmt.Errorf("%s: az %q: want an availability zone of %s", where, in.AZ, f.Region)
	}
	for field, v := range map[string]string{"subnet_id": in.SubnetID, "vpc_id": in.VpcID, "image_id": in.ImageID} {
		if v != "" && !resIDPattern.MatchString(v) {
			return fmt.Errorf("%s: %s %q is not a valid id", where, field, v)
		}
	}
	if in.InstanceType != "" && !typePattern.MatchString(in.InstanceType) {
		return fmt.Errorf("%s: instance_type %q: want e.g. t3.micro", where, in.InstanceType)
	}
	if _, ok := in.Tags["Name"]; ok && in.Name != "" {
		return fmt.Errorf("%s: set name or tags.Name, not both", where)
	}
	if err := checkTags(in.Tags, where+".tags"); err != nil {
		return err
	}
	if in.Name != "" && !tagValuePattern.MatchString(in.Name) {
		return fmt.Errorf("%s: name %q is not a valid tag value", where, in.Name)
	}
	return nil
}

// placeInstance puts in into its declared subnet: the one it names, else
// the one whose block holds its private IP; the VPC and AZ follow.
func (f *File) placeInstance(in *InstanceSpec, ip netip.Addr, where string) error {
	if in.SubnetID == "" {
		for _, sn := range f.Subnets {
			if p, err := netip.ParsePrefix(sn.CIDR); err == nil && p.Contains(ip) {
				if in.VpcID == "" || in.VpcID == sn.VpcID {
					in.SubnetID = sn.ID
					break
				}
			}
		}
		if in.SubnetID == "" {
			return fmt.Errorf("%s: private_ip %s is in no declared subnet; set subnet_id or add a [[subnets]] entry whose cidr holds it", where, ip)
		}
	}
	sn, ok := f.subnet(in.SubnetID)
	if !ok {
		return fmt.Errorf("%s: subnet_id %q names no [[subnets]] entry", where, in.SubnetID)
	}
	if p, _ := netip.ParsePrefix(sn.CIDR); !p.Contains(ip) {
		return fmt.Errorf("%s: private_ip %s is not in subnet %s (%s)", where, ip, sn.ID, sn.CIDR)
	}
	if in.VpcID != "" && in.VpcID != sn.VpcID {
		return fmt.Errorf("%s: vpc_id %s, but subnet %s is in %s", where, in.VpcID, sn.ID, sn.VpcID)
	}
	in.VpcID = sn.VpcID
	if in.AZ != "" && in.AZ != sn.AZ {
		return fmt.Errorf("%s: az %s, but subnet %s is in %s", where, in.AZ, sn.ID, sn.AZ)
	}
	in.AZ = sn.AZ
	if (in.Public || in.PublicIP != "") && !sn.Public {
		return fmt.Errorf("%s: a public IP needs a public subnet, and %s is private (set public = true on the subnet, or move the instance)", where, sn.ID)
	}
	return nil
}

var (
	managedIDPattern = regexp.MustCompile(`^mi-[0-9a-f]{17}$`)
	subnetIDPattern  = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`) // resIDPattern's subnet ids
)

func (f *File) checkManaged(i int, ids map[string]bool) error {
	in := &f.ManagedInstances[i]
	where, err := checkID(fmt.Sprintf("managed_instances[%d]", i), in.ID, managedIDPattern, "mi- and 17 lower-case hex digits", ids)
	if err != nil {
		return err
	}
	switch in.SSM {
	case "":
		in.SSM = "online"
	case "online", "offline":
	default:
		return fmt.Errorf("%s: ssm %q: want online or offline", where, in.SSM)
	}
	if ip, err := netip.ParseAddr(in.IPAddress); err != nil || !ip.Is4() || ip.IsLoopback() || ip.IsUnspecified() {
		return fmt.Errorf("%s: ip_address %q: want an IPv4 address", where, in.IPAddress)
	}
	if in.Name == "" || len(in.Name) > 63 || !hostLabelPattern.MatchString(in.Name) {
		return fmt.Errorf("%s: name %q: want a host name (letters, digits and -), it is the server's computer name", where, in.Name)
	}
	if _, ok := in.Tags["Name"]; ok {
		return fmt.Errorf("%s: set name, not tags.Name", where)
	}
	return checkTags(in.Tags, where+".tags")
}

var hostLabelPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)

// Launch is the launch time of configured instances.
var launch = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func (f *File) instance(s InstanceSpec) world.Instance {
	host := "ip-" + strings.ReplaceAll(s.PrivateIP, ".", "-")
	in := world.Instance{
		ID: s.ID, Hostname: host, State: s.State, PrivateIP: s.PrivateIP,
		PrivateDNS: host + "." + internalDomain(f.Region), AZ: s.AZ,
		SubnetID: or(s.SubnetID, "subnet-0a1b2c3d4e5f60001"), VpcID: or(s.VpcID, "vpc-0a1b2c3d4e5f60001"),
		InstanceType: or(s.InstanceType, "t3.micro"), ImageID: or(s.ImageID, "ami-0a1b2c3d4e5f60001"),
		LaunchTime: launch, Tags: map[string]string{}, SSMOnline: s.SSM == "online",
	}
	if s.Platform == "windows" {
		in.Platform = "windows"
	}
	for k, v := range s.Tags {
		in.Tags[k] = v
	}
	if s.Name != "" {
		in.Tags["Name"] = s.Name
	}
	if s.PublicIP != "" {
		in.PublicIP = s.PublicIP
		in.PublicDNS = PublicDNS(f.Region, s.PublicIP)
	}
	in.Public, in.Bastion, in.Virtual = s.Public, s.Bastion, s.Virtual
	in.JIT, in.JITGroups = s.JIT, append([]string(nil), s.JITGroups...)
	in.NoEIC = s.EIC != nil && !*s.EIC
	in.Role, in.LogGroup = s.Role, s.LogGroup
	return in
}

// registered is when the configured managed instances registered.
var registered = time.Date(2026, 10, 15, 8, 30, 0, 0, time.UTC)

func managedInstance(s ManagedInstanceSpec) world.Instance {
	in := world.Instance{
		ID: s.ID, Hostname: s.Name, State: "running", PrivateIP: s.IPAddress,
		LaunchTime: registered, Tags: map[string]string{"Name": s.Name},
		SSMOnline: s.SSM == "online", Managed: true,
	}
	for k, v := range s.Tags {
		in.Tags[k] = v
	}
	return in
}
