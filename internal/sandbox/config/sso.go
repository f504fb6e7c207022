package config

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/sso"
)

// SSOSpec are the settings of the sandbox's IAM Identity Center ([sso]).
type SSOSpec struct {
	// AccessTokenTTL is how long OIDC access tokens last ("1h" when
	// empty; e.g. "30s" for tests of refresh); 1s to 24h.
	AccessTokenTTL string `toml:"access_token_ttl"`
	// DeviceCodeTTL is how long device codes last ("10m" when empty, as
	// on AWS; e.g. "5s" for tests of expired_token); 1s to 1h.
	DeviceCodeTTL string `toml:"device_code_ttl"`
}

// PermissionSetSpec is an Identity Center permission set
// ([[permission_sets]]).
type PermissionSetSpec struct {
	Name string `toml:"name"`
	// Policies name the policies of the role provisioned for it.
	Policies []string `toml:"policies"`
	// SessionDuration is how long its credentials last, 1h to 12h ("1h"
	// when empty).
	SessionDuration string `toml:"session_duration"`
}

// SSOUserSpec is a user of the Identity Center directory ([[sso_users]]).
type SSOUserSpec struct {
	// UserName becomes the role session name of the user's sessions and
	// their userName principal tag; empty means the local user's name, as
	// for the default identity (so jitssh's OS user exists on the
	// instances).
	UserName string `toml:"user_name"`
	// Email defaults to <user_name>@example.com.
	Email       string              `toml:"email"`
	Assignments []SSOAssignmentSpec `toml:"assignments"`
}

// SSOAssignmentSpec gives a user a permission set in an account (the
// sandbox's, the default; it has no other).
type SSOAssignmentSpec struct {
	Account       string `toml:"account"`
	PermissionSet string `toml:"permission_set"`
}

var (
	permissionSetPattern = regexp.MustCompile(`^[\w+=,.@-]{1,32}$`)
	emailPattern         = regexp.MustCompile(`^[^@\s]{1,64}@[^@\s]{1,255}$`)
)

// checkSSO validates the Identity Center: settings, permission sets and
// users with their assignments.
func (f *File) checkSSO() error {
	if f.SSO.AccessTokenTTL != "" {
		d, err := time.ParseDuration(f.SSO.AccessTokenTTL)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return fmt.Errorf("sso.access_token_ttl %q: want a duration from 1s to 24h, like \"1h\" or \"30s\"", f.SSO.AccessTokenTTL)
		}
	}
	if f.SSO.DeviceCodeTTL != "" {
		d, err := time.ParseDuration(f.SSO.DeviceCodeTTL)
		if err != nil || d < time.Second || d > time.Hour {
			return fmt.Errorf("sso.device_code_ttl %q: want a duration from 1s to 1h, like \"10m\" or \"5s\"", f.SSO.DeviceCodeTTL)
		}
	}
	sets := map[string]bool{}
	for i := range f.PermissionSets {
		p := &f.PermissionSets[i]
		where := fmt.Sprintf("permission_sets[%d]", i)
		if !permissionSetPattern.MatchString(p.Name) {
			return fmt.Errorf("%s: name %q: 1 to 32 of letters, digits and +=,.@_-", where, p.Name)
		}
		where += " (" + p.Name + ")"
		if sets[p.Name] {
			return fmt.Errorf("%s: duplicate name", where)
		}
		sets[p.Name] = true
		if _, err := sessionDuration(p.SessionDuration); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		for _, n := range p.Policies {
			if _, err := f.policy(n); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	users := map[string]bool{}
	for i := range f.SSOUsers {
		if err := f.checkSSOUser(i, sets, users); err != nil {
			return err
		}
	}
	return nil
}

func (f *File) checkSSOUser(i int, sets, users map[string]bool) error {
	u := &f.SSOUsers[i]
	where := fmt.Sprintf("sso_users[%d]", i)
	if u.UserName != "" {
		if !sessionPattern.MatchString(u.UserName) {
			return fmt.Errorf("%s: user_name %q: 2 to 64 of letters, digits and +=,.@_- (it becomes the role session name)", where, u.UserName)
		}
		where += " (" + u.UserName + ")"
	}
	if users[u.UserName] {
		return fmt.Errorf("%s: duplicate user_name", where)
	}
	users[u.UserName] = true
	if u.Email != "" && !emailPattern.MatchString(u.Email) {
		return fmt.Errorf("%s: email %q is not an email address", where, u.Email)
	}
	for j := range u.Assignments {
		a := &u.Assignments[j]
		if a.Account == "" {
			a.Account = f.Account
		}
		if ids := f.orgAccountIDs(); !ids[a.Account] && len(ids) == 1 {
			return fmt.Errorf("%s.assignments[%d]: account %q: the sandbox has one account, %s", where, j, a.Account, f.Account)
		} else if !ids[a.Account] {
			return fmt.Errorf("%s.assignments[%d]: account %q is not the sandbox's (%s) nor one of its organization's members", where, j, a.Account, f.Account)
		}
		if !sets[a.PermissionSet] {
			return fmt.Errorf("%s.assignments[%d]: permission_set %q is not defined under [[permission_sets]]", where, j, a.PermissionSet)
		}
	}
	return nil
}

func sessionDuration(s string) (time.Duration, error) {
	if s == "" {
		return time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Hour || d > 12*time.Hour {
		return 0, fmt.Errorf("session_duration %q: want a duration from 1h to 12h", s)
	}
	return d, nil
}

// resolveSSO fills in the Identity Center of a: users (an empty
// user_name is localUser; when another user has that name, the first of
// the two is kept), permission sets with their policies, the
// access-token lifetime.
func (f *File) resolveSSO(a *Account, localUser string) error {
	for _, p := range f.PermissionSets {
		ps := sso.PermissionSet{Name: p.Name}
		ps.SessionDuration, _ = sessionDuration(p.SessionDuration) // checked
		for _, n := range p.Policies {
			d, err := f.policyIn(n, f.inOrg())
			if err != nil {
				return err
			}
			ps.Policies = append(ps.Policies, d)
		}
		a.PermissionSets = append(a.PermissionSets, ps)
	}
	for i, u := range f.SSOUsers {
		name := or(u.UserName, localUser)
		if !sessionPattern.MatchString(name) {
			return fmt.Errorf("sso_users[%d]: the local user name %q is not a valid role session name; set user_name", i, name)
		}
		if slices.ContainsFunc(a.SSOUsers, func(p sso.User) bool { return p.UserName == name }) {
			// Only possible with an empty user_name: the local user is
			// also named explicitly. The first entry wins.
			continue
		}
		user := sso.User{UserName: name, Email: or(u.Email, name+"@example.com")}
		for _, as := range u.Assignments {
			user.Assignments = append(user.Assignments, sso.Assignment{Account: as.Account, PermissionSet: as.PermissionSet})
		}
		a.SSOUsers = append(a.SSOUsers, user)
	}
	if f.SSO.AccessTokenTTL != "" {
		a.SSOAccessTokenTTL, _ = time.ParseDuration(f.SSO.AccessTokenTTL) // checked
	}
	if f.SSO.DeviceCodeTTL != "" {
		a.SSODeviceCodeTTL, _ = time.ParseDuration(f.SSO.DeviceCodeTTL) // checked
	}
	return nil
}
