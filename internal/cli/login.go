package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/ssologin"
)

// loginAPI is what `jitssh login` asks AWS once signed in.
type loginAPI interface {
	RetrieveCredentials(ctx context.Context) (awsapi.CredentialsInfo, error)
	CallerIdentity(ctx context.Context) (*awsapi.Caller, error)
}

// loginOptions is `jitssh login` after flag parsing.
type loginOptions struct {
	IO IOStreams
	// Profile is --profile or jitssh's config's profile ("": AWS_PROFILE,
	// else default).
	Profile func() (string, error)
	// DeviceCode: --use-device-code or --no-browser.
	DeviceCode bool
	// NoOpen: --no-browser-open (print the URL, open nothing).
	NoOpen bool
	// SSO resolves the profile's SSO session (*ssologin.NotSSOError when
	// it has none).
	SSO func(ctx context.Context, profile string) (*ssologin.Session, ssoSession, error)
	// API builds the AWS clients with the profile's credentials.
	API func(ctx context.Context) (loginAPI, error)
	// Browser opens a URL (nil: there is no browser to open here).
	Browser func(url string) error
	// MFACode: --mfa-code, the answer to an MFA role profile's prompt
	// (scripts); set into the globals before API.
	MFACode string
}

func newLoginCmd(g *globals, runF func(context.Context, *loginOptions) error) *cobra.Command {
	o := &loginOptions{IO: g.io, Profile: g.profileName, SSO: newSSO, Browser: systemBrowser(),
		API: func(ctx context.Context) (loginAPI, error) { return g.api(ctx, "") }}
	setMFA := func() { g.mfaCode = o.MFACode }
	var noBrowser bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to AWS for the profile: IAM Identity Center (SSO) without the AWS CLI, or an MFA-protected role once",
		Long: `login signs in the AWS profile (--profile, else AWS_PROFILE, else jitssh's
config, else default) so that later connections need no prompt.

For an IAM Identity Center (SSO) profile (sso_session, or the legacy
sso_start_url), it signs in as the AWS CLI v2's "aws sso login" does and
writes the same token cache (~/.aws/sso/cache/<sha1>.json), which the AWS
CLI and SDKs reuse: by default in your browser (authorization code with
PKCE, redirected to a listener on 127.0.0.1), or with a code you confirm on
any device's browser (--use-device-code, or where no browser can be opened
here). The token is refreshed when it expires; "jitssh logout" removes it.

For any other profile (an MFA-protected role, credential_process, …) it
retrieves the credentials once, asking for an MFA code if the profile needs
one, so that they are cached for later connections.

When ssh, proxy or ls finds the SSO session signed out or expired, it
offers this sign-in on the terminal; without a terminal it says to run
this command.`,
		Example: `  jitssh login --profile sso                     # the browser opens; approve there
  jitssh login --profile sso --use-device-code   # confirm a code on any device
  jitssh login --profile admin-mfa               # an MFA role: type the code once
  jitssh login --profile admin-mfa --mfa-code 123456   # the same, from a script
  AWS_PROFILE=sso jitssh ssh web-1               # then connect`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.DeviceCode = o.DeviceCode || noBrowser
			if o.NoOpen {
				o.Browser = nil
			}
			setMFA()
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runLogin(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.DeviceCode, "use-device-code", false, "sign in with a code confirmed in any device's browser instead of a redirect to this machine")
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "same as --use-device-code")
	cmd.Flags().BoolVar(&o.NoOpen, "no-browser-open", false, "print the sign-in URL without opening a browser")
	cmd.Flags().StringVar(&o.MFACode, "mfa-code", "", "the MFA code of a role profile with mfa_serial, instead of asking (scripts)")
	return cmd
}

// runLogin signs the profile in.
func runLogin(ctx context.Context, o *loginOptions) error {
	profile, err := o.Profile()
	if err != nil {
		return err
	}
	s, sc, err := o.SSO(ctx, profile)
	var notSSO *ssologin.NotSSOError
	switch {
	case errors.As(err, &notSSO):
		return loginCredentials(ctx, o)
	case err != nil:
		return err
	}
	tok, err := sc.Login(ctx, ssologin.LoginOptions{DeviceCode: o.DeviceCode || o.Browser == nil, Show: showSignIn(o.IO.Err, s, o.Browser)})
	if err != nil {
		return err
	}
	refresh := "it is refreshed when it expires"
	if s.Legacy() || tok.RefreshToken == "" {
		refresh = "sign in again then"
	}
	fmt.Fprintf(o.IO.Err, "jitssh: signed in to %s (profile %s): the token is valid until %s (%s)\n", s, s.Profile, tok.ExpiresAt.Local().Format(time.DateTime+" MST"), refresh)
	if s.AccountID == "" || s.RoleName == "" {
		return nil // a profile that only signs in: no role to check
	}
	return loginCredentials(ctx, o)
}

// loginCredentials retrieves the profile's credentials once (an MFA code
// asked for here is cached for later connections) and says who that is.
func loginCredentials(ctx context.Context, o *loginOptions) error {
	api, err := o.API(ctx)
	if err != nil {
		return err
	}
	info, err := api.RetrieveCredentials(ctx)
	if err != nil {
		return err
	}
	caller, err := api.CallerIdentity(ctx)
	if err != nil {
		return err
	}
	until := "they do not expire (long-term keys)"
	if info.CanExpire {
		until = "valid until " + info.Expires.Local().Format(time.DateTime+" MST")
	}
	fmt.Fprintf(o.IO.Out, "signed in as %s; credentials %s\n", caller.ARN, until)
	return nil
}

// logoutOptions is `jitssh logout` after flag parsing.
type logoutOptions struct {
	IO      IOStreams
	Profile func() (string, error)
	SSO     func(ctx context.Context, profile string) (*ssologin.Session, ssoSession, error)
	// Forget removes the cached role sessions of a profile without SSO
	// and returns the files removed.
	Forget func(ctx context.Context, profile string) ([]string, error)
}

func newLogoutCmd(g *globals, runF func(context.Context, *logoutOptions) error) *cobra.Command {
	o := &logoutOptions{IO: g.io, Profile: g.profileName, SSO: newSSO, Forget: func(ctx context.Context, profile string) ([]string, error) {
		return awsapi.ForgetCredentials(ctx, awsapi.Options{Profile: profile})
	}}
	return &cobra.Command{
		Use:   "logout",
		Short: "Sign out: the profile's IAM Identity Center (SSO) session, or its cached MFA role sessions",
		Long: `logout signs the profile's IAM Identity Center session out of the portal (as
"aws sso logout" does), then removes its token cache file
(~/.aws/sso/cache/<sha1>.json) and the AWS CLI's cached credentials of the
profile's role (~/.aws/cli/cache). The next connection asks for a sign-in.

For a profile without SSO it removes the cached sessions of its roles
(~/.aws/cli/cache): the next command assumes them again, asking for the MFA
code if the profile has one.`,
		Example: `  jitssh logout --profile sso
  jitssh logout --profile admin-mfa`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runLogout(cmd.Context(), o)
		},
	}
}

// runLogout signs the profile's SSO session out.
func runLogout(ctx context.Context, o *logoutOptions) error {
	profile, err := o.Profile()
	if err != nil {
		return err
	}
	s, sc, err := o.SSO(ctx, profile)
	var notSSO *ssologin.NotSSOError
	switch {
	case errors.As(err, &notSSO) && o.Forget != nil:
		return forgetSessions(ctx, o, profile)
	case err != nil:
		return err
	}
	res, err := sc.Logout(ctx)
	if err != nil {
		return err
	}
	if res.PortalErr != nil {
		warnTo(o.IO.Err, fmt.Errorf("the SSO portal did not take the sign-out (the local token is removed anyway): %w", res.PortalErr))
	}
	for _, p := range res.Removed {
		fmt.Fprintf(o.IO.Err, "jitssh: removed %s\n", p)
	}
	if !res.SignedOut && len(res.Removed) == 0 {
		fmt.Fprintf(o.IO.Err, "jitssh: %s (profile %s) was not signed in\n", s, s.Profile)
		return nil
	}
	fmt.Fprintf(o.IO.Err, "jitssh: signed out of %s (profile %s)\n", s, s.Profile)
	return nil
}

// forgetSessions is logout for a profile without SSO: its roles' cached
// sessions removed.
func forgetSessions(ctx context.Context, o *logoutOptions, profile string) error {
	removed, err := o.Forget(ctx, profile)
	if err != nil {
		return err
	}
	for _, p := range removed {
		fmt.Fprintf(o.IO.Err, "jitssh: removed %s\n", p)
	}
	if len(removed) == 0 {
		fmt.Fprintf(o.IO.Err, "jitssh: profile %s has no cached session\n", ssologin.ProfileName(profile))
	}
	return nil
}
