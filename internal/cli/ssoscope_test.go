package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/scope"
	"github.com/jitssh/jitssh/internal/ssologin"
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

// TestSSOScopeSession: an sso_session scope reads its session through
// the first profile naming it; a session that needs a sign-in is offered
// one on the terminal as for an SSO profile (declined: the scope's
// session is a location not searched, with `jitssh login --profile` of
// that profile); no profile naming it is reported with the fix.
func TestSSOScopeSession(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("[profile a]\nregion = eu-west-1\n[profile z-sso]\nsso_session = corp\n[profile b-sso]\nsso_session = corp\nregion = us-west-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	corp := &ssologin.Session{Profile: "b-sso", Name: "corp", StartURL: "https://corp.example/start", Region: "us-east-1"}
	required := &ssologin.LoginRequiredError{Session: corp, Reason: "not signed in (no cached token)"}
	for _, c := range []struct {
		name, typed string
		signIn      bool
	}{{"yes", "y\n", true}, {"no", "n\n", false}} {
		t.Run(c.name, func(t *testing.T) {
			sess := &fakeSSOSession{ensureErr: required}
			var asked []string
			g := &globals{tty: func() (io.ReadWriteCloser, error) { return &fakeTTY{Reader: strings.NewReader(c.typed)}, nil }}
			g.newSSO = func(_ context.Context, profile string) (*ssologin.Session, ssoSession, error) {
				asked = append(asked, profile)
				return corp, sess, nil
			}
			g.sso.portal = func(*ssologin.Session) ssologin.AccountPortal { return nil }
			g.browser = func(string) error { return nil }
			st, err := g.ssoState(context.Background(), "corp")
			if strings.Join(asked, ",") != "b-sso" || len(sess.logins) == 1 != c.signIn {
				t.Fatalf("profiles asked %v, %d sign-ins", asked, len(sess.logins))
			}
			if c.signIn {
				if err != nil || st.region != "us-west-2" {
					t.Fatalf("ssoState = %+v, %v", st, err)
				}
				return
			}
			s := &scopeSearch{g: g}
			if ps := s.ssoProfiles(context.Background(), "corp", []string{"Admin"}); len(ps) != 0 || len(s.failures) != 1 {
				t.Fatalf("declined: %v, %v", ps, s.failures)
			}
			if fix := locationFix(s.failures[0]); fix != "fix: sign in with `jitssh login --profile b-sso`" {
				t.Errorf("fix = %q", fix)
			}
		})
	}
	g := &globals{}
	_, err := g.ssoState(context.Background(), "other")
	var ns *noSSOProfileError
	if !errors.As(err, &ns) || !strings.Contains(err.Error(), "no profile of "+cfg+" names sso_session = other") {
		t.Fatalf("a session no profile names: %v", err)
	}
}
