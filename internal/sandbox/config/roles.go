package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// RoleSpec is one IAM role of the account, assumable with STS AssumeRole
// (and AssumeRoleWithWebIdentity when WebIdentity is set).
type RoleSpec struct {
	Name string `toml:"name"`
	// Trust is the role's trust policy: the name of a policy (see
	// [policies]) or an inline JSON document. Every statement needs a
	// Principal.
	Trust string `toml:"trust"`
	// WebIdentity, when set, adds a trust statement for the sandbox's OIDC
	// issuer (its URL is known only at start).
	WebIdentity *WebIdentitySpec `toml:"web_identity"`
	// Policies name the permission policies of the role's sessions.
	Policies []string `toml:"policies"`
	// Tags are the role's tags: principal tags of its sessions unless a
	// session tag overrides them.
	Tags map[string]string `toml:"tags"`
	// MaxSession is the longest session, "1h" (default) to "12h".
	MaxSession string `toml:"max_session"`
	// Profile, when set, is the name of an AWS profile the sandbox writes
	// for the role: role_arn with source_profile (and mfa_serial with
	// UseMFA), or with web_identity_token_file for a web identity role.
	Profile string `toml:"profile"`
	// SourceProfile names the identity whose keys assume the role in
	// Profile.
	SourceProfile string `toml:"source_profile"`
	// UseMFA writes the source identity's MFA device as the profile's
	// mfa_serial.
	UseMFA bool `toml:"use_mfa"`
}

// WebIdentitySpec is the trust of the sandbox's OIDC issuer: tokens with
// this subject and audience may assume the role.
type WebIdentitySpec struct {
	// Subject is the sub claim the trust requires (StringEquals); the
	// sandbox's default token subject when empty.
	Subject string `toml:"subject"`
	// Audience is the aud claim; "sts.amazonaws.com" when empty.
	Audience string `toml:"audience"`
}

// Web identity defaults (package oidc's).
const (
	DefaultWebIdentitySubject  = "jitssh-sandbox-workload"
	DefaultWebIdentityAudience = "sts.amazonaws.com"
)

// RoleProfile is an AWS profile the sandbox writes for a role.
type RoleProfile struct {
	Name    string
	RoleARN string
	// SourceProfile and MFASerial, for roles assumed with AssumeRole.
	SourceProfile, MFASerial string
	// WebIdentity: the profile reads the sandbox's token file.
	WebIdentity bool
}

// checkRoles validates the roles: unique names, a trust policy whose
// statements name principals (or web_identity), known policies, tags,
// durations and profiles.
func (f *File) checkRoles() error {
	names := map[string]bool{}
	profiles := map[string]bool{}
	for _, id := range f.Identities {
		profiles[id.Name] = true
	}
	for i := range f.Roles {
		r := &f.Roles[i]
		where := fmt.Sprintf("roles[%d]", i)
		if !roleNamePattern.MatchString(r.Name) {
			return fmt.Errorf("%s: name %q: want 1 to 64 of letters, digits and +=,.@_-", where, r.Name)
		}
		where = fmt.Sprintf("roles[%d] (%s)", i, r.Name)
		if names[r.Name] {
			return fmt.Errorf("%s: duplicate role name", where)
		}
		names[r.Name] = true
		if r.Trust == "" && r.WebIdentity == nil {
			return fmt.Errorf("%s: set trust (a policy name or an inline JSON trust policy) or [roles.web_identity]", where)
		}
		if r.Trust != "" {
			if _, err := f.trustPolicy(r.Trust); err != nil {
				return fmt.Errorf("%s: trust: %w", where, err)
			}
		}
		if w := r.WebIdentity; w != nil {
			if w.Subject == "" {
				w.Subject = DefaultWebIdentitySubject
			}
			if w.Audience == "" {
				w.Audience = DefaultWebIdentityAudience
			}
		}
		for _, p := range r.Policies {
			if _, err := f.policy(p); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		if err := checkTags(r.Tags, where+".tags"); err != nil {
			return err
		}
		if _, err := r.maxSession(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if err := f.checkRoleProfile(r, where, profiles); err != nil {
			return err
		}
	}
	return nil
}

// checkRoleProfile validates a role's profile and its source identity.
func (f *File) checkRoleProfile(r *RoleSpec, where string, profiles map[string]bool) error {
	if r.Profile == "" {
		if r.SourceProfile != "" || r.UseMFA {
			return fmt.Errorf("%s: source_profile and use_mfa are for a role with a profile", where)
		}
		return nil
	}
	if !profilePattern.MatchString(r.Profile) || r.Profile == "default" {
		return fmt.Errorf("%s: profile %q: want letters, digits, _, . and - (not default)", where, r.Profile)
	}
	if profiles[r.Profile] {
		return fmt.Errorf("%s: profile %q is already an identity's or another role's", where, r.Profile)
	}
	profiles[r.Profile] = true
	if r.SourceProfile == "" {
		if r.WebIdentity == nil {
			return fmt.Errorf("%s: profile %s needs source_profile (the identity that assumes the role) or [roles.web_identity]", where, r.Profile)
		}
		if r.UseMFA {
			return fmt.Errorf("%s: use_mfa needs a source_profile with mfa = true", where)
		}
		return nil
	}
	src := f.identitySpec(r.SourceProfile)
	if src == nil {
		return fmt.Errorf("%s: source_profile %q is not an identity's name", where, r.SourceProfile)
	}
	if r.UseMFA && !src.MFA {
		return fmt.Errorf("%s: use_mfa: the source identity %s has no MFA device; set mfa = true on it", where, src.Name)
	}
	return nil
}

func (f *File) identitySpec(name string) *IdentitySpec {
	for i := range f.Identities {
		if f.Identities[i].Name == name {
			return &f.Identities[i]
		}
	}
	return nil
}

// maxSession parses MaxSession: 1h when empty, else 1h to 12h.
func (r RoleSpec) maxSession() (time.Duration, error) {
	if r.MaxSession == "" {
		return world.DefaultMaxSession, nil
	}
	d, err := time.ParseDuration(r.MaxSession)
	if err != nil || d < time.Hour || d > world.MaxMaxSession || d%time.Second != 0 {
		return 0, fmt.Errorf("max_session %q: want a duration from 1h to 12h, like \"4h\"", r.MaxSession)
	}
	return d, nil
}

// trustPolicy returns the trust policy named or written inline by s; each
// statement must name a principal and only STS actions.
func (f *File) trustPolicy(s string) (policy.Document, error) {
	var d policy.Document
	var err error
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		d, err = policy.Parse([]byte(s))
		if err != nil {
			return d, fmt.Errorf("inline trust policy: %w", err)
		}
	} else if d, err = f.policy(s); err != nil {
		return d, err
	}
	for i, st := range d.Statement {
		if st.Principal == nil {
			return d, fmt.Errorf("statement %d has no Principal: a trust policy says who may assume the role", i)
		}
		if len(st.Resource) > 0 || len(st.NotResource) > 0 {
			return d, fmt.Errorf("statement %d has a Resource: a trust policy's resource is the role itself; remove it", i)
		}
		for _, a := range append(append(policy.Strings{}, st.Action...), st.NotAction...) {
			if !strings.HasPrefix(strings.ToLower(a), "sts:") && a != "*" {
				return d, fmt.Errorf("statement %d: action %s: a trust policy grants only sts: actions", i, a)
			}
		}
	}
	return d, nil
}

// role resolves a checked role spec.
func (f *File) role(spec RoleSpec) (world.Role, error) {
	r := world.Role{Name: spec.Name, Tags: map[string]string{}}
	for k, v := range spec.Tags {
		r.Tags[k] = v
	}
	r.MaxSession, _ = spec.maxSession()
	r.Trust = policy.Document{Version: policy.Version}
	if spec.Trust != "" {
		t, err := f.trustPolicy(spec.Trust)
		if err != nil {
			return r, err
		}
		r.Trust = t
	}
	for _, p := range spec.Policies {
		d, err := f.policy(p)
		if err != nil {
			return r, err
		}
		r.Policies = append(r.Policies, d)
	}
	return r, nil
}

// WebIdentityTrust returns the trust statement for a web identity role:
// the IAM OIDC provider providerARN (whose condition keys start with
// providerID) with the spec's audience and subject.
func WebIdentityTrust(providerARN, providerID string, spec WebIdentitySpec) policy.Statement {
	return policy.Statement{
		Sid: "SandboxOIDCIssuer", Effect: policy.Allow,
		Principal: &policy.Principal{Federated: policy.Strings{providerARN}},
		Action:    policy.Strings{"sts:AssumeRoleWithWebIdentity"},
		Condition: policy.Condition{"StringEquals": {
			providerID + ":aud": {spec.Audience},
			providerID + ":sub": {spec.Subject},
		}},
	}
}

// resolveRoles adds the roles, their web identity trusts and their
// profiles to a.
func (f *File) resolveRoles(a *Account) error {
	a.WebIdentity = map[string]WebIdentitySpec{}
	for i, spec := range f.Roles {
		r, err := f.role(spec)
		if err != nil {
			return fmt.Errorf("roles[%d] (%s): %w", i, spec.Name, err)
		}
		a.Roles = append(a.Roles, r)
		if spec.WebIdentity != nil {
			a.WebIdentity[spec.Name] = *spec.WebIdentity
		}
		if spec.Profile == "" {
			continue
		}
		p := RoleProfile{Name: spec.Profile, RoleARN: "arn:aws:iam::" + f.Account + ":role/" + spec.Name,
			SourceProfile: spec.SourceProfile, WebIdentity: spec.SourceProfile == ""}
		if spec.UseMFA {
			p.MFASerial = MFASerial(f.Account, f.identitySpec(spec.SourceProfile).User)
		}
		a.RoleProfiles = append(a.RoleProfiles, p)
	}
	return nil
}

// MFASerial is the ARN of the virtual MFA device of IAM user user (a
// path is dropped: devices are named after the user).
func MFASerial(account, user string) string {
	return "arn:aws:iam::" + account + ":mfa/" + user[strings.LastIndex(user, "/")+1:]
}

var errMFANotUser = errors.New("mfa = true is for IAM users (type = \"user\"): AWS gives MFA devices to users, and roles are assumed with the user's")
