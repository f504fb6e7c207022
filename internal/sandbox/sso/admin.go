package sso

import (
	"fmt"
	"sort"
	"time"
)

// The administrator's side: what `jitssh-sandbox ctl sso` does through the
// admin endpoints, and what the device page does when a user approves.

// CodeError: a user code names no pending device authorization.
type CodeError struct {
	Code   string
	Reason string // "unknown", "expired", "already approved", "already denied", "already used"
}

func (e *CodeError) Error() string {
	return fmt.Sprintf("user code %s is %s: start the sign-in again to get a new code (`jitssh-sandbox ctl sso pending` lists the pending ones)", e.Code, e.Reason)
}

// UserError: a name is not a user of the directory.
type UserError struct {
	User  string
	Known []string
}

func (e *UserError) Error() string {
	return fmt.Sprintf("%q is not a user of the sandbox's Identity Center (its users: %v)", e.User, e.Known)
}

// Approve approves the pending device authorization with userCode as
// user ("" means the directory's first user).
func (s *Service) Approve(userCode, user string) error { return s.decide(userCode, user, true) }

// Deny denies the pending device authorization with userCode.
func (s *Service) Deny(userCode string) error { return s.decide(userCode, "", false) }

func (s *Service) decide(userCode, user string, allow bool) error {
	code, err := NormalizeUserCode(userCode)
	if err != nil {
		return &InputError{Field: "user code", Reason: err.Error()}
	}
	if allow {
		if user == "" && len(s.opts.Users) > 0 {
			user = s.opts.Users[0].UserName
		}
		if _, ok := s.users[user]; !ok {
			return &UserError{User: user, Known: s.userNames()}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.userCodes[code]
	switch {
	case !ok:
		return &CodeError{Code: code, Reason: "unknown"}
	case !s.now().Before(d.expires):
		return &CodeError{Code: code, Reason: "expired"}
	case d.state != "pending":
		reason := map[string]string{"approved": "already approved", "denied": "already denied", "used": "already used"}[d.state]
		return &CodeError{Code: code, Reason: reason}
	}
	if allow {
		d.state, d.user = "approved", user
		s.log.Info("device authorization approved", "user_code", code, "user", user)
	} else {
		d.state = "denied"
		s.log.Info("device authorization denied", "user_code", code)
	}
	return nil
}

func (s *Service) userNames() []string {
	var out []string
	for _, u := range s.opts.Users {
		out = append(out, u.UserName)
	}
	return out
}

// Pending is a device authorization waiting for approval.
type Pending struct {
	UserCode   string    `json:"user_code"`
	ClientName string    `json:"client_name"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
}

// Pending lists the device authorizations waiting for approval, oldest
// first.
func (s *Service) Pending() []Pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := []Pending{}
	for _, d := range s.devices {
		if d.state == "pending" && now.Before(d.expires) {
			out = append(out, Pending{UserCode: d.userCode, ClientName: d.client.name, Created: d.created, Expires: d.expires})
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if !out[a].Created.Equal(out[b].Created) {
			return out[a].Created.Before(out[b].Created)
		}
		return out[a].UserCode < out[b].UserCode
	})
	return out
}

// Revoke ends every sign-in of user ("" means every user): their access
// and refresh tokens stop working (the portal answers
// UnauthorizedException, CreateToken InvalidGrantException). It returns
// how many sign-ins ended.
func (s *Service) Revoke(user string) (int, error) {
	if user != "" {
		if _, ok := s.users[user]; !ok {
			return 0, &UserError{User: user, Known: s.userNames()}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[*signIn]bool{}
	now := s.now()
	for _, a := range s.access {
		if now.Before(a.expires) {
			seen[a.signIn] = true
		}
	}
	for _, si := range s.refresh {
		seen[si] = true
	}
	n := 0
	for si := range seen {
		if !si.revoked && (user == "" || si.user == user) {
			s.revokeLocked(si)
			n++
		}
	}
	s.log.Info("sign-ins revoked", "user", user, "count", n)
	return n, nil
}
