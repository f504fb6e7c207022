package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox/iam"
)

func TestBuiltin(t *testing.T) {
	a, err := Builtin().Resolve("carol")
	if err != nil {
		t.Fatal(err)
	}
	if a.Region != "us-east-1" || a.Account != "123456789012" || len(a.SCPs) != 2 {
		t.Fatalf("account %+v", a)
	}
	def := a.Identities[0]
	if def.Name != "default" || def.ARN != "arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/carol" ||
		def.Tags["userName"] != "carol" || def.AccessKeyID != "AKIAJITSSHSANDBOX001" || len(def.SecretAccessKey) != 40 {
		t.Errorf("default identity %+v", def)
	}
	if !strings.HasSuffix(def.UserID, ":carol") || !strings.HasPrefix(def.UserID, "AROA") {
		t.Errorf("default UserID %q", def.UserID)
	}
	byName := map[string]int{}
	for i, id := range a.Identities {
		byName[id.Name] = i
	}
	for _, n := range []string{"alice", "nopolicy", "admin"} {
		if _, ok := byName[n]; !ok {
			t.Errorf("no built-in identity %s", n)
		}
	}
	if np := a.Identities[byName["nopolicy"]]; len(np.Policies) != 0 || np.ARN != "arn:aws:iam::123456789012:user/nopolicy" {
		t.Errorf("nopolicy %+v", np)
	}
	// The built-in fleet and network of docs/sandbox.md.
	var fleet []string
	for _, in := range a.Instances {
		fleet = append(fleet, fmt.Sprintf("%s %s %s %s public=%t bastion=%t ssm=%t %s", in.ID, in.Name(), in.PrivateIP, in.SubnetID, in.Public, in.Bastion, in.SSMOnline, in.State))
	}
	wantFleet := []string{
		"i-0a1b2c3d4e5f00001 web-1 10.0.1.11 subnet-0a1b2c3d4e5f60001 public=true bastion=false ssm=true running",
		"i-0a1b2c3d4e5f00002 web-2 10.0.1.12 subnet-0a1b2c3d4e5f60001 public=true bastion=false ssm=true running",
		"i-0a1b2c3d4e5f00003 db-1 10.0.2.21 subnet-0a1b2c3d4e5f60002 public=false bastion=false ssm=true running",
		"i-0a1b2c3d4e5f00004 bastion-1 10.0.1.10 subnet-0a1b2c3d4e5f60001 public=true bastion=true ssm=true running",
		"i-0a1b2c3d4e5f00005 app-1 10.0.2.31 subnet-0a1b2c3d4e5f60002 public=false bastion=false ssm=false running",
		"i-0a1b2c3d4e5f00006 old-1 10.0.2.41 subnet-0a1b2c3d4e5f60002 public=false bastion=false ssm=true stopped",
		"i-0a1b2c3d4e5f00008 legacy-1 10.0.2.51 subnet-0a1b2c3d4e5f60002 public=false bastion=false ssm=true running",
		"mi-0a1b2c3d4e5f00001 onprem-1 192.168.10.21  public=false bastion=false ssm=true running",
	}
	if strings.Join(fleet, "\n") != strings.Join(wantFleet, "\n") {
		t.Errorf("fleet:\n%s\nwant\n%s", strings.Join(fleet, "\n"), strings.Join(wantFleet, "\n"))
	}
	for _, in := range a.Instances {
		if in.Managed {
			continue
		}
		if in.PublicIP != "" || in.VpcID != "vpc-0a1b2c3d4e5f60001" {
			t.Errorf("%s: public IP %q (assigned at start, not here), VPC %s", in.ID, in.PublicIP, in.VpcID)
		}
	}
	if len(a.Endpoints) != 1 || len(a.Subnets) != 2 || len(a.VPCs) != 1 {
		t.Fatalf("network: %+v %+v %+v", a.VPCs, a.Subnets, a.Endpoints)
	}
	if e := a.Endpoints[0]; e.ID != "eice-0a1b2c3d4e5f60001" || e.SubnetID != "subnet-0a1b2c3d4e5f60002" || e.VpcID != "vpc-0a1b2c3d4e5f60001" ||
		e.State != "create-complete" || !regexp.MustCompile(`^eice-0a1b2c3d4e5f60001\.[0-9a-f]{8}\.ec2-instance-connect-endpoint\.us-east-1\.amazonaws\.com$`).MatchString(e.DNSName) {
		t.Errorf("endpoint %+v", e)
	}
	if mi := a.Instances[len(a.Instances)-1]; mi.ID != "mi-0a1b2c3d4e5f00001" || !mi.Managed || mi.Name() != "onprem-1" || !mi.SSMOnline || mi.State != "running" {
		t.Errorf("built-in managed instance %+v", mi)
	}
	// Secrets differ per start.
	b, _ := Builtin().Resolve("carol")
	if b.Identities[0].SecretAccessKey == def.SecretAccessKey {
		t.Error("secret access key is not random")
	}

	// The built-in account does what the design promises: the default
	// identity may push a key for its own user and not for another; the
	// administrator cannot impersonate either.
	push := func(id int, osuser string) iam.Decision {
		p := a.Identities[id]
		return iam.Evaluate(iam.Request{
			Principal: iam.Principal{ARN: p.ARN, UserID: p.UserID, Account: a.Account, Tags: p.Tags},
			Action:    "ec2-instance-connect:SendSSHPublicKey",
			Resource:  "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f00001",
			Context:   map[string][]string{"ec2:osuser": {osuser}},
		}, iam.Policies{Identity: p.Policies, SCPs: a.SCPs}).Decision
	}
	for _, tc := range []struct {
		id     string
		osuser string
		want   iam.Decision
	}{
		{"default", "carol", iam.Allowed},
		{"default", "root", iam.ExplicitDenySCP},
		{"alice", "alice", iam.Allowed},
		{"alice", "bob", iam.ExplicitDenySCP},
		{"admin", "admin", iam.Allowed},
		{"admin", "root", iam.ExplicitDenySCP},
		{"nopolicy", "nopolicy", iam.NoIdentityAllow},
	} {
		if got := push(byName[tc.id], tc.osuser); got != tc.want {
			t.Errorf("%s pushes for %s: %v, want %v", tc.id, tc.osuser, got, tc.want)
		}
	}
}

func TestFileWithEverything(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ro.json"), []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sandbox.toml")
	text := `
region = "eu-west-1"
account = "111122223333"
scps = []

[policies.readonly]
file = "ro.json"

[policies.inline]
document = '''{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'''

[[identities]]
name = "ops"
type = "user"
user = "ops/bob"
secret_access_key = "0123456789012345678901234567890123456789"
tags = {}
policies = ["readonly", "jitssh-user"]

[[identities]]
name = "dev"
session_name = "dave"
tags = { userName = "david", team = "blue" }

[[instances]]
id = "i-0123456789abcdef0"
name = "api"
state = "stopped"
private_ip = "172.16.0.5"
public_ip = "203.0.113.7"
az = "eu-west-1b"
ssm = "offline"
platform = "windows"
instance_type = "m5.large"
tags = { env = "prod" }

[generate]
count = 25
name_prefix = "fleet"
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Resolve("ignored")
	if err != nil {
		t.Fatal(err)
	}
	if a.SCPs != nil {
		t.Errorf("scps = [] must mean no organisation, got %d SCPs", len(a.SCPs))
	}
	ops, dev := a.Identities[0], a.Identities[1]
	if ops.ARN != "arn:aws:iam::111122223333:user/ops/bob" || len(ops.Tags) != 0 || len(ops.Policies) != 2 ||
		ops.SecretAccessKey != "0123456789012345678901234567890123456789" || !strings.HasPrefix(ops.UserID, "AIDA") {
		t.Errorf("ops %+v", ops)
	}
	if dev.ARN != "arn:aws:sts::111122223333:assumed-role/JitsshDeveloper/dave" || dev.Tags["userName"] != "david" || dev.Tags["team"] != "blue" {
		t.Errorf("dev %+v", dev)
	}
	if dev.AccessKeyID == ops.AccessKeyID {
		t.Error("generated access keys collide")
	}
	if len(a.Instances) != 26 {
		t.Fatalf("%d instances", len(a.Instances))
	}
	api := a.Instances[0]
	if api.State != "stopped" || api.SSMOnline || api.Platform != "windows" || api.Tags["Name"] != "api" || api.Tags["env"] != "prod" ||
		api.PublicDNS != "ec2-203-0-113-7.eu-west-1.compute.amazonaws.com" || api.AZ != "eu-west-1b" || api.Virtual {
		t.Errorf("api %+v", api)
	}
	g := a.Instances[1:]
	if g[0].ID != "i-0f000000000000001" || g[0].Name() != "fleet-00001" || !g[0].Virtual || g[19].State != "stopped" || g[9].SSMOnline {
		t.Errorf("generated %+v / %+v / %+v", g[0], g[19], g[9])
	}
}

func TestBadFiles(t *testing.T) {
	base := "[[identities]]\nname = \"d\"\n"
	inst := "[[instances]]\nid = \"i-0123456789abcdef0\"\nprivate_ip = \"10.0.0.1\"\n"
	inst2 := "[[instances]]\nid = \"i-0123456789abcdef1\"\nprivate_ip = \"10.0.0.1\"\n"
	net := "[[vpcs]]\nid = \"vpc-0000000000000000a\"\ncidr = \"10.0.0.0/16\"\n" +
		"[[subnets]]\nid = \"subnet-0000000000000000a\"\nvpc_id = \"vpc-0000000000000000a\"\ncidr = \"10.0.0.0/24\"\n" +
		"[[subnets]]\nid = \"subnet-0000000000000000b\"\nvpc_id = \"vpc-0000000000000000a\"\ncidr = \"10.0.1.0/24\"\npublic = true\n"
	for _, tc := range []struct{ text, want string }{
		{"region = ", "not valid TOML: line 1"},
		{"colour = \"blue\"\n" + base, `unknown key "colour"`},
		{base + "bogus = 1\n", `unknown key "identities.bogus"`},
		{"region = \"mars\"\n" + base, `region "mars"`},
		{"account = \"12\"\n" + base, `account "12"`},
		{"", "no [[identities]]"},
		{base + "[[identities]]\nname = \"d\"\n", "duplicate name"},
		{base + "type = \"group\"\n", `type "group"`},
		{base + "policies = [\"nope\"]\n", `unknown policy "nope"`},
		{base + "access_key_id = \"short\"\n", "access_key_id"},
		{base + "secret_access_key = \"x\"\n", "secret_access_key"},
		{base + "user = \"u\"\n", "user is for type"},
		{base + "session_name = \"a b\"\n", "session_name"},
		{base + "tags = { \"aws:x\" = \"y\" }\n", "not a valid tag key"},
		{"scps = [\"missing\"]\n" + base, `scps: unknown policy "missing"`},
		{"[policies.p]\ndocument = \"{}\"\n" + base, "policies.p"},
		{"[policies.p]\n" + base, "exactly one of document and file"},
		{"[policies.jitssh-user]\ndocument = \"{}\"\n" + base, "built in"},
		{"[policies.p]\nfile = \"p.json\"\n" + base, "only allowed in configuration files"},
		{base + strings.Replace(inst, "i-0123456789abcdef0", "i-XYZ", 1), `id "i-XYZ"`},
		{base + inst + inst, "duplicate id"},
		{base + inst + "state = \"exploded\"\n", "state"},
		{base + inst + "ssm = \"maybe\"\n", "ssm"},
		{base + inst + "platform = \"plan9\"\n", "platform"},
		{base + strings.Replace(inst, "10.0.0.1", "8.8.8.8", 1), "private_ip"},
		{base + inst + "public_ip = \"10.1.1.1\"\n", "public_ip"},
		{base + inst + "az = \"eu-west-1a\"\n", "availability zone of us-east-1"},
		{base + inst + "name = \"a\"\ntags = { Name = \"b\" }\n", "not both"},
		{base + inst + "subnet_id = \"subnet-zz\"\n", "subnet_id"},
		{base + "[generate]\ncount = 1000000\n", "generate.count"},
		{base + strings.Replace(inst, "i-0123456789abcdef0", "i-0f000000000000002", 1) + "[generate]\ncount = 3\n", "also one of the 3 generated"},
		{base + "[generate]\ncount = 3\nname_prefix = \"a b\"\n", "name_prefix"},
		// The network.
		{base + net + inst + "public = true\n", "needs a public subnet"},
		{base + net + strings.Replace(inst, "10.0.0.1", "10.9.0.1", 1), "in no declared subnet"},
		{base + net + inst + "subnet_id = \"subnet-0000000000000000b\"\n", "not in subnet subnet-0000000000000000b"},
		{base + net + inst + "vpc_id = \"vpc-0000000000000000b\"\n", "in no declared subnet"},
		{base + net + inst + "subnet_id = \"subnet-0000000000000000a\"\nvpc_id = \"vpc-0000000000000000b\"\n", "but subnet"},
		{base + net + inst + "az = \"us-east-1c\"\n", "but subnet"},
		{base + net + inst + inst2, "both have private_ip 10.0.0.1"},
		{base + net + inst + "public_ip = \"127.0.0.9\"\npublic = true\n", "not both"},
		{base + net + "[[vpcs]]\nid = \"vpc-0000000000000000a\"\ncidr = \"10.1.0.0/16\"\n", "duplicate id"},
		{base + "[[vpcs]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\n", `id "vpc-x"`},
		{base + "[[vpcs]]\nid = \"vpc-0000000000000000a\"\ncidr = \"8.8.0.0/16\"\n", "private IPv4 CIDR"},
		{base + "[[vpcs]]\nid = \"vpc-0000000000000000a\"\ncidr = \"10.0.0.1/16\"\n", "did you mean 10.0.0.0/16"},
		{base + "[[vpcs]]\nid = \"vpc-0000000000000000a\"\ncidr = \"10.0.0.0/8\"\n", "/16 to /28"},
		{base + "[[subnets]]\nid = \"subnet-0000000000000000a\"\nvpc_id = \"vpc-0000000000000000a\"\ncidr = \"10.0.0.0/24\"\n", "need their [[vpcs]]"},
		{base + net + "[[subnets]]\nid = \"subnet-0000000000000000c\"\nvpc_id = \"vpc-0000000000000000a\"\ncidr = \"10.0.0.128/25\"\n", "overlaps subnet"},
		{base + net + "[[subnets]]\nid = \"subnet-0000000000000000c\"\nvpc_id = \"vpc-0000000000000000a\"\ncidr = \"10.5.0.0/24\"\n", "not inside its VPC"},
		{base + net + "[[subnets]]\nid = \"subnet-0000000000000000c\"\nvpc_id = \"vpc-0000000000000000f\"\ncidr = \"10.0.5.0/24\"\n", "names no [[vpcs]]"},
		{base + "[[endpoints]]\nid = \"eice-0000000000000000a\"\nsubnet_id = \"subnet-0000000000000000a\"\n", "need [[subnets]]"},
		{base + net + "[[endpoints]]\nid = \"eice-0000000000000000a\"\nsubnet_id = \"subnet-0000000000000000f\"\n", "names no [[subnets]]"},
		{base + net + "[[endpoints]]\nid = \"eice-zz\"\nsubnet_id = \"subnet-0000000000000000a\"\n", `id "eice-zz"`},
		{base + net + "[[endpoints]]\nid = \"eice-0000000000000000a\"\nsubnet_id = \"subnet-0000000000000000a\"\nstate = \"happy\"\n", `state "happy"`},
		{base + net + "[[endpoints]]\nid = \"eice-0000000000000000a\"\nsubnet_id = \"subnet-0000000000000000a\"\nbogus = 1\n", `unknown key "endpoints.bogus"`},
		{base + net + "[[subnets]]\nid = \"subnet-0000000000000000a\"\nvpc_id = \"vpc-0000000000000000a\"\ncidr = \"10.0.9.0/24\"\n", "duplicate id"},
	} {
		_, err := Parse([]byte(tc.text), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}

func TestLoadNames(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.toml"))
	if err == nil || !strings.Contains(err.Error(), "absent.toml") {
		t.Errorf("Load(absent) = %v", err)
	}
	path := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(path, []byte("region = 1\n"), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(bad) = %v, want the path in the error", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(BuiltinText))
	f.Add([]byte("[[identities]]\ntags = {}\n[generate]\ncount = 2\naccounts = 2\nregions = 2\n"))
	f.Add([]byte("[[identities]]\n[organization]\nregions=[\"us-west-2\"]\n[[organization.accounts]]\naccount=\"210987654321\"\n[[organization.accounts.organization.regional]]\nregion=\"us-west-2\"\n[[organization.accounts.organization.regional.instances]]\nid=\"i-0123456789abcdef0\"\nprivate_ip=\"10.0.0.1\"\n"))
	f.Add([]byte("[[identities]]\ntags = {}\n[generate]\ncount = 2\n"))
	f.Add([]byte("[policies.x]\ndocument = '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}'\n[[identities]]\npolicies=[\"x\"]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b, "")
		if err != nil {
			return
		}
		if file.Generate != nil && file.Generate.Count > 1000 {
			file.Generate.Count = 1000 // keep iterations fast
		}
		if file.Generate != nil && file.Generate.org() {
			file.Generate.Count = min(file.Generate.Count, 3)
			file.Generate.Accounts = min(file.Generate.Accounts, 4)
		}
		a, err := file.Resolve("fuzzer")
		if err != nil {
			return
		}
		// Whatever is accepted must be a valid world.
		if len(a.Identities) == 0 || a.Identities[0].AccessKeyID == "" {
			t.Fatalf("accepted a configuration without a default identity")
		}
		seen := map[string]bool{}
		fleets := []*Account{a}
		if a.Org != nil {
			fleets = append(fleets, a.Org.Regional...)
			accounts := map[string]bool{a.Account: true}
			for _, m := range a.Org.Members {
				if accounts[m.Account.Account] {
					t.Fatalf("duplicate account %s accepted", m.Account.Account)
				}
				accounts[m.Account.Account] = true
				fleets = append(append(fleets, m.Account), m.Regional...)
			}
		}
		for _, fl := range fleets {
			for _, in := range fl.Instances {
				if seen[in.ID] {
					t.Fatalf("duplicate instance %s accepted", in.ID)
				}
				seen[in.ID] = true
				if !in.Managed && !strings.HasPrefix(in.AZ, fl.Region) {
					t.Fatalf("instance %s in %s has AZ %s", in.ID, fl.Region, in.AZ)
				}
			}
		}
	})
}

func TestEICFalseCannotCombineWithJITOrBastion(t *testing.T) {
	for _, extra := range []string{"jit = true", "bastion = true"} {
		conf := "region = \"us-east-1\"\naccount = \"123456789012\"\n[[identities]]\nname = \"default\"\nrole = \"Dev\"\nsession_name = \"dev\"\naccess_key_id = \"AKIAJITSSHSANDBOX001\"\n[[instances]]\nid = \"i-0123456789abcdef0\"\nprivate_ip = \"10.0.0.5\"\neic = false\n" + extra + "\n"
		if _, err := Parse([]byte(conf), ""); err == nil || !strings.Contains(err.Error(), "eic = false") {
			t.Errorf("%s with eic = false: err = %v", extra, err)
		}
	}
}

func TestFailRulesInTheFile(t *testing.T) {
	f, err := Parse([]byte(BuiltinText+"\n[fail]\n\"ssm:DescribeInstanceInformation\" = \"100%\"\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Resolve("alice")
	if err != nil {
		t.Fatal(err)
	}
	if a.Fail["ssm:DescribeInstanceInformation"] != "100%" {
		t.Fatalf("fail rules %v", a.Fail)
	}
	if _, err := Parse([]byte(BuiltinText+"\n[fail]\n\"ssm:*\" = \"often\"\n"), ""); err == nil || !strings.Contains(err.Error(), "fail") {
		t.Fatalf("a bad fail rule: %v", err)
	}
}

// TestUnknownKeyError: an unknown key is an *UnknownKeyError with its
// dotted path, naming no command (jitssh-sandbox adds where the format is).
func TestUnknownKeyError(t *testing.T) {
	_, err := Parse([]byte(BuiltinText+"\n[[identities]]\nname = \"x\"\nbogus = 1\n"), "")
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || uk.Key != "identities.bogus" || strings.Contains(err.Error(), "jitssh-sandbox") {
		t.Errorf("Parse with an unknown key: %v", err)
	}
}
