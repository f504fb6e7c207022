package ssologin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/google/uuid"
)

// OIDC is the part of the SSO OIDC API the sign-in uses
// (*ssooidc.Client).
type OIDC interface {
	RegisterClient(context.Context, *ssooidc.RegisterClientInput, ...func(*ssooidc.Options)) (*ssooidc.RegisterClientOutput, error)
	StartDeviceAuthorization(context.Context, *ssooidc.StartDeviceAuthorizationInput, ...func(*ssooidc.Options)) (*ssooidc.StartDeviceAuthorizationOutput, error)
	CreateToken(context.Context, *ssooidc.CreateTokenInput, ...func(*ssooidc.Options)) (*ssooidc.CreateTokenOutput, error)
}

// Portal is the part of the SSO portal API sign-out uses (*sso.Client).
type Portal interface {
	Logout(context.Context, *sso.LogoutInput, ...func(*sso.Options)) (*sso.LogoutOutput, error)
}

// Client signs in to, refreshes and signs out of one SSO session.
type Client struct {
	Session *Session
	Cache   Cache
	OIDC    OIDC
	Portal  Portal
	// AuthorizeURL is the OIDC endpoint's base URL, under which the
	// browser is sent to /authorize (the API does not model it).
	AuthorizeURL string
	// Now and Sleep are the clock (tests replace them).
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
	// CallTimeout bounds each API call.
	CallTimeout time.Duration
}

// DefaultCallTimeout bounds one OIDC or portal call.
const DefaultCallTimeout = 30 * time.Second

// New builds the Client for s: the SDK's OIDC and portal clients in the
// session's region, with the endpoints the SDK's configuration gives
// them (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SSO_OIDC, the profile's
// endpoint_url …), unsigned as these APIs are.
func New(ctx context.Context, s *Session) (*Client, error) {
	cache, err := DefaultCache()
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(s.Region), config.WithSharedConfigProfile(s.Profile),
		config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	if err != nil {
		return nil, &ConfigError{Profile: s.Profile, Problem: "load the AWS configuration", Err: err}
	}
	oidc := ssooidc.NewFromConfig(cfg)
	base, err := authorizeBase(ctx, oidc)
	if err != nil {
		return nil, err
	}
	return &Client{Session: s, Cache: cache, OIDC: oidc, Portal: sso.NewFromConfig(cfg), AuthorizeURL: base}, nil
}

// authorizeBase is scheme://host of the OIDC client's resolved endpoint,
// as the AWS CLI builds the /authorize URL.
func authorizeBase(ctx context.Context, c *ssooidc.Client) (string, error) {
	o := c.Options()
	ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, ssooidc.EndpointParameters{
		Region:       aws.String(o.Region),
		Endpoint:     o.BaseEndpoint,
		UseFIPS:      aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack: aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
	})
	if err != nil {
		return "", fmt.Errorf("resolve the SSO OIDC endpoint for region %s: %w", o.Region, err)
	}
	return ep.URI.Scheme + "://" + ep.URI.Host, nil
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// call bounds one API call.
func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc) {
	d := c.CallTimeout
	if d == 0 {
		d = DefaultCallTimeout
	}
	return context.WithTimeout(ctx, d)
}

// registrationWindow is how long before its expiry a cached registration
// is no longer used (botocore's _EXPIRY_WINDOW).
const registrationWindow = 15 * time.Minute

// defaultScope is what an authorization-code registration asks for when
// the session configures no scopes (the AWS CLI's default).
const defaultScope = "sso:account:access"

// redirectPath is the loopback redirect's path; the registration names
// the URI without the port, the authorization request with it (RFC 8252
// §7.3, as the AWS CLI does).
const redirectPath = "/oauth/callback"

// registration returns a cached client registration of the right kind,
// else registers one and caches it (where the AWS CLI caches its own).
func (c *Client) registration(ctx context.Context, authCode bool) (*Registration, error) {
	s := c.Session
	if r := c.Cache.loadRegistration(s); r != nil && r.ExpiresAt.Sub(c.now()) > registrationWindow && r.forAuthCode() == authCode {
		return r, nil
	}
	name := "jitssh-" + s.Name
	if s.Legacy() {
		name = fmt.Sprintf("jitssh-%d", c.now().Unix())
	}
	in := &ssooidc.RegisterClientInput{ClientName: aws.String(name), ClientType: aws.String("public"), Scopes: s.Scopes}
	r := &Registration{Scopes: s.Scopes}
	if authCode {
		scopes := s.Scopes
		if len(scopes) == 0 {
			scopes = []string{defaultScope}
		}
		in.Scopes, r.Scopes = scopes, scopes
		in.GrantTypes = []string{"authorization_code", "refresh_token"}
		in.RedirectUris = []string{"http://127.0.0.1" + redirectPath}
		in.IssuerUrl = aws.String(s.StartURL)
		r.GrantTypes = in.GrantTypes
	}
	cctx, cancel := c.call(ctx)
	defer cancel()
	out, err := c.OIDC.RegisterClient(cctx, in)
	if err != nil {
		return nil, fmt.Errorf("register an OIDC client with %s: %w", s, err)
	}
	if aws.ToString(out.ClientId) == "" || aws.ToString(out.ClientSecret) == "" {
		return nil, fmt.Errorf("register an OIDC client with %s: the answer lacks clientId or clientSecret", s)
	}
	r.ClientID, r.ClientSecret = aws.ToString(out.ClientId), aws.ToString(out.ClientSecret)
	r.ExpiresAt = time.Unix(out.ClientSecretExpiresAt, 0).UTC()
	if y := r.ExpiresAt.Year(); y < 1970 || y > 9999 {
		// it would be written into the token cache as a time that no
		// reader (jitssh, the AWS CLI, the SDKs) can parse
		return nil, fmt.Errorf("register an OIDC client with %s: the answer's clientSecretExpiresAt %d is not a time", s, out.ClientSecretExpiresAt)
	}
	if err := c.Cache.saveRegistration(s, r); err != nil {
		return nil, fmt.Errorf("cache the OIDC client registration: %w", err)
	}
	return r, nil
}

// token builds the cache entry from CreateToken's answer.
func (c *Client) token(out *ssooidc.CreateTokenOutput, r *Registration) (*Token, error) {
	if aws.ToString(out.AccessToken) == "" || out.ExpiresIn <= 0 {
		return nil, errors.New("CreateToken's answer lacks accessToken or expiresIn")
	}
	return &Token{
		StartURL: c.Session.StartURL, Region: c.Session.Region,
		AccessToken: aws.ToString(out.AccessToken), RefreshToken: aws.ToString(out.RefreshToken),
		ExpiresAt: c.now().Add(time.Duration(out.ExpiresIn) * time.Second).UTC().Truncate(time.Second),
		ClientID:  r.ClientID, ClientSecret: r.ClientSecret, RegistrationExpiresAt: r.ExpiresAt,
	}, nil
}

// Prompt receives what the user must do to approve a sign-in.
type Prompt struct {
	// URL is the page to open: the verification URL (device code) or
	// the authorization URL (authorization code).
	URL string
	// CompleteURL is URL with the user code filled in (device code
	// only; else URL).
	CompleteURL string
	// UserCode is the code to check or type on the page (device code
	// only).
	UserCode string
}

// LoginOptions choose the flow and how the user is told.
type LoginOptions struct {
	// DeviceCode selects the device-code flow; the legacy form always
	// uses it (as the AWS CLI does).
	DeviceCode bool
	// Show is told what to open (and the code) once, before the wait.
	Show func(Prompt)
	// Listen opens the loopback listener of the authorization-code flow
	// (nil: 127.0.0.1 on a free port).
	Listen func() (net.Listener, error)
	// Wait bounds the wait for the user (0: 10 minutes, as the AWS CLI).
	Wait time.Duration
}

// Login signs in and writes the token cache.
func (c *Client) Login(ctx context.Context, opts LoginOptions) (*Token, error) {
	if opts.Show == nil {
		opts.Show = func(Prompt) {}
	}
	if opts.Wait == 0 {
		opts.Wait = 10 * time.Minute
	}
	var (
		t   *Token
		err error
	)
	if opts.DeviceCode || c.Session.Legacy() {
		t, err = c.deviceCode(ctx, opts)
	} else {
		t, err = c.authCode(ctx, opts)
	}
	if err != nil {
		return nil, err
	}
	if err := c.Cache.SaveToken(c.Session, t); err != nil {
		return nil, fmt.Errorf("write the SSO token cache: %w", err)
	}
	return t, nil
}

// slowDown is what slow_down adds to the polling interval (RFC 8628
// §3.5).
const slowDown = 5 * time.Second

func (c *Client) deviceCode(ctx context.Context, opts LoginOptions) (*Token, error) {
	r, err := c.registration(ctx, false)
	if err != nil {
		return nil, err
	}
	cctx, cancel := c.call(ctx)
	auth, err := c.OIDC.StartDeviceAuthorization(cctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: aws.String(r.ClientID), ClientSecret: aws.String(r.ClientSecret), StartUrl: aws.String(c.Session.StartURL),
	})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("start the device authorization with %s: %w", c.Session, err)
	}
	if aws.ToString(auth.DeviceCode) == "" || aws.ToString(auth.VerificationUri) == "" {
		return nil, errors.New("StartDeviceAuthorization's answer lacks deviceCode or verificationUri")
	}
	interval := time.Duration(auth.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second
	}
	wait := opts.Wait
	if auth.ExpiresIn > 0 && time.Duration(auth.ExpiresIn)*time.Second < wait {
		wait = time.Duration(auth.ExpiresIn) * time.Second
	}
	deadline := c.now().Add(wait)
	complete := aws.ToString(auth.VerificationUriComplete)
	if complete == "" {
		complete = aws.ToString(auth.VerificationUri)
	}
	shown := false
	for {
		out, err := c.createToken(ctx, &ssooidc.CreateTokenInput{
			GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"),
			ClientId:  aws.String(r.ClientID), ClientSecret: aws.String(r.ClientSecret), DeviceCode: auth.DeviceCode,
		})
		switch code := apiCode(err); {
		case err == nil:
			return c.token(out, r)
		case code == "AuthorizationPendingException":
		case code == "SlowDownException":
			interval += slowDown
		case code == "ExpiredTokenException":
			return nil, &AuthorizationError{Code: "expired_token", Err: err}
		case code == "AccessDeniedException":
			return nil, &AuthorizationError{Code: "access_denied", Err: err}
		default:
			return nil, fmt.Errorf("wait for the sign-in to %s: %w", c.Session, err)
		}
		if !shown {
			// As the CLI: one attempt first (a pre-approved client needs
			// no prompt), then tell the user.
			opts.Show(Prompt{URL: aws.ToString(auth.VerificationUri), CompleteURL: complete, UserCode: aws.ToString(auth.UserCode)})
			shown = true
		}
		if c.now().Add(interval).After(deadline) {
			return nil, &AuthorizationError{Code: "expired_token"}
		}
		if err := c.sleep(ctx, interval); err != nil {
			return nil, err
		}
	}
}

func (c *Client) createToken(ctx context.Context, in *ssooidc.CreateTokenInput) (*ssooidc.CreateTokenOutput, error) {
	cctx, cancel := c.call(ctx)
	defer cancel()
	return c.OIDC.CreateToken(cctx, in)
}

// verifierChars are RFC 7636's unreserved characters.
const verifierChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// pkce returns a 64-character code verifier and its S256 challenge
// (base64url without padding).
func pkce() (verifier, challenge string, err error) {
	b := make([]byte, 64)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	for i := range b {
		b[i] = verifierChars[int(b[i])%len(verifierChars)]
	}
	sum := sha256.Sum256(b)
	return string(b), base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// callback is what the browser brought back to the loopback listener.
type callback struct{ code, state, err string }

func (c *Client) authCode(ctx context.Context, opts LoginOptions) (*Token, error) {
	listen := opts.Listen
	if listen == nil {
		listen = func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	}
	ln, err := listen()
	if err != nil {
		return nil, fmt.Errorf("listen on the loopback interface for the browser's redirect: %w", err)
	}
	defer ln.Close()
	redirect := fmt.Sprintf("http://127.0.0.1:%d%s", ln.Addr().(*net.TCPAddr).Port, redirectPath)
	r, err := c.registration(ctx, true)
	if err != nil {
		return nil, err
	}
	verifier, challenge, err := pkce()
	if err != nil {
		return nil, err
	}
	state := uuid.NewString()
	q := url.Values{"response_type": {"code"}, "client_id": {r.ClientID}, "redirect_uri": {redirect},
		"state": {state}, "code_challenge_method": {"S256"}, "scopes": {strings.Join(r.Scopes, " ")}, "code_challenge": {challenge}}
	authURL := c.AuthorizeURL + "/authorize?" + q.Encode()
	got := make(chan callback, 1)
	srv := &http.Server{Handler: callbackHandler(got), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close below
	defer srv.Close()
	opts.Show(Prompt{URL: authURL, CompleteURL: authURL})
	var cb callback
	select {
	case cb = <-got:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(opts.Wait):
		return nil, &AuthorizationError{Code: "timeout"}
	}
	switch {
	case cb.err != "":
		return nil, &AuthorizationError{Code: cb.err}
	case cb.state != state:
		return nil, &AuthorizationError{Code: "invalid_state"}
	}
	out, err := c.createToken(ctx, &ssooidc.CreateTokenInput{
		GrantType: aws.String("authorization_code"), ClientId: aws.String(r.ClientID), ClientSecret: aws.String(r.ClientSecret),
		Code: aws.String(cb.code), RedirectUri: aws.String(redirect), CodeVerifier: aws.String(verifier),
	})
	if err != nil {
		if code := apiCode(err); code == "ExpiredTokenException" || code == "InvalidGrantException" || code == "AccessDeniedException" {
			return nil, &AuthorizationError{Code: "access_denied", Err: err}
		}
		return nil, fmt.Errorf("exchange the authorization code with %s: %w", c.Session, err)
	}
	return c.token(out, r)
}

// donePage is what the browser shows once jitssh has the code.
const donePage = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>jitssh</title></head>` +
	`<body><p>%s</p></body></html>`

// callbackHandler takes the first redirect to redirectPath carrying a
// code and state, or an error.
func callbackHandler(got chan<- callback) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != redirectPath {
			http.NotFound(w, req)
			return
		}
		q := req.URL.Query()
		cb := callback{code: q.Get("code"), state: q.Get("state"), err: q.Get("error")}
		if cb.err == "" && (cb.code == "" || cb.state == "") {
			http.Error(w, "missing code or state", http.StatusBadRequest)
			return
		}
		select {
		case got <- cb:
		default: // a second answer: the first one counts
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		msg := "Signed in: you can close this window and return to jitssh."
		if cb.err != "" {
			msg = "The sign-in failed; see jitssh's message in your terminal."
		}
		fmt.Fprintf(w, donePage, msg)
	})
}
