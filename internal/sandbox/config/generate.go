package config

import (
	"fmt"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// GenerateSpec adds a fleet of API-only instances (world.Instance.Virtual)
// for scale: listing, filtering and resolution over thousands.
type GenerateSpec struct {
	Count      int    `toml:"count"`
	NamePrefix string `toml:"name_prefix"` // default "node"
}

// MaxGenerated bounds GenerateSpec.Count.
const MaxGenerated = 100_000

// checkGenerate validates the generated fleet: its size, its name prefix,
// and ids apart from the configured instances' (ids).
func (f *File) checkGenerate(ids map[string]bool) error {
	if g := f.Generate; g != nil {
		if g.Count < 0 || g.Count > MaxGenerated {
			return fmt.Errorf("generate.count %d: want 0 to %d", g.Count, MaxGenerated)
		}
		if g.NamePrefix == "" {
			g.NamePrefix = "node"
		}
		if !namePrefixPattern.MatchString(g.NamePrefix) {
			return fmt.Errorf("generate.name_prefix %q: want letters, digits and -", g.NamePrefix)
		}
		for _, in := range Generate(f.Region, g.NamePrefix, g.Count) {
			if ids[in.ID] {
				return fmt.Errorf("instance %s: the id is also one of the %d generated ones (i-0f…); choose another", in.ID, g.Count)
			}
		}
	}
	return nil
}

// SetGenerate sets the generated fleet and validates f again.
func (f *File) SetGenerate(g GenerateSpec) error {
	f.Generate = &g
	return f.check()
}

// Generate returns n API-only instances named PREFIX-00001 …, with ids
// i-0f00000000000001 … (above any hand-written id in the examples), spread
// over three AZs, tagged env (prod, staging, dev) and role (web, db,
// worker); every 20th is stopped and every 10th has its SSM agent offline,
// so filters have something to select.
func Generate(region, prefix string, n int) []world.Instance {
	out := make([]world.Instance, n)
	envs := []string{"prod", "staging", "dev"}
	roles := []string{"web", "db", "worker"}
	azs := []string{"a", "b", "c"}
	for i := range out {
		k := i + 1
		ip := fmt.Sprintf("10.%d.%d.%d", 100+k/65536, (k/256)%256, k%256)
		host := "ip-" + strings.ReplaceAll(ip, ".", "-")
		in := world.Instance{
			ID: fmt.Sprintf("i-0f%015x", k), Hostname: host, State: "running", PrivateIP: ip,
			PrivateDNS: host + "." + internalDomain(region), AZ: region + azs[i%3],
			SubnetID: fmt.Sprintf("subnet-0f%015x", i%3+1), VpcID: "vpc-0f000000000000001",
			InstanceType: "t3.micro", ImageID: "ami-0a1b2c3d4e5f60001", LaunchTime: launch,
			Tags: map[string]string{
				"Name": fmt.Sprintf("%s-%05d", prefix, k), "env": envs[i%3], "role": roles[(i/3)%3],
			},
			SSMOnline: k%10 != 0,
			Virtual:   true,
		}
		if k%20 == 0 {
			in.State = "stopped"
		}
		out[i] = in
	}
	return out
}
