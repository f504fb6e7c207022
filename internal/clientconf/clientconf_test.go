package clientconf

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/targets"
)

func TestParse(t *testing.T) {
	c, err := Parse([]byte("# mine\ndefault_user = \"alice\"\nregion = \"eu-west-1\"\nprofile = \"prod\"\ntransport = \"ssm\"\n"), "x.toml")
	if err != nil || !reflect.DeepEqual(c, Config{DefaultUser: "alice", Region: "eu-west-1", Profile: "prod", Transport: "ssm"}) {
		t.Fatalf("Parse = %+v, %v", c, err)
	}
	for in, want := range map[string]string{
		"default_user = \"Alice\"":                    "default_user",
		"region = \"europe\"":                         "not an AWS region",
		"regoin = \"eu-west-1\"":                      "unknown setting regoin",
		"profile = \"a b\"":                           "profile",
		"transport = \"carrier\"":                     "transport \"carrier\" is not available",
		"transport = \"bastion\"":                     "needs via",
		"via = \"-bad\"":                              "via",
		"via = \"bastion-1\"\ntransport = \"direct\"": "goes with transport",
		"region = 1":                                  "x.toml",
		"default_user = \"alice":                      "line 1",
		"[default_user]\nx = 1":                       "x.toml",
		"default_user = \"root\"\n\n\nregion = \"eu-west-1\"\nregion = \"eu-west-2\"":              "line 5",
		"[[scope]]\nname = \"all\"\nprofiles = [\"a\"]":                                            "not \"all\"",
		"[[scope]]\nname = \"p\"":                                                                  "give either profiles",
		"[[scope]]\nname = \"p\"\nprofiles = [\"a\"]\nsso_session = \"s\"":                         "give either profiles",
		"[[scope]]\nname = \"p\"\nprofiles = [\"a b\"]":                                            "profile \"a b\"",
		"[[scope]]\nname = \"p\"\nprofiles = [\"a\"]\nregions = [\"all\", \"eu-west-1\"]":          "goes alone",
		"[[scope]]\nname = \"p\"\nprofiles = [\"a\"]\nregions = [\"europe\"]":                      "not an AWS region",
		"[[scope]]\nname = \"p\"\nprofiles = [\"a\"]\n[[scope]]\nname = \"p\"\nprofiles = [\"b\"]": "defined twice",
		"[[scope]]\nname = \"p\"\nsso_session = \"s\"":                                             "needs sso_roles",
		"default_scope = \"prod\"":                                                                 "names no [[scope]]",
		"[[scope]]\nname = \"p\"\nprofiles = [\"a\"]\nregion = \"eu-west-1\"":                      "unknown setting scope.region",
	} {
		_, err := Parse([]byte(in), "x.toml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v; want an error containing %q", in, err, want)
		}
	}
}

func TestParseTransports(t *testing.T) {
	for _, tr := range Transports {
		in := "transport = \"" + tr + "\"\n"
		if tr == "bastion" {
			in += "via = \"admin@bastion-1\"\n"
		}
		c, err := Parse([]byte(in), "x.toml")
		if err != nil || c.Transport != tr {
			t.Errorf("Parse(%q) = %+v, %v", in, c, err)
		}
	}
	c, err := Parse([]byte("via = \"i-0a1b2c3d4e5f00004\"\n"), "x.toml")
	if err != nil || c.Via != "i-0a1b2c3d4e5f00004" {
		t.Errorf("via alone: %+v, %v", c, err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(filepath.Join(dir, "missing.toml"))
	if err != nil || !reflect.DeepEqual(c, Config{}) {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	p := filepath.Join(dir, "config.toml")
	os.WriteFile(p, []byte("region = \"us-west-2\"\n"), 0o600)
	if c, err := Load(p); err != nil || c.Region != "us-west-2" || c.Path != p {
		t.Fatalf("Load = %+v, %v", c, err)
	}
	t.Setenv(EnvPath, p)
	if got, _ := DefaultPath(); got != p {
		t.Fatalf("DefaultPath with %s set = %q", EnvPath, got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("default_user = \"alice\"\nregion = \"eu-west-1\""))
	f.Add([]byte("profile = 'x'\ntransport = \"ssm\""))
	f.Add([]byte("transport = \"bastion\"\nvia = \"alice@bastion-1\""))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, "f")
		if err != nil {
			return
		}
		if c.DefaultUser != "" && targets.ValidUser(c.DefaultUser) != nil {
			t.Fatalf("invalid user accepted: %+v", c)
		}
		if c.Region != "" && !targets.ValidRegion(c.Region) {
			t.Fatalf("invalid region accepted: %+v", c)
		}
		if c.Via != "" {
			if _, err := targets.Parse(c.Via); err != nil {
				t.Fatalf("invalid via accepted: %+v", c)
			}
		}
		if c.Transport == "bastion" && c.Via == "" {
			t.Fatalf("bastion without via accepted: %+v", c)
		}
		if strings.ContainsAny(c.Profile, " \n\"'$") {
			t.Fatalf("invalid profile accepted: %+v", c)
		}
	})
}

// FuzzValidProfile: the hand-written check accepts exactly what the
// pattern it replaced accepts.
func FuzzValidProfile(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z0-9_.@+-]{1,128}$`)
	for _, s := range []string{"default", "prod-eu", "a@b+c.d_e", "", "a b", "x/y", strings.Repeat("p", 128), strings.Repeat("p", 129), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validProfile(s), re.MatchString(s); got != want {
			t.Fatalf("validProfile(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

func TestParseScopes(t *testing.T) {
	in := `default_scope = "all"
sso_roles = ["ReadOnly", "Admin"]

[[scope]]
name = "prod"
profiles = ["prod-*", "shared"]
regions = ["eu-west-1", "us-east-1"]

[[scope]]
name = "org"
sso_session = "corp"
regions = ["all"]
`
	c, err := Parse([]byte(in), "x.toml")
	want := Config{Scope: "all", SSORoles: []string{"ReadOnly", "Admin"}, Scopes: []Scope{
		{Name: "prod", Profiles: []string{"prod-*", "shared"}, Regions: []string{"eu-west-1", "us-east-1"}},
		{Name: "org", SSOSession: "corp", Regions: []string{"all"}},
	}}
	if err != nil || !reflect.DeepEqual(c, want) {
		t.Fatalf("Parse = %+v, %v", c, err)
	}
	if got := c.ScopeNames(); !reflect.DeepEqual(got, []string{"prod", "org"}) {
		t.Errorf("ScopeNames = %v", got)
	}
}
