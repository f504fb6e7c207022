package sandbox

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/oidc"
	"github.com/jitssh/jitssh/internal/sandbox/totp"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// oidcPath is where the sandbox's OIDC issuer lives on the API listener:
// its issuer URL is http://127.0.0.1:PORT/oidc.
const oidcPath = "/oidc"

// webIdentityRefresh is how often the web identity token files are
// rewritten; their tokens last oidc.DefaultLifetime.
const webIdentityRefresh = 15 * time.Minute

// stsState is the sandbox's part of STS: roles (with their web identity
// trust), MFA devices, the OIDC issuer and the role profiles.
type stsState struct {
	roles     []world.Role
	devices   []world.MFADevice
	issuer    *oidc.Issuer
	audiences []string
	profiles  []config.RoleProfile
	// tokenFiles are the web identity token files by profile, with the
	// subject and audience of their tokens.
	tokenFiles map[string]webIdentityFile
}

type webIdentityFile struct {
	path              string
	subject, audience string
}

// setupSTS makes the OIDC issuer at sb.URL (its key kept in the state
// directory), gives web identity roles their trust in it, and loads or
// creates the MFA devices' secrets (state directory, mode 0600).
func (sb *Sandbox) setupSTS(stateDir string, acct *config.Account) error {
	key, err := oidc.LoadOrCreateKey(filepath.Join(stateDir, "oidc-signing-key.pem"))
	if err != nil {
		return err
	}
	st := &sb.sts
	st.issuer = oidc.New(sb.URL+oidcPath, key, nil)
	st.tokenFiles = map[string]webIdentityFile{}
	auds := map[string]bool{oidc.DefaultAudience: true}
	st.audiences = []string{oidc.DefaultAudience}
	for _, r := range acct.Roles {
		if spec, ok := acct.WebIdentity[r.Name]; ok {
			r.Trust.Statement = append(append([]policy.Statement(nil), r.Trust.Statement...),
				config.WebIdentityTrust(st.issuer.ProviderARN(acct.Account), st.issuer.ProviderID(), spec))
			if !auds[spec.Audience] {
				auds[spec.Audience] = true
				st.audiences = append(st.audiences, spec.Audience)
			}
		}
		st.roles = append(st.roles, r)
	}
	st.profiles = acct.RoleProfiles
	for _, p := range acct.RoleProfiles {
		if p.WebIdentity {
			spec := acct.WebIdentity[p.RoleARN[strings.LastIndex(p.RoleARN, "/")+1:]]
			st.tokenFiles[p.Name] = webIdentityFile{path: filepath.Join(stateDir, "web-identity-token-"+p.Name), subject: spec.Subject, audience: spec.Audience}
		}
	}
	for _, id := range acct.Identities {
		if id.MFASerial == "" {
			continue
		}
		secret, err := mfaSecret(stateDir, id.MFASerial)
		if err != nil {
			return err
		}
		st.devices = append(st.devices, world.MFADevice{Serial: id.MFASerial, UserARN: id.ARN, Secret: secret})
	}
	return nil
}

// mfaSecret reads the TOTP secret of the device serial from the state
// directory (mfa/NAME.base32), or creates it.
func mfaSecret(stateDir, serial string) ([]byte, error) {
	dir := filepath.Join(stateDir, "mfa")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the MFA secrets directory: %w", err)
	}
	path := filepath.Join(dir, serial[strings.LastIndex(serial, "/")+1:]+".base32")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		secret := totp.NewSecret()
		if err := os.WriteFile(path, []byte(totp.EncodeSecret(secret)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write MFA secret: %w", err)
		}
		return secret, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read MFA secret: %w", err)
	}
	secret, err := totp.ParseSecret(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w; delete it to have a new device secret made", path, err)
	}
	return secret, nil
}

// startWebIdentityTokens writes the web identity token files now and
// keeps them fresh until Close.
func (sb *Sandbox) startWebIdentityTokens() error {
	if len(sb.sts.tokenFiles) == 0 {
		return nil
	}
	if err := sb.writeWebIdentityTokens(); err != nil {
		return err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(webIdentityRefresh)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if err := sb.writeWebIdentityTokens(); err != nil {
					sb.log.Error("refresh web identity token", "err", err)
				}
			}
		}
	}()
	sb.cleanups = append(sb.cleanups, func() { close(stop); <-done })
	return nil
}

// writeWebIdentityTokens writes a fresh token into every token file
// (atomically: a client never reads half a token).
func (sb *Sandbox) writeWebIdentityTokens() error {
	for _, f := range sb.sts.tokenFiles {
		tok, err := sb.sts.issuer.Sign(f.subject, f.audience, 0)
		if err != nil {
			return err
		}
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, []byte(tok), 0o600); err != nil {
			return fmt.Errorf("write web identity token: %w", err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			return fmt.Errorf("write web identity token: %w", err)
		}
	}
	return nil
}

// WebIdentityToken returns a token of the sandbox's OIDC issuer for
// subject and audience (defaults when empty), valid for ttl (an hour when
// 0): what `jitssh-sandbox ctl web-identity-token` prints.
func (sb *Sandbox) WebIdentityToken(subject, audience string, ttl time.Duration) (string, error) {
	return sb.sts.issuer.Sign(subject, audience, ttl)
}

// writeRoleProfiles appends the role profiles to an AWS config file:
// role_arn with source_profile (its name the session's) and mfa_serial, or with
// web_identity_token_file.
func (sb *Sandbox) writeRoleProfiles(cfg *strings.Builder) {
	for _, p := range sb.sts.profiles {
		fmt.Fprintf(cfg, "\n# %s\n[profile %s]\nregion = %s\nendpoint_url = %s\nrole_arn = %s\n", p.RoleARN, p.Name, sb.World.Region, sb.URL, p.RoleARN)
		if f, ok := sb.sts.tokenFiles[p.Name]; ok {
			fmt.Fprintf(cfg, "web_identity_token_file = %s\nrole_session_name = %s\n", f.path, p.Name)
			continue
		}
		// role_session_name: else the SDK names the session
		// aws-go-sdk-<time>, which names no one jitssh could log in as.
		fmt.Fprintf(cfg, "source_profile = %s\nrole_session_name = %s\n", p.SourceProfile, p.SourceProfile)
		if p.MFASerial != "" {
			fmt.Fprintf(cfg, "mfa_serial = %s\n", p.MFASerial)
		}
	}
}

// OIDCIssuer is the URL of the sandbox's OIDC issuer.
func (sb *Sandbox) OIDCIssuer() string { return sb.sts.issuer.URL }

// MFACode returns the current code (next: the next window's) of the MFA
// device that name designates: a device ARN, an identity's profile name
// (its device), or a role profile's (its source identity's device, as
// mfa_serial names it), with the seconds the code has left.
func (sb *Sandbox) MFACode(name string, next bool) (serial, code string, validFor int, err error) {
	serial = sb.mfaSerialOf(name)
	if serial == "" {
		return "", "", 0, fmt.Errorf("%s names no MFA device: give an identity with mfa = true, a profile with mfa_serial, or a device ARN (arn:aws:iam::ACCOUNT:mfa/NAME)", name)
	}
	dev, ok := sb.World.MFADevice(serial)
	if !ok {
		return "", "", 0, fmt.Errorf("no MFA device %s in the sandbox", serial)
	}
	now := sb.World.Now()
	if next {
		now = now.Add(totp.Step)
	}
	step := int64(totp.Step / time.Second)
	validFor = int(step - now.Unix()%step)
	if next {
		validFor += int(step) // the next window starts when the current one ends
	}
	return serial, totp.Code(dev.Secret, now), validFor, nil
}

func (sb *Sandbox) mfaSerialOf(name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	for _, p := range sb.sts.profiles {
		if p.Name == name {
			return p.MFASerial
		}
	}
	for i, id := range sb.identities {
		if id.Name == name || (i == 0 && name == "default") {
			return id.MFASerial
		}
	}
	return ""
}

// registerSTSAdmin adds the STS admin endpoints:
//
//	GET /_sandbox/mfa-code?profile=P[&next=true]      {"serial":…,"code":"123456","valid_for":17}
//	GET /_sandbox/web-identity-token?sub=S&aud=A&ttl=1h   {"token":…,"issuer":…,"subject":…,"audience":…}
//	GET /_sandbox/credential-lifetime                   {"credential_lifetime":"0s"}
//	PUT /_sandbox/credential-lifetime                   {"credential_lifetime":"5s"} (world.SetCredentialLifetime)
func (sb *Sandbox) registerSTSAdmin(mux *http.ServeMux) {
	mux.HandleFunc("/_sandbox/credential-lifetime", sb.credentialLifetimeHandler)
	mux.HandleFunc("GET /_sandbox/mfa-code", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		next, err := strconv.ParseBool(orDefault(q.Get("next"), "false"))
		if err != nil {
			http.Error(w, "next: want true or false", http.StatusBadRequest)
			return
		}
		serial, code, validFor, err := sb.MFACode(q.Get("profile"), next)
		adminResult(w, map[string]any{"serial": serial, "code": code, "valid_for": validFor}, err)
	})
	mux.HandleFunc("GET /_sandbox/web-identity-token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var ttl time.Duration
		if s := q.Get("ttl"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < time.Second || d > 24*time.Hour {
				http.Error(w, "ttl: want a duration from 1s to 24h, like 1h", http.StatusBadRequest)
				return
			}
			ttl = d
		}
		sub, aud := orDefault(q.Get("sub"), oidc.DefaultSubject), orDefault(q.Get("aud"), oidc.DefaultAudience)
		tok, err := sb.WebIdentityToken(sub, aud, ttl)
		adminResult(w, map[string]any{"token": tok, "issuer": sb.OIDCIssuer(), "subject": sub, "audience": aud}, err)
	})
}

// credentialLifetimeHandler shows (GET) or sets (PUT) the cap on the
// lifetime of temporary credentials issued from then on.
func (sb *Sandbox) credentialLifetimeHandler(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var body struct {
			Lifetime string `json:"credential_lifetime"`
		}
		if !decodeAdmin(w, r, &body) {
			return
		}
		d, err := time.ParseDuration(body.Lifetime)
		if err != nil {
			http.Error(w, fmt.Sprintf("credential_lifetime %q: want a duration like 5s, or 0s for no cap", body.Lifetime), http.StatusBadRequest)
			return
		}
		if err := sb.World.SetCredentialLifetime(d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sb.log.Info("temporary credential lifetime capped", "lifetime", d)
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "use GET or PUT", http.StatusMethodNotAllowed)
		return
	}
	writeJSON(w, map[string]string{"credential_lifetime": sb.World.CredentialLifetime().String()})
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
