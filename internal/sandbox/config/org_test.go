package config

import "testing"

func TestBuiltinOrgResolves(t *testing.T) {
	a, err := BuiltinOrg().Resolve("developer")
	if err != nil {
		t.Fatal(err)
	}
	if a.Org == nil || len(a.Org.Members) != 3 {
		t.Fatalf("org = %+v", a.Org)
	}
}
