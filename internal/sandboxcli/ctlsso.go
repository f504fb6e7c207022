package sandboxcli

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// ssoPending mirrors sso.Pending (the CLI reads the wire form).
type ssoPending struct {
	UserCode   string    `json:"user_code"`
	ClientName string    `json:"client_name"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
}

func (c *ctlClient) ssoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sso",
		Short: "IAM Identity Center: approve device sign-ins, list them, revoke users' tokens, shorten token lifetimes",
		Long: `sso drives the sandbox's IAM Identity Center where a person would use a
browser: "approve" does what pressing Allow on the sign-in page does for a
device code (jitssh login --use-device-code, aws sso login --use-device-code),
"pending" lists the codes waiting, "browse" is the browser of the
authorization-code sign-in (jitssh login, aws sso login without
--use-device-code: BROWSER="jitssh-sandbox ctl --env-file F sso browse"),
"revoke" ends users' sign-ins (their access and refresh tokens stop
working), "ttl" sets how long new access tokens last (short ones test
refresh).`,
		Example: `  jitssh-sandbox ctl --env-file /tmp/sandbox.env sso pending
  jitssh-sandbox ctl --env-file /tmp/sandbox.env sso approve BCDF-GHJK --user dave
  jitssh-sandbox ctl --env-file /tmp/sandbox.env sso approve --wait 30s
  BROWSER="jitssh-sandbox ctl --env-file /tmp/sandbox.env sso browse" jitssh login --profile sso
  jitssh-sandbox ctl --env-file /tmp/sandbox.env sso revoke --user dave
  jitssh-sandbox ctl --env-file /tmp/sandbox.env sso ttl 30s`,
	}
	cmd.AddCommand(c.ssoApproveCmd(), c.ssoDenyCmd(), c.ssoPendingCmd(), c.ssoRevokeCmd(), c.ssoTTLCmd(), c.ssoBrowseCmd())
	return cmd
}

func (c *ctlClient) ssoApproveCmd() *cobra.Command {
	var user string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "approve [CODE]",
		Short: "Approve a pending device sign-in (without CODE: the only pending one)",
		Long: `approve approves the device authorization with the user code CODE (as
printed by the client: BCDF-GHJK; case and dash do not matter) as the
Identity Center user --user (default: the directory's first user). Without
CODE it approves the only pending authorization, waiting up to --wait for
one to appear; several pending ones are an error (give the code).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code := ""
			if len(args) == 1 {
				code = args[0]
			} else {
				var err error
				if code, err = c.onlyPending(cmd.Context(), wait); err != nil {
					return err
				}
			}
			var got map[string]string
			if err := c.do(cmd.Context(), http.MethodPost, "/_sandbox/sso/approve", map[string]string{"user_code": code, "user": user}, &got); err != nil {
				return err
			}
			return c.print(got, func(w io.Writer) { fmt.Fprintf(w, "approved %s\n", code) })
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the Identity Center user who signs in (default: the first)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "without CODE, how long to wait for a pending authorization")
	return cmd
}

// onlyPending returns the user code of the one pending authorization,
// polling for up to wait.
func (c *ctlClient) onlyPending(ctx context.Context, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		var pending []ssoPending
		if err := c.do(ctx, http.MethodGet, "/_sandbox/sso/pending", nil, &pending); err != nil {
			return "", err
		}
		switch {
		case len(pending) == 1:
			return pending[0].UserCode, nil
		case len(pending) > 1:
			var codes []string
			for _, p := range pending {
				codes = append(codes, p.UserCode)
			}
			return "", fmt.Errorf("%d device sign-ins are pending (%s): give the code to approve", len(pending), strings.Join(codes, ", "))
		case !time.Now().Before(deadline):
			return "", errors.New("no device sign-in is pending: start one (jitssh login --use-device-code), or pass --wait 30s to wait for it")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *ctlClient) ssoDenyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "deny CODE",
		Short: "Deny a pending device sign-in (its client gets access_denied)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var got map[string]string
			if err := c.do(cmd.Context(), http.MethodPost, "/_sandbox/sso/deny", map[string]string{"user_code": args[0]}, &got); err != nil {
				return err
			}
			return c.print(got, func(w io.Writer) { fmt.Fprintf(w, "denied %s\n", args[0]) })
		},
	}
}

func (c *ctlClient) ssoPendingCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pending",
		Short: "List the device sign-ins waiting for approval (user code, client, expiry)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var pending []ssoPending
			if err := c.do(cmd.Context(), http.MethodGet, "/_sandbox/sso/pending", nil, &pending); err != nil {
				return err
			}
			return c.print(pending, func(w io.Writer) {
				if len(pending) == 0 {
					fmt.Fprintln(w, "no device sign-in is pending")
				}
				for _, p := range pending {
					fmt.Fprintf(w, "%s  %-30s expires %s\n", p.UserCode, p.ClientName, p.Expires.UTC().Format(time.RFC3339))
				}
			})
		},
	}
}

func (c *ctlClient) ssoRevokeCmd() *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "revoke",
		Short: "End sign-ins: the access and refresh tokens of --user (default: every user) stop working",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var got struct {
				Revoked int `json:"revoked"`
			}
			if err := c.do(cmd.Context(), http.MethodPost, "/_sandbox/sso/revoke", map[string]string{"user": user}, &got); err != nil {
				return err
			}
			return c.print(got, func(w io.Writer) { fmt.Fprintf(w, "revoked %d sign-in(s)\n", got.Revoked) })
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the Identity Center user whose sign-ins end (default: every user)")
	return cmd
}

func (c *ctlClient) ssoTTLCmd() *cobra.Command {
	var device string
	cmd := &cobra.Command{
		Use:   "ttl [DURATION] [--device-code DURATION]",
		Short: "Show or set how long new OIDC access tokens (1s to 24h; default 1h) and device codes (1s to 1h; default 10m) last",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set := map[string]string{}
			if len(args) == 1 {
				set["access_token_ttl"] = args[0]
			}
			if device != "" {
				set["device_code_ttl"] = device
			}
			for k, v := range set {
				if _, err := time.ParseDuration(v); err != nil {
					return fmt.Errorf("%s %q is not a duration: want e.g. 30s or 1h", k, v)
				}
			}
			var got map[string]string
			var err error
			if len(set) > 0 {
				err = c.do(cmd.Context(), http.MethodPut, "/_sandbox/sso/settings", set, &got)
			} else {
				err = c.do(cmd.Context(), http.MethodGet, "/_sandbox/sso/settings", nil, &got)
			}
			if err != nil {
				return err
			}
			return c.print(got, func(w io.Writer) {
				fmt.Fprintf(w, "access_token_ttl=%s device_code_ttl=%s\n", got["access_token_ttl"], got["device_code_ttl"])
			})
		},
	}
	cmd.Flags().StringVar(&device, "device-code", "", "how long new device codes last (e.g. 5s to test expired_token)")
	return cmd
}

var requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)

func (c *ctlClient) ssoBrowseCmd() *cobra.Command {
	var user string
	var deny bool
	cmd := &cobra.Command{
		Use:   "browse URL",
		Short: "Be the browser of an authorization-code sign-in: open the sandbox's /authorize URL, press Allow, follow the redirect",
		Long: `browse does what a person does with the sign-in page a client opens
(its /authorize URL on this sandbox): chooses the Identity Center user
--user (default: the first), presses Allow (or Deny with --deny), and
follows the redirect to the client's loopback address, where the client
takes the code. The URL must be the sandbox's, and the redirect a loopback
one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := c.browse(cmd.Context(), args[0], user, deny)
			if err != nil {
				return err
			}
			return c.print(map[string]string{"redirected": target}, func(w io.Writer) { fmt.Fprintf(w, "redirected to %s\n", target) })
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the Identity Center user who signs in (default: the first)")
	cmd.Flags().BoolVar(&deny, "deny", false, "press Deny instead of Allow")
	return cmd
}

// browse signs in through the authorize page at rawURL and returns where
// the sandbox redirected (the redirect followed, if loopback).
func (c *ctlClient) browse(ctx context.Context, rawURL, user string, deny bool) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme+"://"+u.Host != c.base || u.Path != "/authorize" {
		return "", fmt.Errorf("%q is not this sandbox's sign-in URL (%s/authorize?…)", rawURL, c.base)
	}
	page, err := c.get(ctx, u.String())
	if err != nil {
		return "", err
	}
	m := requestField.FindStringSubmatch(page)
	if m == nil {
		return "", fmt.Errorf("the sign-in page refused the request: %s", pageText(page))
	}
	if user == "" {
		if um := regexp.MustCompile(`<option value="([^"]+)"`).FindStringSubmatch(page); um != nil {
			user = um[1]
		}
	}
	action := "allow"
	if deny {
		action = "deny"
	}
	form := url.Values{"request": {m[1]}, "user": {user}, "action": {action}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/authorize", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	noFollow := &http.Client{Transport: c.http.Transport, Timeout: c.http.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		return "", fmt.Errorf("reach the sandbox at %s: %w", c.base, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("the sign-in page refused: %s", pageText(string(body)))
	}
	target := resp.Header.Get("Location")
	tu, err := url.Parse(target)
	if err != nil || tu.Scheme != "http" || !isLoopbackHost(tu.Hostname()) {
		return "", fmt.Errorf("not following the redirect to %q: only loopback ones", target)
	}
	if _, err := c.get(ctx, target); err != nil {
		return "", fmt.Errorf("the client did not take the redirect: %w", err)
	}
	return target, nil
}

func (c *ctlClient) get(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), err
}

// pageText is the message of a sign-in page, without its markup.
func pageText(page string) string {
	if m := regexp.MustCompile(`(?s)<p[^>]*>(.*?)</p>`).FindStringSubmatch(page); m != nil {
		return html.UnescapeString(m[1])
	}
	return strings.TrimSpace(page)
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
