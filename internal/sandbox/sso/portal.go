package sso

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// BearerHeader is the portal API's token header.
const BearerHeader = "X-Amz-Sso_bearer_token"

// DefaultPageSize is the page size of ListAccounts and ListAccountRoles
// without max_result.
const DefaultPageSize = 20

func portalInvalid(format string, args ...any) *apiError {
	return portalErr("InvalidRequestException", http.StatusBadRequest, fmt.Sprintf(format, args...))
}

// bearer resolves the call's access token to its sign-in; it sets c.user.
func (s *Service) bearer(c *apiCall) (*signIn, string, error) {
	tok := c.r.Header.Get(BearerHeader)
	if tok == "" {
		return nil, "", errUnauthorized
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.access[tok]
	if !ok || at.signIn.revoked || !s.now().Before(at.expires) {
		return nil, "", errUnauthorized
	}
	c.user = at.signIn.user
	return at.signIn, tok, nil
}

// RoleName returns the name of the role Identity Center provisions in
// account for a permission set: AWSReservedSSO_<set>_<16 hex>, the hex
// stable per set and account.
func RoleName(account, set string) string {
	return fmt.Sprintf("AWSReservedSSO_%s_%s", set, strings.ToLower(hash16(account+"/"+set)))
}

func hash16(s string) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("%016X", h)
}

// SessionIdentity is the role session GetRoleCredentials opens for user
// with permission set ps: ARN
// arn:aws:sts::ACCOUNT:assumed-role/AWSReservedSSO_<set>_<hex>/<user name>,
// principal tag userName = the user's name (attributes for access
// control), the set's policies.
func SessionIdentity(account string, user User, ps PermissionSet) world.Identity {
	role := RoleName(account, ps.Name)
	return world.Identity{
		Name:     "sso/" + user.UserName,
		ARN:      fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, role, user.UserName),
		UserID:   world.RoleID(role) + ":" + user.UserName,
		Tags:     map[string]string{policy.DefaultUserTag: user.UserName},
		Policies: append([]policy.Document(nil), ps.Policies...),
	}
}

type roleCredentialsOut struct {
	RoleCredentials struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		SessionToken    string `json:"sessionToken"`
		Expiration      int64  `json:"expiration"` // epoch milliseconds
	} `json:"roleCredentials"`
}

func (s *Service) getRoleCredentials(c *apiCall) (any, error) {
	q := c.r.URL.Query()
	role, acct := q.Get("role_name"), q.Get("account_id")
	si, _, err := s.bearer(c)
	if err != nil {
		return nil, err
	}
	if role == "" || acct == "" {
		return nil, portalInvalid("role_name and account_id are required.")
	}
	user, ok := s.users[si.user]
	if !ok || !slices.Contains(user.Assignments, Assignment{Account: acct, PermissionSet: role}) {
		return nil, errNoAccess
	}
	ps, ok := s.sets[role]
	if !ok {
		return nil, errNoAccess
	}
	if s.opts.IssueSession == nil {
		return nil, errors.New("no session issuer configured (Options.IssueSession)")
	}
	ttl := ps.SessionDuration
	if ttl <= 0 {
		ttl = time.Hour
	}
	cr, err := s.opts.IssueSession(SessionIdentity(acct, user, ps), ttl)
	if err != nil {
		return nil, fmt.Errorf("issue the role session: %w", err)
	}
	var out roleCredentialsOut
	out.RoleCredentials.AccessKeyID = cr.AccessKeyID
	out.RoleCredentials.SecretAccessKey = cr.SecretAccessKey
	out.RoleCredentials.SessionToken = cr.SessionToken
	out.RoleCredentials.Expiration = cr.Expiration.UnixMilli()
	return out, nil
}

type accountInfo struct {
	AccountID    string `json:"accountId"`
	AccountName  string `json:"accountName"`
	EmailAddress string `json:"emailAddress"`
}

type listAccountsOut struct {
	NextToken   *string       `json:"nextToken,omitempty"`
	AccountList []accountInfo `json:"accountList"`
}

func (s *Service) listAccounts(c *apiCall) (any, error) {
	q := c.r.URL.Query()
	si, _, err := s.bearer(c)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, a := range s.users[si.user].Assignments {
		if !slices.Contains(ids, a.Account) {
			ids = append(ids, a.Account)
		}
	}
	slices.Sort(ids)
	from, to, next, err := page(len(ids), q.Get("max_result"), q.Get("next_token"), "accounts")
	if err != nil {
		return nil, err
	}
	out := listAccountsOut{NextToken: next, AccountList: []accountInfo{}}
	for _, id := range ids[from:to] {
		name := s.opts.AccountName
		if n, ok := s.opts.AccountNames[id]; ok {
			name = n
		}
		out.AccountList = append(out.AccountList, accountInfo{AccountID: id, AccountName: name, EmailAddress: "aws+" + name + "@example.com"})
	}
	return out, nil
}

type roleInfo struct {
	RoleName  string `json:"roleName"`
	AccountID string `json:"accountId"`
}

type listRolesOut struct {
	NextToken *string    `json:"nextToken,omitempty"`
	RoleList  []roleInfo `json:"roleList"`
}

func (s *Service) listAccountRoles(c *apiCall) (any, error) {
	q := c.r.URL.Query()
	acct := q.Get("account_id")
	si, _, err := s.bearer(c)
	if err != nil {
		return nil, err
	}
	if acct == "" {
		return nil, portalInvalid("account_id is required.")
	}
	var roles []string
	for _, a := range s.users[si.user].Assignments {
		if a.Account == acct && !slices.Contains(roles, a.PermissionSet) {
			roles = append(roles, a.PermissionSet)
		}
	}
	slices.Sort(roles)
	from, to, next, err := page(len(roles), q.Get("max_result"), q.Get("next_token"), "roles/"+acct)
	if err != nil {
		return nil, err
	}
	out := listRolesOut{NextToken: next, RoleList: []roleInfo{}}
	for _, r := range roles[from:to] {
		out.RoleList = append(out.RoleList, roleInfo{RoleName: r, AccountID: acct})
	}
	return out, nil
}

func (s *Service) logout(c *apiCall) (any, error) {
	si, _, err := s.bearer(c)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.revokeLocked(si)
	s.mu.Unlock()
	return nil, nil
}

// revokeLocked ends a sign-in: its access tokens and refresh token stop
// working; s.mu is held.
func (s *Service) revokeLocked(si *signIn) {
	si.revoked = true
	if si.refreshToken != "" {
		delete(s.refresh, si.refreshToken)
	}
}

// page returns the slice [from, to) of n items the request asks for and
// the next token, if more follow. Tokens are opaque to clients and bound
// to the listing (scope) they came from.
func page(n int, maxText, token, scope string) (from, to int, next *string, err error) {
	size := DefaultPageSize
	if maxText != "" {
		v, err := strconv.Atoi(maxText)
		if err != nil || v < 1 || v > 100 {
			return 0, 0, nil, portalInvalid("max_result %q: want a number from 1 to 100.", maxText)
		}
		size = v
	}
	if token != "" {
		from, err = ParsePageToken(token, scope)
		if err != nil || from > n {
			return 0, 0, nil, portalInvalid("Invalid nextToken: pass the one the previous page returned.")
		}
	}
	to = min(from+size, n)
	if to < n {
		t := pageToken(to, scope)
		next = &t
	}
	return from, to, next, nil
}

func pageToken(offset int, scope string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("sbx1|%s|%d", scope, offset)))
}

// ParsePageToken decodes a portal nextToken made for scope into its
// offset.
func ParsePageToken(token, scope string) (int, error) {
	if len(token) > 512 {
		return 0, errors.New("token too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, errors.New("not a page token")
	}
	rest, ok := strings.CutPrefix(string(b), "sbx1|"+scope+"|")
	if !ok {
		return 0, errors.New("not a page token of this listing")
	}
	off, err := strconv.Atoi(rest)
	if err != nil || off < 0 || strconv.Itoa(off) != rest {
		return 0, errors.New("bad offset")
	}
	return off, nil
}
