package sso

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The OIDC grant types CreateToken knows.
const (
	GrantDeviceCode   = "urn:ietf:params:oauth:grant-type:device_code"
	GrantAuthCode     = "authorization_code"
	GrantRefreshToken = "refresh_token"
)

// client is a registered OIDC client (RegisterClient).
type client struct {
	id, secret, name string
	scopes           []string
	grantTypes       []string // empty: a legacy device-code client
	redirectURIs     []string
	issued, expires  time.Time
}

// allows reports whether the client may use grant type gt. A client
// registered without grant types is a device-code client (what the AWS
// CLI registers for the device flow), which gets refresh tokens when it
// asked for scopes.
func (c *client) allows(gt string) bool {
	if len(c.grantTypes) == 0 {
		return gt == GrantDeviceCode || (gt == GrantRefreshToken && len(c.scopes) > 0)
	}
	return slices.Contains(c.grantTypes, gt)
}

// deviceAuth is a device authorization (StartDeviceAuthorization) and
// what became of it.
type deviceAuth struct {
	deviceCode, userCode string
	client               *client
	created, expires     time.Time
	lastPoll             time.Time
	state                string // pending, approved, denied, used
	user                 string // who approved it
}

// signIn is one sign-in of a user through a client: its current refresh
// token and its access tokens share its fate (Logout, revocation).
type signIn struct {
	user, clientID string
	scopes         []string
	refreshToken   string // current one ("" when the client gets none)
	refreshExpires time.Time
	revoked        bool
}

type accessToken struct {
	signIn  *signIn
	expires time.Time
}

var scopePattern = regexp.MustCompile(`^[A-Za-z0-9:_./-]{1,256}$`)

type registerClientIn struct {
	ClientName             string   `json:"clientName"`
	ClientType             string   `json:"clientType"`
	Scopes                 []string `json:"scopes"`
	GrantTypes             []string `json:"grantTypes"`
	RedirectURIs           []string `json:"redirectUris"`
	IssuerURL              string   `json:"issuerUrl"`
	EntitledApplicationArn string   `json:"entitledApplicationArn"`
}

type registerClientOut struct {
	ClientID              string `json:"clientId"`
	ClientSecret          string `json:"clientSecret"`
	ClientIDIssuedAt      int64  `json:"clientIdIssuedAt"`
	ClientSecretExpiresAt int64  `json:"clientSecretExpiresAt"`
}

// checkRegistration validates a RegisterClient request.
func (s *Service) checkRegistration(in *registerClientIn) error {
	if in.ClientName == "" || len(in.ClientName) > 256 {
		return errInvalidRequest("clientName is required (at most 256 characters).")
	}
	if in.ClientType != "public" {
		return oidcErr("InvalidClientMetadataException", "invalid_client_metadata", "Invalid client type %q: only public clients can register.", in.ClientType)
	}
	if len(in.Scopes) > 25 || len(in.GrantTypes) > 3 || len(in.RedirectURIs) > 10 {
		return errInvalidRequest("Too many scopes, grant types or redirect URIs.")
	}
	for _, sc := range in.Scopes {
		if !scopePattern.MatchString(sc) {
			return oidcErr("InvalidScopeException", "invalid_scope", "Invalid scope %q.", sc)
		}
	}
	for _, gt := range in.GrantTypes {
		if gt != GrantDeviceCode && gt != GrantAuthCode && gt != GrantRefreshToken {
			return oidcErr("InvalidClientMetadataException", "invalid_client_metadata", "Unsupported grant type %q.", gt)
		}
	}
	for _, u := range in.RedirectURIs {
		if _, err := parseRedirectURI(u); err != nil {
			return oidcErr("InvalidRedirectUriException", "invalid_redirect_uri", "Invalid redirect URI %q: %v", u, err)
		}
	}
	if slices.Contains(in.GrantTypes, GrantAuthCode) {
		if len(in.RedirectURIs) == 0 {
			return oidcErr("InvalidRedirectUriException", "invalid_redirect_uri", "The authorization_code grant needs redirectUris.")
		}
		if !s.sameStartURL(in.IssuerURL) {
			return errInvalidRequest("Invalid issuerUrl %q: the authorization_code grant needs this Identity Center's start URL, %s.", in.IssuerURL, s.StartURL())
		}
	}
	return nil
}

func (s *Service) registerClient(c *apiCall) (any, error) {
	var in registerClientIn
	if err := decodeJSON(c.body, &in); err != nil {
		return nil, err
	}
	if err := s.checkRegistration(&in); err != nil {
		return nil, err
	}
	now := s.now()
	cl := &client{id: randomToken(22), secret: "sbx" + randomToken(96), name: in.ClientName,
		scopes: in.Scopes, grantTypes: in.GrantTypes, redirectURIs: in.RedirectURIs,
		issued: now, expires: now.Add(ClientSecretTTL)}
	s.mu.Lock()
	s.clients[cl.id] = cl
	s.mu.Unlock()
	return registerClientOut{ClientID: cl.id, ClientSecret: cl.secret, ClientIDIssuedAt: now.Unix(), ClientSecretExpiresAt: cl.expires.Unix()}, nil
}

// authClient returns the registered client id authenticated by secret;
// s.mu must be held.
func (s *Service) authClient(id, secret string) (*client, error) {
	if id == "" || secret == "" {
		return nil, errInvalidRequest("clientId and clientSecret are required.")
	}
	cl, ok := s.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(cl.secret), []byte(secret)) != 1 {
		return nil, errInvalidClient("Invalid client credentials: register the client again (RegisterClient).")
	}
	if !s.now().Before(cl.expires) {
		return nil, errInvalidClient("The client's secret expired: register the client again (RegisterClient).")
	}
	return cl, nil
}

// sameStartURL reports whether u is this Identity Center's start URL
// (trailing "/" or "#/" allowed, as portals print it).
func (s *Service) sameStartURL(u string) bool {
	u = strings.TrimSuffix(strings.TrimSuffix(u, "#/"), "/")
	return u == s.StartURL()
}

type startDeviceIn struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	StartURL     string `json:"startUrl"`
}

type startDeviceOut struct {
	DeviceCode              string `json:"deviceCode"`
	UserCode                string `json:"userCode"`
	VerificationURI         string `json:"verificationUri"`
	VerificationURIComplete string `json:"verificationUriComplete"`
	ExpiresIn               int32  `json:"expiresIn"`
	Interval                int32  `json:"interval"`
}

func (s *Service) startDeviceAuthorization(c *apiCall) (any, error) {
	var in startDeviceIn
	if err := decodeJSON(c.body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cl, err := s.authClient(in.ClientID, in.ClientSecret)
	if err != nil {
		return nil, err
	}
	if !s.sameStartURL(in.StartURL) {
		return nil, errInvalidRequest("Invalid start URL %q: this Identity Center's is %s.", in.StartURL, s.StartURL())
	}
	if !cl.allows(GrantDeviceCode) {
		return nil, oidcErr("UnauthorizedClientException", "unauthorized_client", "The client is not registered for the device_code grant.")
	}
	s.sweep()
	now := s.now()
	d := &deviceAuth{deviceCode: randomToken(64), client: cl, created: now, expires: now.Add(s.deviceTTL), state: "pending"}
	for {
		d.userCode = newUserCode()
		if _, dup := s.userCodes[d.userCode]; !dup {
			break
		}
	}
	s.devices[d.deviceCode] = d
	s.userCodes[d.userCode] = d
	return startDeviceOut{DeviceCode: d.deviceCode, UserCode: d.userCode,
		VerificationURI:         s.opts.BaseURL + "/device",
		VerificationURIComplete: s.opts.BaseURL + "/device?user_code=" + url.QueryEscape(d.userCode),
		ExpiresIn:               int32(s.deviceTTL / time.Second), Interval: int32(s.opts.Interval / time.Second)}, nil
}

type createTokenIn struct {
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	GrantType    string   `json:"grantType"`
	DeviceCode   string   `json:"deviceCode"`
	Code         string   `json:"code"`
	RefreshToken string   `json:"refreshToken"`
	Scope        []string `json:"scope"`
	RedirectURI  string   `json:"redirectUri"`
	CodeVerifier string   `json:"codeVerifier"`
}

type createTokenOut struct {
	AccessToken  string `json:"accessToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int32  `json:"expiresIn"`
	RefreshToken string `json:"refreshToken,omitempty"`
}

func (s *Service) createToken(c *apiCall) (any, error) {
	var in createTokenIn
	if err := decodeJSON(c.body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cl, err := s.authClient(in.ClientID, in.ClientSecret)
	if err != nil {
		return nil, err
	}
	switch in.GrantType {
	case GrantDeviceCode, GrantAuthCode, GrantRefreshToken:
	case "":
		return nil, errInvalidRequest("grantType is required.")
	default:
		return nil, oidcErr("UnsupportedGrantTypeException", "unsupported_grant_type", "Unsupported grant type %q.", in.GrantType)
	}
	if !cl.allows(in.GrantType) {
		return nil, oidcErr("UnauthorizedClientException", "unauthorized_client", "The client is not registered for the %s grant.", in.GrantType)
	}
	var out createTokenOut
	switch in.GrantType {
	case GrantDeviceCode:
		out, err = s.tokenForDevice(cl, in.DeviceCode, c)
	case GrantAuthCode:
		out, err = s.tokenForCode(cl, in, c)
	default:
		out, err = s.tokenForRefresh(cl, in.RefreshToken, c)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// tokenForDevice answers a device-code poll; s.mu is held.
func (s *Service) tokenForDevice(cl *client, code string, c *apiCall) (createTokenOut, error) {
	if code == "" {
		return createTokenOut{}, errInvalidRequest("deviceCode is required for the device_code grant.")
	}
	d, ok := s.devices[code]
	if !ok || d.client.id != cl.id {
		return createTokenOut{}, errInvalidGrant("Invalid device code provided.")
	}
	now := s.now()
	if !now.Before(d.expires) {
		return createTokenOut{}, oidcErr("ExpiredTokenException", "expired_token", "The device code expired: start the sign-in again.")
	}
	// Polled faster than the interval StartDeviceAuthorization gave
	// (with a little slack for timers): slow_down, as RFC 8628 says.
	early := !d.lastPoll.IsZero() && now.Sub(d.lastPoll) < s.opts.Interval-20*time.Millisecond
	d.lastPoll = now
	switch {
	case d.state == "used":
		return createTokenOut{}, errInvalidGrant("The device code was already used.")
	case d.state == "denied":
		return createTokenOut{}, oidcErr("AccessDeniedException", "access_denied", "The user denied the authorization request.")
	case early:
		return createTokenOut{}, oidcErr("SlowDownException", "slow_down", "Client is polling too quickly: wait at least %s between calls.", s.opts.Interval)
	case d.state == "pending":
		return createTokenOut{}, oidcErr("AuthorizationPendingException", "authorization_pending", "Authorization is still pending.")
	}
	d.state = "used"
	c.user = d.user
	return s.issue(d.user, cl, cl.scopes), nil
}

// tokenForCode exchanges an authorization code; s.mu is held.
func (s *Service) tokenForCode(cl *client, in createTokenIn, c *apiCall) (createTokenOut, error) {
	if in.Code == "" || in.RedirectURI == "" || in.CodeVerifier == "" {
		return createTokenOut{}, errInvalidRequest("code, redirectUri and codeVerifier are required for the authorization_code grant.")
	}
	ac, ok := s.codes[in.Code]
	if !ok || ac.clientID != cl.id {
		return createTokenOut{}, errInvalidGrant("Invalid authorization code provided.")
	}
	delete(s.codes, in.Code) // single use, whatever happens next
	if !s.now().Before(ac.expires) {
		return createTokenOut{}, errInvalidGrant("The authorization code expired: sign in again.")
	}
	if in.RedirectURI != ac.redirectURI {
		return createTokenOut{}, errInvalidGrant("redirectUri does not match the one given to the authorize endpoint.")
	}
	if !VerifyPKCE(ac.challenge, in.CodeVerifier) {
		return createTokenOut{}, errInvalidGrant("Invalid code verifier: it does not match the code challenge (S256).")
	}
	c.user = ac.user
	return s.issue(ac.user, cl, ac.scopes), nil
}

// tokenForRefresh rotates a refresh token; s.mu is held.
func (s *Service) tokenForRefresh(cl *client, rt string, c *apiCall) (createTokenOut, error) {
	if rt == "" {
		return createTokenOut{}, errInvalidRequest("refreshToken is required for the refresh_token grant.")
	}
	si, ok := s.refresh[rt]
	if !ok || si.clientID != cl.id || si.revoked {
		return createTokenOut{}, errInvalidGrant("Invalid refresh token provided.")
	}
	if !s.now().Before(si.refreshExpires) {
		delete(s.refresh, rt)
		return createTokenOut{}, errInvalidGrant("The refresh token expired: sign in again.")
	}
	delete(s.refresh, rt) // rotation: the old one is spent
	c.user = si.user
	return s.tokensFor(si, cl), nil
}

// issue starts a sign-in of user through cl and returns its first
// tokens; s.mu is held.
func (s *Service) issue(user string, cl *client, scopes []string) createTokenOut {
	s.sweep()
	si := &signIn{user: user, clientID: cl.id, scopes: scopes, refreshExpires: s.now().Add(RefreshTokenTTL)}
	return s.tokensFor(si, cl)
}

// tokensFor issues a new access token (and refresh token, when the
// client gets them) of si; s.mu is held.
func (s *Service) tokensFor(si *signIn, cl *client) createTokenOut {
	now := s.now()
	at := "aoa" + randomToken(120)
	s.access[at] = &accessToken{signIn: si, expires: now.Add(s.accessTTL)}
	out := createTokenOut{AccessToken: at, TokenType: "Bearer", ExpiresIn: int32(s.accessTTL / time.Second)}
	si.refreshToken = ""
	if cl.allows(GrantRefreshToken) {
		si.refreshToken = "aor" + randomToken(120)
		s.refresh[si.refreshToken] = si
		out.RefreshToken = si.refreshToken
	}
	return out
}

// sweep drops what has expired; s.mu is held.
func (s *Service) sweep() {
	now := s.now()
	for k, d := range s.devices {
		if now.After(d.expires.Add(time.Minute)) {
			delete(s.devices, k)
			delete(s.userCodes, d.userCode)
		}
	}
	for k, a := range s.access {
		if now.After(a.expires) {
			delete(s.access, k)
		}
	}
	for k, r := range s.requests {
		if now.After(r.expires) {
			delete(s.requests, k)
		}
	}
	for k, ac := range s.codes {
		if now.After(ac.expires) {
			delete(s.codes, k)
		}
	}
}

// randomToken returns n random characters of the base64url alphabet.
func randomToken(n int) string {
	b := make([]byte, (n*3+3)/4)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
