package config

import (
	"strings"
	"testing"
)

// Just-in-time users: the built-in web-2 has them; jit needs an instance
// running OpenSSH sshd, and jit_groups need jit and valid group names.
func TestJITInstances(t *testing.T) {
	a, err := Builtin().Resolve("carol")
	if err != nil {
		t.Fatal(err)
	}
	var jit []string
	for _, in := range a.Instances {
		if in.JIT {
			jit = append(jit, in.Name()+" "+strings.Join(in.JITGroups, ","))
		}
	}
	if strings.Join(jit, ";") != "web-2 users" {
		t.Errorf("built-in JIT instances = %q, want web-2 with group users", jit)
	}
	base := "[[identities]]\nname = \"d\"\n[[instances]]\nid = \"i-0123456789abcdef0\"\nprivate_ip = \"10.0.0.1\"\n"
	if f, err := Parse([]byte(base+"jit = true\njit_groups = [\"adm\", \"sudo\"]\n"), ""); err != nil {
		t.Errorf("jit with groups: %v", err)
	} else if a, err := f.Resolve("carol"); err != nil || !a.Instances[0].JIT || strings.Join(a.Instances[0].JITGroups, ",") != "adm,sudo" {
		t.Errorf("jit with groups resolves to %+v, %v", a.Instances, err)
	}
	for text, want := range map[string]string{
		base + "jit = true\nbastion = true\n":         "jit = true needs",
		base + "jit = true\nplatform = \"windows\"\n": "jit = true needs",
		base + "jit_groups = [\"adm\"]\n":             "jit_groups without jit",
		base + "jit = true\njit_groups = [\"Adm\"]\n": "not a group name",
		base + "jit = true\njit_groups = [\"a:b\"]\n": "not a group name",
	} {
		if _, err := Parse([]byte(text), ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}
