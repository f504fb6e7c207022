package targets

import (
	"strings"
	"testing"
	"time"
)

func TestHintRoundTrip(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	in := Instance{ID: "i-0a1b2c3d4e5f00001", Name: "web-1", State: "running", AZ: "us-east-1a", PrivateIP: "10.0.1.11",
		PublicIP: "198.51.100.11", VpcID: "vpc-1", SubnetID: "subnet-1", Platform: "linux", SSM: "Online", Account: "123456789012"}
	h := Hint(in, "us-east-1", now)
	got, ok := FromHint(h, in.ID, "us-east-1", now.Add(30*time.Second))
	want := in
	want.SSM = "" // never carried
	if !ok || got != want {
		t.Fatalf("FromHint(Hint(x)) = %+v, %v; want %+v", got, ok, want)
	}
	for name, c := range map[string]struct {
		s, id, region string
		at            time.Time
	}{
		"other instance":   {h, "i-0a1b2c3d4e5f00002", "us-east-1", now},
		"other region":     {h, in.ID, "eu-west-1", now},
		"too old":          {h, in.ID, "us-east-1", now.Add(HintMaxAge + time.Second)},
		"from the future":  {h, in.ID, "us-east-1", now.Add(-5 * time.Second)},
		"empty":            {"", in.ID, "us-east-1", now},
		"not json":         {"i-0a1b2c3d4e5f00001", in.ID, "us-east-1", now},
		"trailing data":    {h + "{}", in.ID, "us-east-1", now},
		"unknown field":    {strings.Replace(h, `"v":1`, `"v":1,"ssm":"Online"`, 1), in.ID, "us-east-1", now},
		"stopped":          {Hint(Instance{ID: in.ID, State: "stopped"}, "us-east-1", now), in.ID, "us-east-1", now},
		"bad public ip":    {Hint(Instance{ID: in.ID, State: "running", PublicIP: "evil.example"}, "us-east-1", now), in.ID, "us-east-1", now},
		"ipv6":             {Hint(Instance{ID: in.ID, State: "running", PrivateIP: "::1"}, "us-east-1", now), in.ID, "us-east-1", now},
		"control in name":  {Hint(Instance{ID: in.ID, State: "running", Name: "a\nb"}, "us-east-1", now), in.ID, "us-east-1", now},
		"managed instance": {Hint(Instance{ID: "mi-0123456789abcdef0", State: "running"}, "us-east-1", now), "mi-0123456789abcdef0", "us-east-1", now},
		"not an id":        {Hint(Instance{ID: "web-1", State: "running"}, "us-east-1", now), "web-1", "us-east-1", now},
		"bad account":      {Hint(Instance{ID: in.ID, State: "running", Account: "12345"}, "us-east-1", now), in.ID, "us-east-1", now},
		"version 2":        {strings.Replace(h, `"v":1`, `"v":2`, 1), in.ID, "us-east-1", now},
	} {
		if got, ok := FromHint(c.s, c.id, c.region, c.at); ok {
			t.Errorf("%s: FromHint accepted %q for %s: %+v", name, c.s, c.id, got)
		}
	}
}

func FuzzFromHint(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add(Hint(Instance{ID: "i-0a1b2c3d4e5f00001", Name: "web-1", State: "running", PublicIP: "198.51.100.11"}, "us-east-1", now))
	f.Add(`{"v":1,"at":1800000000,"region":"us-east-1","id":"i-0a1b2c3d4e5f00001","state":"running"}`)
	f.Add(`{"v":1}`)
	f.Fuzz(func(t *testing.T, s string) {
		in, ok := FromHint(s, "i-0a1b2c3d4e5f00001", "us-east-1", now)
		if !ok {
			return
		}
		if in.ID != "i-0a1b2c3d4e5f00001" || in.State != "running" || in.Managed || in.SSM != "" {
			t.Fatalf("FromHint(%q) = %+v", s, in)
		}
		// What is accepted survives a round trip unchanged.
		if again, ok := FromHint(Hint(in, "us-east-1", now), in.ID, "us-east-1", now); !ok || again != in {
			t.Fatalf("round trip of %+v: %+v, %v", in, again, ok)
		}
	})
}
