package sandboxcli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// mfaCodeCmd is `ctl mfa-code PROFILE`: the current TOTP code of a
// sandbox MFA device, for scripts and tests that answer an MFA prompt.
func (c *ctlClient) mfaCodeCmd() *cobra.Command {
	var next bool
	cmd := &cobra.Command{
		Use:   "mfa-code PROFILE|DEVICE-ARN",
		Short: "Print the current code of a sandbox MFA device (what an authenticator app shows)",
		Long: `mfa-code prints the current six-digit code of the virtual MFA device that
PROFILE's mfa_serial names (a role profile such as "mfa"), or of the
identity PROFILE's own device (an IAM user with mfa = true, such as
"carol"), or of the device whose ARN is given. STS accepts a code once: a
second sign-in within the same 30 seconds needs --next, the next window's
code, which STS accepts too (one window of clock drift).`,
		Example: `  jitssh-sandbox ctl --env-file /tmp/sandbox.env mfa-code mfa
  jitssh-sandbox ctl --env-file /tmp/sandbox.env mfa-code --next carol
  jitssh-sandbox ctl --env-file /tmp/sandbox.env mfa-code arn:aws:iam::123456789012:mfa/carol`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var got struct {
				Serial   string `json:"serial"`
				Code     string `json:"code"`
				ValidFor int    `json:"valid_for"`
			}
			q := url.Values{"profile": {args[0]}, "next": {fmt.Sprint(next)}}
			if err := c.do(cmd.Context(), http.MethodGet, "/_sandbox/mfa-code?"+q.Encode(), nil, &got); err != nil {
				return err
			}
			return c.print(got, func(w io.Writer) { fmt.Fprintln(w, got.Code) })
		},
	}
	cmd.Flags().BoolVar(&next, "next", false, "print the next 30-second window's code instead of the current one")
	return cmd
}

// webIdentityTokenCmd is `ctl web-identity-token`: a JWT of the sandbox's
// OIDC issuer, for AssumeRoleWithWebIdentity.
func (c *ctlClient) webIdentityTokenCmd() *cobra.Command {
	var sub, aud string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "web-identity-token",
		Short: "Print a JSON Web Token of the sandbox's OIDC issuer for AssumeRoleWithWebIdentity",
		Long: `web-identity-token prints an RS256 JSON Web Token signed by the sandbox's
OpenID Connect issuer (http://127.0.0.1:PORT/oidc, whose discovery document
and keys the sandbox serves). Roles with [roles.web_identity] trust tokens
with their subject and audience (the built-in JitsshWebIdentity role:
subject jitssh-sandbox-workload, audience sts.amazonaws.com).`,
		Example: `  jitssh-sandbox ctl --env-file /tmp/sandbox.env web-identity-token > /tmp/token
  aws sts assume-role-with-web-identity --role-arn arn:aws:iam::123456789012:role/JitsshWebIdentity \
      --role-session-name ci --web-identity-token file:///tmp/token
  jitssh-sandbox ctl --env-file /tmp/sandbox.env web-identity-token --sub someone --aud my-app --ttl 5m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl != 0 && (ttl < time.Second || ttl > 24*time.Hour) {
				return fmt.Errorf("--ttl %s: want a duration from 1s to 24h", ttl)
			}
			q := url.Values{"sub": {sub}, "aud": {aud}}
			if ttl != 0 {
				q.Set("ttl", ttl.String())
			}
			var got struct {
				Token    string `json:"token"`
				Issuer   string `json:"issuer"`
				Subject  string `json:"subject"`
				Audience string `json:"audience"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/_sandbox/web-identity-token?"+q.Encode(), nil, &got); err != nil {
				return err
			}
			return c.print(got, func(w io.Writer) { fmt.Fprintln(w, got.Token) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&sub, "sub", "", "the token's subject (sub claim; default jitssh-sandbox-workload)")
	f.StringVar(&aud, "aud", "", "the token's audience (aud claim; default sts.amazonaws.com)")
	f.DurationVar(&ttl, "ttl", 0, "how long the token is valid (default 1h)")
	return cmd
}

// credentialLifetimeCmd is `ctl credential-lifetime [DURATION]`: the cap
// on how long temporary credentials issued from now on last.
func (c *ctlClient) credentialLifetimeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "credential-lifetime [DURATION]",
		Short: "Show or cap how long temporary credentials issued from now on last (0s: no cap)",
		Long: `credential-lifetime caps the lifetime of the temporary credentials the
sandbox issues from now on (AssumeRole, AssumeRoleWithWebIdentity,
GetSessionToken, the Identity Center portal), whatever DurationSeconds
asks for: STS never issues fewer than 15 minutes, and a test of what
happens when credentials expire under a long session should not take an
hour. Credentials already issued keep their expiry. 0s removes the cap.`,
		Example: `  jitssh-sandbox ctl --env-file /tmp/sandbox.env credential-lifetime 10s
  jitssh-sandbox ctl --env-file /tmp/sandbox.env credential-lifetime 0s`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var got map[string]string
			var err error
			if len(args) == 1 {
				if _, perr := time.ParseDuration(args[0]); perr != nil {
					return fmt.Errorf("credential lifetime %q is not a duration: want e.g. 10s, or 0s for no cap", args[0])
				}
				err = c.do(cmd.Context(), http.MethodPut, "/_sandbox/credential-lifetime", map[string]string{"credential_lifetime": args[0]}, &got)
			} else {
				err = c.do(cmd.Context(), http.MethodGet, "/_sandbox/credential-lifetime", nil, &got)
			}
			if err != nil {
				return err
			}
			return c.print(got, func(w io.Writer) { fmt.Fprintln(w, got["credential_lifetime"]) })
		},
	}
}
