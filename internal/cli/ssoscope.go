package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/scope"
	"github.com/jitssh/jitssh/internal/ssologin"
)

// Scopes from an SSO session (docs/scopes.md): a [[scope]] with
// sso_session = NAME is every account the session's portal lists, each
// with the first role of sso_roles it offers. Such a location's profile
// is the label sso:SESSION/ACCOUNT/ROLE (ssologin.Ref): the location
// cache stores it, `jitssh ssh` hands it to its proxy as the profile, and
// wherever a profile is turned into clients (apiAt, api) the label is
// turned into that role's GetRoleCredentials credentials, in memory.

// ssoSessions are the SSO sessions this process uses for sso_session
// scopes and labels, each set up once (token checked, sign-in offered).
type ssoSessions struct {
	mu sync.Mutex
	m  map[string]*ssoState
	// portal, if set, replaces the portal client (tests).
	portal func(s *ssologin.Session) ssologin.AccountPortal
}

// ssoState is one SSO session, ready to call the portal.
type ssoState struct {
	once   sync.Once
	sess   *ssologin.Session
	sc     ssoSession
	portal ssologin.AccountPortal
	region string // the region of the profile naming the session
	err    error
}

// token is the session's access token, refreshed when it expires.
func (st *ssoState) token(ctx context.Context) (string, error) {
	t, err := st.sc.Ensure(ctx)
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

// noSSOProfileError is an sso_session that no profile of the AWS config
// names: jitssh reads the session's settings (start URL, region,
// endpoints) through such a profile, and signs in with it.
type noSSOProfileError struct{ session, file string }

func (e *noSSOProfileError) Error() string {
	return fmt.Sprintf("no profile of %s names sso_session = %s", e.file, e.session)
}

// ssoState returns the SSO session name, set up once: the first profile
// of the AWS config naming it gives its settings; its token is checked
// (and refreshed), and a sign-in offered as for an SSO profile when it is
// missing or expired.
func (g *globals) ssoState(ctx context.Context, name string) (*ssoState, error) {
	g.sso.mu.Lock()
	if g.sso.m == nil {
		g.sso.m = map[string]*ssoState{}
	}
	st := g.sso.m[name]
	if st == nil {
		st = &ssoState{}
		g.sso.m[name] = st
	}
	g.sso.mu.Unlock()
	st.once.Do(func() { st.err = g.openSSO(ctx, name, st) })
	return st, st.err
}

func (g *globals) openSSO(ctx context.Context, name string, st *ssoState) error {
	cfgFile, credsFile, err := scope.ConfigFiles()
	if err != nil {
		return err
	}
	profiles, err := scope.ReadProfiles(cfgFile, credsFile)
	if err != nil {
		return err
	}
	var profile *scope.Profile
	for i := range profiles {
		if profiles[i].SSOSession == name {
			profile = &profiles[i]
			break
		}
	}
	if profile == nil {
		return &noSSOProfileError{session: name, file: cfgFile}
	}
	newSSOFn := g.newSSO
	if newSSOFn == nil {
		newSSOFn = newSSO
	}
	st.sess, st.sc, err = newSSOFn(ctx, profile.Name)
	if err != nil {
		return err
	}
	st.region = profile.Region
	if _, err := st.sc.Ensure(ctx); err != nil {
		if g.noSignIn {
			return err
		}
		if err := g.offerSignIn(ctx, st.sess, st.sc, err); err != nil {
			return err
		}
	}
	if g.sso.portal != nil {
		st.portal = g.sso.portal(st.sess)
		return nil
	}
	p, err := ssologin.NewAccountPortal(ctx, st.sess.Profile, st.sess.Region)
	if err != nil {
		return err
	}
	st.portal = p
	return nil
}

// ssoProfiles expands an sso_session scope: one profile-like entry per
// account with a preferred role (its name the label); s's failures get
// each account that offers none, or whose roles could not be listed, or
// the whole session when it cannot be used.
func (s *scopeSearch) ssoProfiles(ctx context.Context, session string, preferred []string) []scope.Profile {
	ps, fails := s.ssoReach(ctx, session, preferred)
	s.failures = append(s.failures, fails...)
	return ps
}

func (s *scopeSearch) ssoReach(ctx context.Context, session string, preferred []string) ([]scope.Profile, []scope.Failure) {
	whole := func(err error) []scope.Failure {
		return []scope.Failure{{Location: scope.Location{Profile: ssologin.LabelPrefix + session, Region: "-"}, Err: err}}
	}
	st, err := s.g.ssoState(ctx, session)
	if err != nil {
		return nil, whole(err)
	}
	tok, err := st.token(ctx)
	if err != nil {
		return nil, whole(err)
	}
	accounts, err := ssologin.Reach(ctx, st.portal, tok, preferred, 0)
	if err != nil {
		return nil, whole(ssologin.Classify(st.sess, err))
	}
	var (
		out   []scope.Profile
		fails []scope.Failure
	)
	for _, a := range accounts {
		if a.Err != nil {
			fails = append(fails, scope.Failure{Location: scope.Location{Profile: ssologin.LabelPrefix + session + "/" + a.ID, Account: a.ID, Region: "-"}, Err: a.Err})
			continue
		}
		ref := ssologin.Ref{Session: session, Account: a.ID, Role: a.Role}
		out = append(out, scope.Profile{Name: ref.String(), Account: a.ID, Region: st.region, SSOSession: session, SSORole: a.Role})
	}
	return out, fails
}

// ssoAPI builds the clients of a role reached through an SSO session, in
// region: its credentials from GetRoleCredentials (kept in memory, shared
// by every region's clients), the endpoints from the profile naming the
// session. They are got now, so that a refused token is a sign-in to
// offer, not the first call's failure. region "" is the SDK's: AWS_REGION
// (what `jitssh ssh` hands its proxy), else that profile's region.
func (g *globals) ssoAPI(ctx context.Context, ref ssologin.Ref, region string) (*awsapi.Client, error) {
	st, err := g.ssoState(ctx, ref.Session)
	if err != nil {
		return nil, err
	}
	creds := ssologin.RoleProvider(&ssologin.RoleCredentials{Portal: st.portal, Token: st.token, Account: ref.Account, Role: ref.Role})
	c, err := awsapi.New(ctx, awsapi.Options{Region: region, Profile: st.sess.Profile, Credentials: creds, NoPrompt: true})
	if err != nil {
		return nil, err
	}
	if _, err := c.RetrieveCredentials(ctx); err != nil {
		return nil, ssologin.Classify(st.sess, err)
	}
	return c, nil
}

// ssoLabelAPI is ssoAPI for a profile name that is a label; ok is false
// for any other profile name. A malformed label is an error.
func (g *globals) ssoLabelAPI(ctx context.Context, profile, region string) (c *awsapi.Client, ok bool, err error) {
	if !ssologin.IsLabel(profile) {
		return nil, false, nil
	}
	ref, good := ssologin.ParseRef(profile)
	if !good {
		return nil, true, fmt.Errorf("profile %q: a profile name, or sso:SESSION/ACCOUNT/ROLE (an account and role reached through an SSO session)", profile)
	}
	c, err = g.ssoAPI(ctx, ref, region)
	return c, true, err
}

// ssoFix says what to do about an SSO scope's account or session that
// could not be searched ("" for other failures).
func ssoFix(f scope.Failure) string {
	var (
		np *ssologin.NoPreferredRoleError
		ns *noSSOProfileError
		lr *ssologin.LoginRequiredError
	)
	switch {
	case errors.As(f.Err, &np):
		if len(np.Offered) == 0 {
			return "fix: none: no role of this account is assigned to you (it is left out of the scope)"
		}
		confPath, _ := clientconf.DefaultPath()
		return fmt.Sprintf("fix: add one of %s to sso_roles in %s to search this account (it is left out until then)", strings.Join(np.Offered, ", "), firstOf(confPath, "jitssh's config"))
	case errors.As(f.Err, &ns):
		return fmt.Sprintf("fix: add a profile naming the session to %s ([profile NAME] with sso_session = %s) and sign in with `jitssh login --profile NAME`", ns.file, ns.session)
	case errors.As(f.Err, &lr):
		return fmt.Sprintf("fix: sign in with `jitssh login --profile %s`", lr.Session.Profile)
	}
	return ""
}

// ssoLabelCheck is doctor's "AWS profile" finding for a location's label
// (ok false for a profile name).
func ssoLabelCheck(profile string) (check, bool) {
	if !ssologin.IsLabel(profile) {
		return check{}, false
	}
	ref, ok := ssologin.ParseRef(profile)
	if !ok {
		return check{Name: "AWS profile", Status: "fail", Detail: fmt.Sprintf("%q is not sso:SESSION/ACCOUNT/ROLE", profile), Fix: "name a profile of your AWS config with --profile"}, true
	}
	return check{Name: "AWS profile", Status: "ok", Detail: fmt.Sprintf("%s (role %s in account %s through SSO session '%s': sso:GetRoleCredentials, kept in memory)", profile, ref.Role, ref.Account, ref.Session)}, true
}
