package cli

import (
	"path/filepath"
	"testing"

	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/scope"
)

// TestScopeCoversSSOLabels: a cached location of an SSO role is used by
// a request for its session's scope (in its regions), never by another
// session's scope nor by a scope of profile globs; the label survives the
// location cache.
func TestScopeCoversSSOLabels(t *testing.T) {
	at := scope.Location{Profile: "sso:corp/210987654321/JitsshUser", Account: "210987654321", Region: "us-west-2"}
	req := func(e clientconf.Scope) *scopeRequest {
		return &scopeRequest{name: e.Name, entries: []clientconf.Scope{e}}
	}
	for _, c := range []struct {
		r    *scopeRequest
		want bool
	}{
		{req(clientconf.Scope{Name: "org", SSOSession: "corp"}), true},
		{req(clientconf.Scope{Name: "org", SSOSession: "corp", Regions: []string{"all"}}), true},
		{req(clientconf.Scope{Name: "org", SSOSession: "corp", Regions: []string{"us-west-2"}}), true},
		{req(clientconf.Scope{Name: "org", SSOSession: "corp", Regions: []string{"us-east-1"}}), false},
		{req(clientconf.Scope{Name: "org", SSOSession: "other"}), false},
		{req(clientconf.Scope{Name: "p", Profiles: []string{"*"}}), false},
		{&scopeRequest{name: "all", withDefault: true}, true},
	} {
		if got := c.r.covers(at); got != c.want {
			t.Errorf("%+v covers %v = %v, want %v", c.r.entries, at, got, c.want)
		}
	}
	lying := at
	lying.Account = "123456789012" // a label's account is the location's
	if req(clientconf.Scope{Name: "org", SSOSession: "corp"}).covers(lying) {
		t.Errorf("a location whose account is not its label's is covered")
	}
	cache := &scope.Cache{Path: filepath.Join(t.TempDir(), "locations")}
	if err := cache.Put(map[string]scope.Location{"i-0d1b2c3d4e5f00002": at}); err != nil {
		t.Fatal(err)
	}
	if got, ok := cache.Get("i-0d1b2c3d4e5f00002"); !ok || got != at {
		t.Fatalf("cache.Get = %+v, %v; want %+v", got, ok, at)
	}
}
