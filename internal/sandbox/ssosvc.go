package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/sso"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// The sandbox's IAM Identity Center (package sso): its routes on the API
// listener, its admin endpoints, and the AWS config's sso-session and
// profile "sso".

// SSOSessionName is the sso-session the env file's AWS config names
// ([sso-session sandbox]); the token cache of a sign-in is
// ~/.aws/sso/cache/<sha1 of this name>.json.
const SSOSessionName = "sandbox"

// SSOProfile is the AWS profile that signs in through the sandbox's
// Identity Center.
const SSOProfile = "sso"

// ssoSetup is the directory of the account, kept from Start until routes.
type ssoSetup struct {
	users                []sso.User
	sets                 []sso.PermissionSet
	accessTTL, deviceTTL time.Duration
}

func ssoSetupOf(acct *config.Account) ssoSetup {
	return ssoSetup{users: acct.SSOUsers, sets: acct.PermissionSets, accessTTL: acct.SSOAccessTokenTTL, deviceTTL: acct.SSODeviceCodeTTL}
}

// startSSO creates the Identity Center and adds its API paths and pages
// to mux (the OIDC and portal APIs are not SigV4-signed: they are routed
// by path, AWS's paths, before the signed APIs' catch-all) and its
// admin endpoints to admin.
func (sb *Sandbox) startSSO(mux, admin *http.ServeMux, tl *trail.Log) {
	sb.SSO = sso.New(sso.Options{
		Region: sb.World.Region, Account: sb.World.Account, BaseURL: sb.URL,
		Users: sb.ssoSetup.users, PermissionSets: sb.ssoSetup.sets, AccessTokenTTL: sb.ssoSetup.accessTTL, DeviceCodeTTL: sb.ssoSetup.deviceTTL,
		AccountNames: sb.orgAccountNames(),
		IssueSession: sb.issueSSOSession,
		Trail:        tl, Knobs: &sb.knobs, Logger: sb.log.With("component", "sso"),
	})
	sb.SSO.Register(mux)
	sb.registerSSOAdmin(admin)
}

// The admin endpoints of the Identity Center (`jitssh-sandbox ctl sso`):
//
//	GET  /_sandbox/sso/pending   the device authorizations waiting for approval
//	POST /_sandbox/sso/approve   {"user_code":"BCDF-GHJK","user":"dave"} ("" user: the first)
//	POST /_sandbox/sso/deny      {"user_code":"BCDF-GHJK"}
//	POST /_sandbox/sso/revoke    {"user":"dave"} ("": every user) → {"revoked":N}
//	GET  /_sandbox/sso/settings  {"access_token_ttl":"1h0m0s","device_code_ttl":"10m0s"}
//	PUT  /_sandbox/sso/settings  {"access_token_ttl":"30s"} and/or {"device_code_ttl":"5s"}
func (sb *Sandbox) registerSSOAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sandbox/sso/pending", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, sb.SSO.Pending())
	})
	type decision struct {
		UserCode string `json:"user_code"`
		User     string `json:"user"`
	}
	mux.HandleFunc("POST /_sandbox/sso/approve", func(w http.ResponseWriter, r *http.Request) {
		var d decision
		if decodeAdmin(w, r, &d) {
			adminResult(w, map[string]string{"approved": d.UserCode}, sb.SSO.Approve(d.UserCode, d.User))
		}
	})
	mux.HandleFunc("POST /_sandbox/sso/deny", func(w http.ResponseWriter, r *http.Request) {
		var d decision
		if decodeAdmin(w, r, &d) {
			adminResult(w, map[string]string{"denied": d.UserCode}, sb.SSO.Deny(d.UserCode))
		}
	})
	mux.HandleFunc("POST /_sandbox/sso/revoke", func(w http.ResponseWriter, r *http.Request) {
		var d struct {
			User string `json:"user"`
		}
		if decodeAdmin(w, r, &d) {
			n, err := sb.SSO.Revoke(d.User)
			adminResult(w, map[string]int{"revoked": n}, err)
		}
	})
	mux.HandleFunc("/_sandbox/sso/settings", sb.ssoSettingsHandler)
}

// ssoSettingsHandler shows (GET) or changes (PUT) the Identity Center's
// token lifetimes: {"access_token_ttl":"30s","device_code_ttl":"5s"},
// either one.
func (sb *Sandbox) ssoSettingsHandler(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var body struct {
			AccessTokenTTL string `json:"access_token_ttl"`
			DeviceCodeTTL  string `json:"device_code_ttl"`
		}
		if !decodeAdmin(w, r, &body) {
			return
		}
		var set sso.Settings
		for _, f := range []struct {
			name, text string
			d          *time.Duration
		}{{"access_token_ttl", body.AccessTokenTTL, &set.AccessTokenTTL}, {"device_code_ttl", body.DeviceCodeTTL, &set.DeviceCodeTTL}} {
			if f.text == "" {
				continue
			}
			d, err := time.ParseDuration(f.text)
			if err != nil || d <= 0 {
				http.Error(w, fmt.Sprintf("%s %q: want a duration like 30s", f.name, f.text), http.StatusBadRequest)
				return
			}
			*f.d = d
		}
		if err := sb.SSO.SetSettings(set); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sb.log.Info("SSO settings changed", "access_token_ttl", set.AccessTokenTTL, "device_code_ttl", set.DeviceCodeTTL)
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "use GET or PUT", http.StatusMethodNotAllowed)
		return
	}
	st := sb.SSO.Settings()
	writeJSON(w, map[string]string{"access_token_ttl": st.AccessTokenTTL.String(), "device_code_ttl": st.DeviceCodeTTL.String()})
}

// writeSSOProfile appends the sso-session and the profiles "sso" and
// "sso-legacy" to an AWS config, when the Identity Center has a user with an assignment: the
// profile uses the first user's first assignment. Both SSO services are
// named in a services section as well as by endpoint_url: the Go SDK
// builds the SSO credential provider's clients before it reads a
// profile's endpoint_url, so only the services section (or
// AWS_ENDPOINT_URL_SSO and AWS_ENDPOINT_URL_SSO_OIDC, which the env file
// sets) keeps them off AWS's real endpoints.
func (sb *Sandbox) writeSSOProfile(cfg *strings.Builder) {
	if len(sb.ssoSetup.users) == 0 || len(sb.ssoSetup.users[0].Assignments) == 0 {
		return
	}
	u := sb.ssoSetup.users[0]
	a := u.Assignments[0]
	fmt.Fprintf(cfg, "\n# IAM Identity Center: sign in with the profile %s (approve device codes with `jitssh-sandbox ctl sso approve CODE`)\n", SSOProfile)
	fmt.Fprintf(cfg, "[sso-session %s]\nsso_start_url = %s\nsso_region = %s\nsso_registration_scopes = sso:account:access\n",
		SSOSessionName, sb.SSO.StartURL(), sb.World.Region)
	fmt.Fprintf(cfg, "\n[services %s]\nsso =\n  endpoint_url = %s\nsso_oidc =\n  endpoint_url = %s\n",
		ssoServices, sb.URL, sb.URL)
	fmt.Fprintf(cfg, "\n# %s in %s as %s\n[profile %s]\nsso_session = %s\nsso_account_id = %s\nsso_role_name = %s\nregion = %s\nendpoint_url = %s\nservices = %s\n",
		a.PermissionSet, a.Account, u.UserName, SSOProfile, SSOSessionName, a.Account, a.PermissionSet, sb.World.Region, sb.URL, ssoServices)
	fmt.Fprintf(cfg, "\n# The same, in the legacy form without an sso-session (no refresh tokens; token cache keyed by the start URL)\n[profile %s]\nsso_start_url = %s\nsso_region = %s\nsso_account_id = %s\nsso_role_name = %s\nregion = %s\nendpoint_url = %s\nservices = %s\n",
		SSOLegacyProfile, sb.SSO.StartURL(), sb.World.Region, a.Account, a.PermissionSet, sb.World.Region, sb.URL, ssoServices)
	sb.writeMemberSSOProfiles(cfg, u)
}

// SSOLegacyProfile is the AWS profile that signs in through the Identity
// Center with the legacy settings (sso_start_url in the profile, no
// sso-session).
const SSOLegacyProfile = "sso-legacy"

// ssoServices names the AWS config's services section of the SSO
// endpoints.
const ssoServices = "jitssh-sandbox-sso"

// ssoEnv are the env file's variables for the SSO endpoints (see
// writeSSOProfile).
func (sb *Sandbox) ssoEnv() []string {
	return []string{"AWS_ENDPOINT_URL_SSO=" + sb.URL, "AWS_ENDPOINT_URL_SSO_OIDC=" + sb.URL}
}

// issueSSOSession opens the role session of GetRoleCredentials: fresh
// temporary credentials (world.IssueSession) that World.Identity resolves
// like an AssumeRole session's.
func (sb *Sandbox) issueSSOSession(id world.Identity, ttl time.Duration) (sso.Credentials, error) {
	w := sb.World
	if acct, ok := arnAccount(id.ARN); ok {
		if a, ok := sb.Org.Account(acct); ok {
			w = a.Home // a member account's role session
		}
	}
	c := w.IssueSession(id, ttl)
	return sso.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expiration: c.Expiration}, nil
}
