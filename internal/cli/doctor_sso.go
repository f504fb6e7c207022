package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jitssh/jitssh/internal/ssologin"
)

// checkSSOSession is doctor's line about the profile's IAM Identity
// Center session, if it uses one: the start URL, the cached token's
// expiry and whether it can be refreshed (ok=false: no SSO here).
func checkSSOSession(ctx context.Context, g *globals) (check, bool) {
	profile, err := g.profileName()
	if err != nil || (envCredentials() && profile == "") {
		return check{}, false
	}
	newSSOFn := g.newSSO
	if newSSOFn == nil {
		newSSOFn = newSSO
	}
	s, sc, err := newSSOFn(ctx, profile)
	var notSSO *ssologin.NotSSOError
	switch {
	case errors.As(err, &notSSO):
		return check{}, false
	case err != nil:
		return check{Name: "sso session", Status: "fail", Detail: err.Error(), Fix: "correct the profile's sso_session or sso_start_url settings (docs/credentials.md)"}, true
	}
	return ssoStatusCheck(s, sc.Status(), time.Now()), true
}

// ssoStatusCheck words the token cache's state.
func ssoStatusCheck(s *ssologin.Session, st ssologin.Status, now time.Time) check {
	c := check{Name: "sso session"}
	what := fmt.Sprintf("%s (%s, profile %s)", s, s.StartURL, s.Profile)
	signIn := fmt.Sprintf("`jitssh login --profile %s`", s.Profile)
	t := st.Token
	switch {
	case st.Err != nil:
		c.Status, c.Detail, c.Fix = "fail", fmt.Sprintf("%s: the token cache cannot be used: %v", what, st.Err), signIn
	case t == nil:
		c.Status, c.Detail, c.Fix = "fail", what+": not signed in (no cached token at "+st.Path+")", signIn
	case t.Valid(now, 0) && !s.Legacy() && t.Refreshable(now):
		c.Status, c.Detail = "ok", fmt.Sprintf("%s: token valid until %s, then refreshed (the sign-in lasts until %s at most)", what, stamp(t.ExpiresAt), stamp(t.RegistrationExpiresAt))
	case t.Valid(now, 0):
		c.Status, c.Detail, c.Fix = "ok", fmt.Sprintf("%s: token valid until %s; it cannot be refreshed", what, stamp(t.ExpiresAt)), "sign in again then: "+signIn
	case !s.Legacy() && t.Refreshable(now):
		c.Status, c.Detail = "ok", fmt.Sprintf("%s: token expired at %s; the next connection refreshes it", what, stamp(t.ExpiresAt))
	default:
		c.Status, c.Detail, c.Fix = "fail", fmt.Sprintf("%s: token expired at %s and cannot be refreshed", what, stamp(t.ExpiresAt)), signIn
	}
	return c
}

// stamp formats a time for doctor ("-" for none).
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime + " MST")
}
