package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/ssologin"
)

// fakeSSOSession answers for an SSO session in the flags → options and
// errors → exit codes tables (the sign-in itself is proven in ssologin's
// tests and against the sandbox in e2e).
type fakeSSOSession struct {
	ensureErr error // Ensure's answer (nil: a valid token)
	loginErr  error
	logout    ssologin.LogoutResult
	logoutErr error
	status    ssologin.Status
	logins    []ssologin.LoginOptions
	lockHook  func() // what another process does while this one waits for the lock
}

func (f *fakeSSOSession) Login(_ context.Context, o ssologin.LoginOptions) (*ssologin.Token, error) {
	f.logins = append(f.logins, o)
	if f.loginErr != nil {
		return nil, f.loginErr
	}
	f.ensureErr = nil
	return &ssologin.Token{AccessToken: "new", ExpiresAt: time.Now().Add(time.Hour), RefreshToken: "r"}, nil
}

func (f *fakeSSOSession) Logout(context.Context) (ssologin.LogoutResult, error) {
	return f.logout, f.logoutErr
}

func (f *fakeSSOSession) Ensure(context.Context) (*ssologin.Token, error) {
	if f.ensureErr != nil {
		return nil, f.ensureErr
	}
	return &ssologin.Token{AccessToken: "new", ExpiresAt: time.Now().Add(time.Hour)}, nil
}

func (f *fakeSSOSession) Status() ssologin.Status { return f.status }
func (f *fakeSSOSession) Lock() (func(), error) {
	if f.lockHook != nil {
		f.lockHook()
	}
	return func() {}, nil
}

var sandboxSession = &ssologin.Session{Profile: "sso", Name: "sandbox", StartURL: "https://sandbox.example/start", Region: "us-east-1"}

func fakeSSOFor(s *ssologin.Session, f *fakeSSOSession, err error) func(context.Context, string) (*ssologin.Session, ssoSession, error) {
	return func(context.Context, string) (*ssologin.Session, ssoSession, error) {
		if err != nil {
			return nil, nil, err
		}
		return s, f, nil
	}
}

type fakeLoginAPI struct {
	info awsapi.CredentialsInfo
	err  error
}

func (f fakeLoginAPI) RetrieveCredentials(context.Context) (awsapi.CredentialsInfo, error) {
	return f.info, f.err
}

func (f fakeLoginAPI) CallerIdentity(context.Context) (*awsapi.Caller, error) {
	return &awsapi.Caller{ARN: "arn:aws:sts::123456789012:assumed-role/Admin/alice"}, f.err
}

// TestLoginFlags: login's flags → loginOptions.
func TestLoginFlags(t *testing.T) {
	for _, c := range []struct {
		args               []string
		device, noOpen, ok bool
		err                string
	}{
		{nil, false, false, true, ""},
		{[]string{"--use-device-code"}, true, false, true, ""},
		{[]string{"--no-browser"}, true, false, true, ""},
		{[]string{"--no-browser-open"}, false, true, true, ""},
		{[]string{"web-1"}, false, false, false, "unknown command"},
		{[]string{"--device"}, false, false, false, "unknown flag"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var got *loginOptions
			cmd := newLoginCmd(&globals{}, func(_ context.Context, o *loginOptions) error { got = o; return nil })
			cmd.SetArgs(c.args)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if !c.ok {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.DeviceCode != c.device || got.NoOpen != c.noOpen || (c.noOpen && got.Browser != nil) || got.SSO == nil || got.API == nil || got.Profile == nil {
				t.Errorf("options %+v", got)
			}
		})
	}
	// --mfa-code reaches the globals the AWS clients are made with.
	g := &globals{}
	cmd := newLoginCmd(g, func(_ context.Context, o *loginOptions) error { return nil })
	cmd.SetArgs([]string{"--mfa-code", "123456"})
	if err := cmd.Execute(); err != nil || g.mfaCode != "123456" {
		t.Errorf("--mfa-code: %v, globals' code %q", err, g.mfaCode)
	}
	var lo *logoutOptions
	cmd = newLogoutCmd(&globals{}, func(_ context.Context, o *logoutOptions) error { lo = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || lo.SSO == nil || lo.Profile == nil || lo.Forget == nil {
		t.Errorf("logout: %v, %+v", err, lo)
	}
}

// TestLoginExitCodes: runLogin's and runLogout's errors → exit codes and
// what is printed.
func TestLoginExitCodes(t *testing.T) {
	profile := func() (string, error) { return "sso", nil }
	required := &ssologin.LoginRequiredError{Session: sandboxSession, Reason: "not signed in"}
	for _, c := range []struct {
		name         string
		sso          *fakeSSOSession
		ssoErr       error
		api          fakeLoginAPI
		code         int
		out, errText string
	}{
		{"SSO signed in", &fakeSSOSession{}, nil, fakeLoginAPI{}, 0, "", "signed in to SSO session 'sandbox' (profile sso)"},
		{"SSO denied", &fakeSSOSession{loginErr: &ssologin.AuthorizationError{Code: "access_denied"}}, nil, fakeLoginAPI{}, 255, "", "the sign-in was denied: run `jitssh login` again"},
		{"SSO config broken", nil, &ssologin.ConfigError{Profile: "sso", Problem: "[sso-session sandbox] lacks sso_region"}, fakeLoginAPI{}, 255, "", "lacks sso_region: correct it"},
		{"not SSO: credentials once", nil, &ssologin.NotSSOError{Profile: "mfa"}, fakeLoginAPI{info: awsapi.CredentialsInfo{CanExpire: true, Expires: time.Now().Add(time.Hour)}}, 0, "signed in as arn:aws:sts::123456789012:assumed-role/Admin/alice; credentials valid until", ""},
		{"not SSO: refused", nil, &ssologin.NotSSOError{Profile: "mfa"}, fakeLoginAPI{err: errors.New("AccessDenied: MultiFactorAuthentication failed")}, 255, "", "MultiFactorAuthentication failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			o := &loginOptions{IO: IOStreams{Out: &out, Err: &errOut}, Profile: profile, SSO: fakeSSOFor(sandboxSession, c.sso, c.ssoErr),
				API: func(context.Context) (loginAPI, error) { return c.api, nil }}
			code, printed := exitCode(NewRoot(IOStreams{}), runLogin(context.Background(), o))
			if printed != nil {
				errOut.WriteString(printed.Error())
			}
			if code != c.code || !strings.Contains(out.String(), c.out) || !strings.Contains(errOut.String(), c.errText) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out.String(), errOut.String(), c.code, c.out, c.errText)
			}
			if c.sso != nil && len(c.sso.logins) == 1 && !c.sso.logins[0].DeviceCode {
				t.Error("no browser here, yet not the device code")
			}
		})
	}
	for _, c := range []struct {
		name    string
		sso     *fakeSSOSession
		ssoErr  error
		code    int
		errText string
	}{
		{"signed out", &fakeSSOSession{logout: ssologin.LogoutResult{SignedOut: true, Removed: []string{"/h/.aws/sso/cache/x.json"}}}, nil, 0, "removed /h/.aws/sso/cache/x.json\njitssh: signed out of SSO session 'sandbox'"},
		{"was not signed in", &fakeSSOSession{}, nil, 0, "was not signed in"},
		{"not an SSO profile, nothing forgotten", nil, &ssologin.NotSSOError{Profile: "plain"}, 0, "has no cached session"},
		{"cannot remove", &fakeSSOSession{logoutErr: errors.New("remove the SSO token cache: permission denied")}, nil, 255, "permission denied"},
	} {
		t.Run("logout "+c.name, func(t *testing.T) {
			var errOut bytes.Buffer
			o := &logoutOptions{IO: IOStreams{Out: io.Discard, Err: &errOut}, Profile: profile, SSO: fakeSSOFor(sandboxSession, c.sso, c.ssoErr),
				Forget: func(context.Context, string) ([]string, error) { return nil, nil }}
			code, printed := exitCode(NewRoot(IOStreams{}), runLogout(context.Background(), o))
			if printed != nil {
				errOut.WriteString(printed.Error())
			}
			if code != c.code || !strings.Contains(errOut.String(), c.errText) {
				t.Errorf("exit %d, stderr %q; want %d, %q", code, errOut.String(), c.code, c.errText)
			}
		})
	}
	// The SDK's own SSO token error, met where no session was checked
	// first.
	if _, printed := exitCode(NewRoot(IOStreams{}), fmt.Errorf("operation error EC2: DescribeInstances: %w", &ssocreds.InvalidTokenError{})); !strings.Contains(printed.Error(), "sign in with `jitssh login`") {
		t.Errorf("advice for the SDK's token error: %v", printed)
	}
	// Advice for a session that needs a sign-in: the exact command.
	if _, printed := exitCode(NewRoot(IOStreams{}), required); !strings.HasSuffix(printed.Error(), "; sign in with `jitssh login --profile sso`") {
		t.Errorf("advice: %v", printed)
	}
}

// fakeTTY is a terminal: what the user types, and what jitssh wrote.
type fakeTTY struct {
	io.Reader
	bytes.Buffer
}

func (f *fakeTTY) Read(p []byte) (int, error) { return f.Reader.Read(p) }
func (f *fakeTTY) Close() error               { return nil }

// TestOfferSignIn: an SSO session that needs a sign-in is offered one on
// the terminal (never on stdout/stderr) and then the command goes on;
// declined or without a terminal, the error names the command to run.
func TestOfferSignIn(t *testing.T) {
	for _, v := range []string{"BROWSER", "DISPLAY", "WAYLAND_DISPLAY"} {
		t.Setenv(v, "") // no browser here unless the case gives one
	}
	required := &ssologin.LoginRequiredError{Session: sandboxSession, Reason: "not signed in (no cached token)"}
	for _, c := range []struct {
		name    string
		typed   string
		noTTY   bool
		browser bool
		signIn  bool
		err     string
	}{
		{"yes", "y\n", false, false, true, ""},
		{"enter", "\n", false, true, true, ""},
		{"no", "n\n", false, false, false, "jitssh login --profile sso"},
		{"Ctrl-D", "", false, false, false, "jitssh login --profile sso"},
		{"no terminal", "", true, false, false, "jitssh login --profile sso"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tty := &fakeTTY{Reader: strings.NewReader(c.typed)}
			sess := &fakeSSOSession{ensureErr: required}
			g := &globals{newSSO: fakeSSOFor(sandboxSession, sess, nil), tty: func() (io.ReadWriteCloser, error) {
				if c.noTTY {
					return nil, errors.New("open /dev/tty: no such device or address")
				}
				return tty, nil
			}}
			if c.browser {
				g.browser = func(string) error { return nil }
			}
			_, err := g.ssoReady(context.Background(), awsapi.Options{Profile: "sso"}, nil)
			_, printed := exitCode(NewRoot(IOStreams{}), err)
			if c.err == "" && err != nil || c.err != "" && (printed == nil || !strings.Contains(printed.Error(), c.err)) {
				t.Fatalf("ssoReady = %v, want %q", printed, c.err)
			}
			if got := len(sess.logins) == 1; got != c.signIn {
				t.Fatalf("signed in: %v, want %v", got, c.signIn)
			}
			if !c.noTTY && !strings.Contains(tty.String(), "Sign in to SSO session 'sandbox' now? [Y/n] ") {
				t.Errorf("terminal shows %q", tty.String())
			}
			if c.signIn && sess.logins[0].DeviceCode == c.browser {
				t.Errorf("device code %v with a browser %v", sess.logins[0].DeviceCode, c.browser)
			}
		})
	}
	// Another proxy signed in while this one waited for the lock: no
	// question.
	sess := &fakeSSOSession{ensureErr: required, status: ssologin.Status{Token: &ssologin.Token{AccessToken: "revoked", ExpiresAt: time.Now().Add(time.Hour)}}}
	sess.lockHook = func() {
		sess.ensureErr, sess.status.Token = nil, &ssologin.Token{AccessToken: "new", ExpiresAt: time.Now().Add(time.Hour)}
	}
	g := &globals{newSSO: fakeSSOFor(sandboxSession, sess, nil), tty: func() (io.ReadWriteCloser, error) { return &fakeTTY{Reader: strings.NewReader("")}, nil }}
	if _, err := g.ssoReady(context.Background(), awsapi.Options{Profile: "sso"}, nil); err != nil || len(sess.logins) != 0 {
		t.Errorf("signed in elsewhere meanwhile: %v, %d sign-ins", err, len(sess.logins))
	}
	// Doctor never asks.
	sess = &fakeSSOSession{ensureErr: required}
	g = &globals{noSignIn: true, newSSO: fakeSSOFor(sandboxSession, sess, nil), tty: func() (io.ReadWriteCloser, error) { t.Fatal("tty opened"); return nil, nil }}
	if _, err := g.ssoReady(context.Background(), awsapi.Options{Profile: "sso"}, nil); err != nil {
		t.Errorf("noSignIn: %v", err)
	}
}

func TestSSOStatusCheck(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	legacy := &ssologin.Session{Profile: "old", StartURL: "https://old.example/start", Region: "r"}
	tok := func(exp time.Duration, refresh string) *ssologin.Token {
		return &ssologin.Token{AccessToken: "a", ExpiresAt: now.Add(exp), RefreshToken: refresh, ClientID: "c", ClientSecret: "s", RegistrationExpiresAt: now.Add(90 * 24 * time.Hour)}
	}
	for _, c := range []struct {
		name   string
		s      *ssologin.Session
		st     ssologin.Status
		status string
		detail string
	}{
		{"signed out", sandboxSession, ssologin.Status{Path: "/h/x.json"}, "fail", "not signed in"},
		{"valid, refreshable", sandboxSession, ssologin.Status{Token: tok(time.Hour, "r")}, "ok", "then refreshed"},
		{"valid, not refreshable", sandboxSession, ssologin.Status{Token: tok(time.Hour, "")}, "ok", "cannot be refreshed"},
		{"expired, refreshable", sandboxSession, ssologin.Status{Token: tok(-time.Hour, "r")}, "ok", "the next connection refreshes it"},
		{"expired, legacy", legacy, ssologin.Status{Token: tok(-time.Hour, "r")}, "fail", "cannot be refreshed"},
		{"unreadable", sandboxSession, ssologin.Status{Err: errors.New("lacks accessToken")}, "fail", "lacks accessToken"},
	} {
		got := ssoStatusCheck(c.s, c.st, now)
		if got.Status != c.status || !strings.Contains(got.Detail, c.detail) || (c.status == "fail" && !strings.Contains(got.Fix, "jitssh login --profile")) {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
}
