// Package sso is the sandbox's IAM Identity Center: the SSO OIDC service
// (RegisterClient, StartDeviceAuthorization, CreateToken for the
// device-code, authorization-code + PKCE and refresh-token grants; REST-JSON
// at the paths AWS serves on oidc.REGION.amazonaws.com), the sign-in pages
// a browser is sent to (/authorize, /device, /start: plain HTML forms
// where a user of the directory is chosen and Allow pressed), and the
// portal API (GetRoleCredentials, ListAccounts, ListAccountRoles, Logout;
// REST-JSON with the x-amz-sso_bearer_token header, as on
// portal.sso.REGION.amazonaws.com). Errors are AWS's: OIDC's carry
// error/error_description, the portal's a message, both named by the
// X-Amzn-ErrorType header. Every call is recorded in the CloudTrail log
// (event sources sso-oauth and sso). The service keeps its clients,
// pending authorizations and tokens in memory; the administrator's side
// (Approve, Pending, Revoke, SetAccessTokenTTL) is what `jitssh-sandbox
// ctl sso` calls through the admin endpoints.
package sso

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// User is a user of the Identity Center directory.
type User struct {
	// UserName is the user's name in the directory; it is the role
	// session name of its sessions and their userName principal tag.
	UserName string
	Email    string
	// Assignments are the permission sets the user may use, per account.
	Assignments []Assignment
}

// Assignment gives a user a permission set in an account.
type Assignment struct {
	Account       string
	PermissionSet string
}

// PermissionSet is what an assigned user may do in an account: the
// policies of the role Identity Center provisions for it
// (AWSReservedSSO_<Name>_<16 hex>) and its sessions' duration.
type PermissionSet struct {
	Name     string
	Policies []policy.Document
	// SessionDuration is how long GetRoleCredentials' credentials last;
	// 0 means 1 hour, AWS's default.
	SessionDuration time.Duration
}

// Credentials are temporary credentials issued for a role session.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// Defaults of a Service.
const (
	DefaultAccessTokenTTL = time.Hour
	DefaultDeviceCodeTTL  = 600 * time.Second
	DefaultInterval       = 1 * time.Second
	// ClientSecretTTL is how long a registered client is valid (AWS: 90
	// days).
	ClientSecretTTL = 90 * 24 * time.Hour
	// RefreshTokenTTL bounds a sign-in's refresh tokens.
	RefreshTokenTTL = 90 * 24 * time.Hour
	// AuthCodeTTL is how long an authorization code can be exchanged.
	AuthCodeTTL = 5 * time.Minute
)

// Options configure a Service.
type Options struct {
	Region, Account string
	// AccountName is what ListAccounts calls the account; "" means
	// "sandbox".
	AccountName string
	// AccountNames name other accounts users are assigned to (an
	// organization's members), by account id; an account not named here
	// is AccountName.
	AccountNames map[string]string
	// BaseURL is where the sandbox is reached (http://127.0.0.1:PORT): the
	// pages and the start URL (BaseURL + "/start") hang off it.
	BaseURL        string
	Users          []User
	PermissionSets []PermissionSet
	// IssueSession returns temporary credentials for id lasting ttl
	// (world.IssueSession). Nil makes GetRoleCredentials fail inside.
	IssueSession func(id world.Identity, ttl time.Duration) (Credentials, error)
	// AccessTokenTTL, DeviceCodeTTL and Interval: 0 means the defaults.
	AccessTokenTTL, DeviceCodeTTL, Interval time.Duration
	Trail                                   *trail.Log
	Knobs                                   *knobs.Table
	Logger                                  *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Service is the Identity Center of one sandbox. It is safe for
// concurrent use.
type Service struct {
	opts  Options
	log   *slog.Logger
	users map[string]User
	sets  map[string]PermissionSet

	mu        sync.Mutex
	accessTTL time.Duration
	deviceTTL time.Duration
	clients   map[string]*client     // by client id
	devices   map[string]*deviceAuth // by device code
	userCodes map[string]*deviceAuth // by normalised user code
	requests  map[string]*authRequest
	codes     map[string]*authCode
	access    map[string]*accessToken
	refresh   map[string]*signIn // by current refresh token
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.AccountName == "" {
		opts.AccountName = "sandbox"
	}
	if opts.DeviceCodeTTL <= 0 {
		opts.DeviceCodeTTL = DefaultDeviceCodeTTL
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{opts: opts, log: opts.Logger, users: map[string]User{}, sets: map[string]PermissionSet{},
		accessTTL: opts.AccessTokenTTL, deviceTTL: opts.DeviceCodeTTL,
		clients: map[string]*client{}, devices: map[string]*deviceAuth{}, userCodes: map[string]*deviceAuth{},
		requests: map[string]*authRequest{}, codes: map[string]*authCode{},
		access: map[string]*accessToken{}, refresh: map[string]*signIn{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.accessTTL <= 0 {
		s.accessTTL = DefaultAccessTokenTTL
	}
	for _, u := range opts.Users {
		s.users[u.UserName] = u
	}
	for _, p := range opts.PermissionSets {
		s.sets[p.Name] = p
	}
	return s
}

// StartURL is the AWS access portal's start URL of this Identity Center
// (sso_start_url in an AWS config's sso-session).
func (s *Service) StartURL() string { return s.opts.BaseURL + "/start" }

// Users returns the directory's users, in configuration order.
func (s *Service) Users() []User { return append([]User(nil), s.opts.Users...) }

// Register adds the service's routes to mux: the OIDC API, the portal
// API and the sign-in pages. The API paths are AWS's, so an SDK whose
// endpoint for sso-oidc and sso is the sandbox's URL reaches them.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /client/register", s.oidcHandler("RegisterClient", s.registerClient))
	mux.HandleFunc("POST /device_authorization", s.oidcHandler("StartDeviceAuthorization", s.startDeviceAuthorization))
	mux.HandleFunc("POST /token", s.oidcHandler("CreateToken", s.createToken))
	mux.HandleFunc("GET /federation/credentials", s.portalHandler("GetRoleCredentials", s.getRoleCredentials))
	mux.HandleFunc("GET /assignment/accounts", s.portalHandler("ListAccounts", s.listAccounts))
	mux.HandleFunc("GET /assignment/roles", s.portalHandler("ListAccountRoles", s.listAccountRoles))
	mux.HandleFunc("POST /logout", s.portalHandler("Logout", s.logout))
	mux.HandleFunc("GET /authorize", s.authorizePage)
	mux.HandleFunc("POST /authorize", s.authorizeSubmit)
	mux.HandleFunc("GET /device", s.devicePage)
	mux.HandleFunc("GET /device/", s.devicePage)
	mux.HandleFunc("POST /device", s.deviceSubmit)
	mux.HandleFunc("GET /start", s.startPage)
	mux.HandleFunc("GET /start/", s.startPage)
}

func (s *Service) now() time.Time { return s.opts.Now() }

// Settings are the run-time settings of the Identity Center.
type Settings struct {
	// AccessTokenTTL is how long new access tokens last (1 s to 24 h).
	AccessTokenTTL time.Duration
	// DeviceCodeTTL is how long new device codes last (1 s to 1 h; AWS: 10
	// minutes), e.g. a few seconds for tests of expired_token.
	DeviceCodeTTL time.Duration
}

// Settings returns the run-time settings.
func (s *Service) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Settings{AccessTokenTTL: s.accessTTL, DeviceCodeTTL: s.deviceTTL}
}

// AccessTokenTTL returns how long new access tokens last.
func (s *Service) AccessTokenTTL() time.Duration { return s.Settings().AccessTokenTTL }

// SetAccessTokenTTL changes how long access tokens issued from now on
// last (1 s to 24 h), e.g. 30 s for tests of refresh.
func (s *Service) SetAccessTokenTTL(d time.Duration) error {
	return s.SetSettings(Settings{AccessTokenTTL: d})
}

// SetSettings changes the settings whose fields are not zero, for what is
// issued from now on; nothing changes if one is out of range.
func (s *Service) SetSettings(set Settings) error {
	if set.AccessTokenTTL != 0 && (set.AccessTokenTTL < time.Second || set.AccessTokenTTL > 24*time.Hour) {
		return &InputError{Field: "access_token_ttl", Reason: "want a duration from 1s to 24h"}
	}
	if set.DeviceCodeTTL != 0 && (set.DeviceCodeTTL < time.Second || set.DeviceCodeTTL > time.Hour) {
		return &InputError{Field: "device_code_ttl", Reason: "want a duration from 1s to 1h"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if set.AccessTokenTTL != 0 {
		s.accessTTL = set.AccessTokenTTL
	}
	if set.DeviceCodeTTL != 0 {
		s.deviceTTL = set.DeviceCodeTTL
	}
	return nil
}

// InputError: an administrator's request is not valid.
type InputError struct {
	Field, Reason string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Reason }
