package config

import (
	"strings"
	"testing"
)

func TestManagedInstancesAndKnobs(t *testing.T) {
	f, err := Parse([]byte(`
[[identities]]
name = "d"

[[managed_instances]]
id = "mi-0123456789abcdef0"
name = "rack-7"
ip_address = "172.16.4.9"
ssm = "offline"
tags = { site = "berlin" }

[latency]
"ec2:DescribeInstances" = "200ms"
"*" = "5ms"

[throttle]
"ssm:StartSession" = "25%"
`), "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Resolve("carol")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Instances) != 1 {
		t.Fatalf("instances %+v", a.Instances)
	}
	mi := a.Instances[0]
	if mi.ID != "mi-0123456789abcdef0" || !mi.Managed || mi.SSMOnline || mi.Hostname != "rack-7" || mi.PrivateIP != "172.16.4.9" ||
		mi.Tags["Name"] != "rack-7" || mi.Tags["site"] != "berlin" || mi.State != "running" {
		t.Errorf("managed instance %+v", mi)
	}
	if a.Latency["ec2:DescribeInstances"] != "200ms" || a.Latency["*"] != "5ms" || a.Throttle["ssm:StartSession"] != "25%" {
		t.Errorf("knobs %v %v", a.Latency, a.Throttle)
	}
}

func TestBadManagedInstancesAndKnobs(t *testing.T) {
	base := "[[identities]]\nname = \"d\"\n"
	mi := "[[managed_instances]]\nid = \"mi-0123456789abcdef0\"\nname = \"rack-7\"\nip_address = \"172.16.4.9\"\n"
	for _, tc := range []struct{ text, want string }{
		{base + strings.Replace(mi, "mi-0123456789abcdef0", "i-0123456789abcdef0", 1), `id "i-0123456789abcdef0"`},
		{base + mi + mi, "duplicate id"},
		{base + strings.Replace(mi, "172.16.4.9", "127.0.0.1", 1), "ip_address"},
		{base + strings.Replace(mi, "rack-7", "rack 7", 1), "name"},
		{base + mi + "ssm = \"sometimes\"\n", "ssm"},
		{base + mi + "tags = { Name = \"x\" }\n", "not tags.Name"},
		{base + mi + "state = \"stopped\"\n", `unknown key "managed_instances.state"`},
		{base + "[latency]\n\"ec2:DescribeInstances\" = \"soon\"\n", "latency: ec2:DescribeInstances"},
		{base + "[latency]\n\"s3:*\" = \"1s\"\n", `unknown service "s3"`},
		{base + "[throttle]\n\"ssm:*\" = \"2\"\n", "throttle: ssm:*"},
	} {
		_, err := Parse([]byte(tc.text), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}
