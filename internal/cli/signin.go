package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/awscreds"
	"github.com/jitssh/jitssh/internal/ssologin"
)

// ssoSession is what jitssh does with an IAM Identity Center session
// (*ssologin.Client).
type ssoSession interface {
	Login(ctx context.Context, opts ssologin.LoginOptions) (*ssologin.Token, error)
	Logout(ctx context.Context) (ssologin.LogoutResult, error)
	Ensure(ctx context.Context) (*ssologin.Token, error)
	Status() ssologin.Status
	Lock() (func(), error)
}

// ssoClient adapts *ssologin.Client to ssoSession.
type ssoClient struct{ *ssologin.Client }

func (c ssoClient) Lock() (func(), error) { return c.Cache.Lock(c.Session) }

// newSSO resolves profile's SSO session ("" is AWS_PROFILE, else
// default); a profile without SSO settings is a *ssologin.NotSSOError.
func newSSO(ctx context.Context, profile string) (*ssologin.Session, ssoSession, error) {
	s, err := ssologin.Resolve(ctx, profile)
	if err != nil {
		return nil, nil, err
	}
	c, err := ssologin.New(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	return s, ssoClient{c}, nil
}

// envBrowser is the browser command (the convention xdg-open and
// Python's webbrowser follow): the first of its ':'-separated commands
// runs with the URL as its last argument, or in place of "%s".
const envBrowser = "BROWSER"

// systemBrowser returns how to open a URL in the user's browser, or nil
// when there is none to open here: $BROWSER; macOS's open; Windows'
// url.dll; xdg-open in a graphical session (DISPLAY or WAYLAND_DISPLAY).
// Without one, a sign-in uses the device code, which works from any
// device's browser.
func systemBrowser() func(url string) error {
	var argv []string
	switch b := os.Getenv(envBrowser); {
	case b != "":
		argv = strings.Fields(strings.Split(b, ":")[0])
	case runtime.GOOS == "darwin":
		argv = []string{"open"}
	case runtime.GOOS == "windows":
		argv = []string{"rundll32", "url.dll,FileProtocolHandler"}
	case os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "":
		if _, err := exec.LookPath("xdg-open"); err == nil {
			argv = []string{"xdg-open"}
		}
	}
	if len(argv) == 0 {
		return nil
	}
	return func(url string) error {
		args := append([]string(nil), argv[1:]...)
		replaced := false
		for i, a := range args {
			if strings.Contains(a, "%s") {
				args[i], replaced = strings.ReplaceAll(a, "%s", url), true
			}
		}
		if !replaced {
			args = append(args, url)
		}
		// Never our stdin/stdout: under ProxyCommand they are ssh's.
		cmd := exec.Command(argv[0], args...)
		if err := cmd.Start(); err != nil {
			return err
		}
		go cmd.Wait() //nolint:errcheck // a browser's exit status says nothing about the sign-in
		return nil
	}
}

// showSignIn tells the user on w what to open to sign in to s, and opens
// it with open (nil: only tell).
func showSignIn(w io.Writer, s *ssologin.Session, open func(string) error) func(ssologin.Prompt) {
	return func(p ssologin.Prompt) {
		opened := open != nil && open(p.CompleteURL) == nil
		switch {
		case p.UserCode != "":
			fmt.Fprintf(w, "jitssh: to sign in to %s, open\n\n  %s\n\nand check that the page shows the code\n\n  %s\n\n(%s fills it in.)\n", s, p.URL, p.UserCode, p.CompleteURL)
		case opened:
			fmt.Fprintf(w, "jitssh: signing in to %s in your browser; if it did not open, open\n\n  %s\n\n", s, p.URL)
		default:
			fmt.Fprintf(w, "jitssh: to sign in to %s, open in a browser on this machine\n\n  %s\n\n", s, p.URL)
		}
		if opened && p.UserCode != "" {
			fmt.Fprintln(w, "jitssh: (your browser was opened on it)")
		}
		fmt.Fprintln(w, "jitssh: waiting for the sign-in to be approved…")
	}
}

// signInQuestionWait is how long the sign-in question waits for an
// answer (as the MFA prompt): a proxy must not hang ssh forever.
const signInQuestionWait = 2 * time.Minute

// openTTY opens the controlling terminal: under ProxyCommand stdin and
// stdout are ssh's connection, so a question goes to /dev/tty. A jitssh
// in the background of its terminal gets none (reading it would stop the
// process until someone brings it to the foreground).
func openTTY() (io.ReadWriteCloser, error) {
	return awscreds.OpenTerminal()
}

// ssoReady makes sure the SSO session behind opts' profile (if it uses
// one) is signed in before a command uses c: a cached token is checked
// and refreshed when it expired; the role credentials are retrieved once
// (the SDK keeps them for c's calls, so this costs no call) to catch a
// token the portal refused. A session that needs a new sign-in is
// offered one on the terminal; without a terminal, or when the user
// declines, the *ssologin.LoginRequiredError is returned (advise names
// the command to run). With g.noSignIn (doctor, shell completion) the
// token is refreshed if it can be, and nothing is asked.
func (g *globals) ssoReady(ctx context.Context, opts awsapi.Options, c *awsapi.Client) (*awsapi.Client, error) {
	if envCredentials() && opts.Profile == "" {
		return c, nil
	}
	newSSOFn := g.newSSO
	if newSSOFn == nil {
		if sso, known := c.ProfileUsesSSO(); known && !sso {
			return c, nil // the SDK read the profile: not SSO (no second read of the files)
		}
		newSSOFn = newSSO
	}
	s, sc, err := newSSOFn(ctx, opts.Profile)
	if err != nil {
		return c, nil // not SSO, or the SDK's own error will say what is wrong
	}
	if _, err := sc.Ensure(ctx); err != nil {
		if g.noSignIn {
			return c, nil // the SDK's own error comes with the first call
		}
		if err := g.offerSignIn(ctx, s, sc, err); err != nil {
			return nil, err
		}
	}
	if g.noSignIn || s.AccountID == "" || s.RoleName == "" {
		return c, nil
	}
	if _, err := c.RetrieveCredentials(ctx); err != nil {
		if err := g.offerSignIn(ctx, s, sc, ssologin.Classify(s, err)); err != nil {
			return nil, err
		}
		return awsapi.New(ctx, opts) // a client without the refused credentials
	}
	return c, nil
}

// offerSignIn asks on the terminal whether to sign in to s now (cause
// being a *ssologin.LoginRequiredError; other errors are returned as
// they are) and runs the sign-in there. One process signs in at a time
// (concurrent proxies); the next finds the new token and asks nothing.
// (It reads the cache with Status, not Ensure, which takes the same lock
// to refresh.)
func (g *globals) offerSignIn(ctx context.Context, s *ssologin.Session, sc ssoSession, cause error) error {
	var lr *ssologin.LoginRequiredError
	if !errors.As(cause, &lr) {
		return cause
	}
	tty := g.tty
	if tty == nil {
		tty = openTTY
	}
	t, err := tty()
	if err != nil {
		return cause
	}
	defer t.Close()
	failed := ""
	if st := sc.Status(); st.Token != nil {
		failed = st.Token.AccessToken
	}
	unlock, err := sc.Lock()
	if err != nil {
		return fmt.Errorf("%w (and %v)", cause, err)
	}
	defer unlock()
	if st := sc.Status(); st.Token != nil && st.Token.AccessToken != failed && st.Token.Valid(time.Now(), time.Minute) {
		return nil // another process signed in while this one waited
	}
	fmt.Fprintf(t, "jitssh: %s (profile %s): %s\nSign in to %s now? [Y/n] ", s, s.Profile, lr.Reason, s)
	if d, ok := t.(interface{ SetReadDeadline(time.Time) error }); ok {
		_ = d.SetReadDeadline(time.Now().Add(signInQuestionWait)) // a terminal is pollable
	}
	line, err := bufio.NewReader(t).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); (err != nil && a == "") || (a != "" && a != "y" && a != "yes") {
		fmt.Fprintln(t)
		return cause // no, or Ctrl-D
	}
	open := systemBrowser()
	if g.browser != nil {
		open = g.browser
	}
	if _, err := sc.Login(ctx, ssologin.LoginOptions{DeviceCode: open == nil, Show: showSignIn(t, s, open)}); err != nil {
		return err
	}
	fmt.Fprintf(t, "jitssh: signed in to %s; continuing\n", s)
	return nil
}

// ssoAdvice is the advice for ssologin's errors (flagAdvice's part for
// them): the exact command that signs in; "" for other errors.
func ssoAdvice(err error) string {
	var (
		lr     *ssologin.LoginRequiredError
		authz  *ssologin.AuthorizationError
		notSSO *ssologin.NotSSOError
		conf   *ssologin.ConfigError
	)
	switch {
	case errors.As(err, &lr):
		return fmt.Sprintf("; sign in with `jitssh login --profile %s`", lr.Session.Profile)
	case errors.As(err, &authz):
		return ": run `jitssh login` again (--use-device-code signs in from another device's browser)"
	case errors.As(err, &notSSO):
		return ": name a profile that does with --profile (or AWS_PROFILE)"
	case errors.As(err, &conf):
		return ": correct it in the AWS config file (docs/credentials.md)"
	case ssologin.TokenProblem(err):
		return "\n  the profile's IAM Identity Center sign-in is missing or expired: sign in with `jitssh login` (--profile as for this command)"
	}
	return ""
}
