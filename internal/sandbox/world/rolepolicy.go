package world

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/jitssh/jitssh/internal/policy"
)

// MaxInlineRolePolicyChars is IAM's quota on the inline policies of one
// role: their documents together, not counting whitespace.
const MaxInlineRolePolicyChars = 10240

// InlinePolicy is an inline policy of a role (iam:PutRolePolicy).
type InlinePolicy struct {
	Name string
	// Text is the document as it was put; Document is it parsed.
	Text     string
	Document policy.Document
}

// Errors of the inline policy operations; the apis package turns them
// into IAM's errors.
var (
	// ErrNoSuchRole: no role of that name (NoSuchEntity).
	ErrNoSuchRole = errors.New("no such role")
	// ErrNoSuchRolePolicy: the role has no inline policy of that name
	// (NoSuchEntity).
	ErrNoSuchRolePolicy = errors.New("no such role policy")
	// ErrRolePolicySize: the role's inline policies would exceed
	// MaxInlineRolePolicyChars (LimitExceeded).
	ErrRolePolicySize = errors.New("inline policies exceed the role's size quota")
)

// RoleExists reports whether the account has a role named name: one of
// its roles, or the role of one of its role-session identities (the
// sandbox's built-in identities are sessions of roles it does not list
// otherwise).
func (w *World) RoleExists(name string) bool {
	if w.iam != nil {
		return w.iam.RoleExists(name)
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if _, ok := w.roles[name]; ok {
		return true
	}
	for _, id := range w.identities {
		if r, ok := w.sessionRole(id.ARN); ok && r == name {
			return true
		}
	}
	return false
}

// sessionRole returns the role name of a role session ARN of the
// account, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
func (w *World) sessionRole(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:sts::"+w.Account+":assumed-role/")
	if !ok {
		return "", false
	}
	role, _, ok := strings.Cut(rest, "/")
	return role, ok && role != ""
}

// PutRolePolicy adds or replaces the inline policy name of role; the
// evaluator applies it to the role's sessions from the next request on,
// including sessions issued before (as IAM does, within its propagation
// delay, which the sandbox does not have). It reports whether a policy of
// that name was replaced.
func (w *World) PutRolePolicy(role, name, text string) (replaced bool, err error) {
	if w.iam != nil {
		return w.iam.PutRolePolicy(role, name, text)
	}
	doc, err := policy.Parse([]byte(text))
	if err != nil {
		return false, err
	}
	if !w.RoleExists(role) {
		return false, ErrNoSuchRole
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inline == nil {
		w.inline = map[string]map[string]InlinePolicy{}
	}
	pols := w.inline[role]
	size := nonSpaceChars(text)
	for n, p := range pols {
		if n != name {
			size += nonSpaceChars(p.Text)
		}
	}
	if size > MaxInlineRolePolicyChars {
		return false, fmt.Errorf("%w (%d characters of %d)", ErrRolePolicySize, size, MaxInlineRolePolicyChars)
	}
	if pols == nil {
		pols = map[string]InlinePolicy{}
		w.inline[role] = pols
	}
	_, replaced = pols[name]
	pols[name] = InlinePolicy{Name: name, Text: text, Document: doc}
	return replaced, nil
}

// DeleteRolePolicy removes the inline policy name of role.
func (w *World) DeleteRolePolicy(role, name string) error {
	if w.iam != nil {
		return w.iam.DeleteRolePolicy(role, name)
	}
	if !w.RoleExists(role) {
		return ErrNoSuchRole
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.inline[role][name]; !ok {
		return ErrNoSuchRolePolicy
	}
	delete(w.inline[role], name)
	return nil
}

// RolePolicy returns the inline policy name of role.
func (w *World) RolePolicy(role, name string) (InlinePolicy, error) {
	if w.iam != nil {
		return w.iam.RolePolicy(role, name)
	}
	if !w.RoleExists(role) {
		return InlinePolicy{}, ErrNoSuchRole
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	p, ok := w.inline[role][name]
	if !ok {
		return InlinePolicy{}, ErrNoSuchRolePolicy
	}
	return p, nil
}

// RolePolicyNames returns the names of role's inline policies, sorted.
func (w *World) RolePolicyNames(role string) ([]string, error) {
	if w.iam != nil {
		return w.iam.RolePolicyNames(role)
	}
	if !w.RoleExists(role) {
		return nil, ErrNoSuchRole
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	names := make([]string, 0, len(w.inline[role]))
	for n := range w.inline[role] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// PoliciesOf returns the identity policies in force for id now: those it
// was given (at configuration, or when its session was issued) and, for a
// session of a role, the role's current inline policies.
func (w *World) PoliciesOf(id Identity) []policy.Document {
	if w.iam != nil {
		return w.iam.PoliciesOf(id)
	}
	role, ok := w.sessionRole(id.ARN)
	if !ok {
		return id.Policies
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	pols := w.inline[role]
	if len(pols) == 0 {
		return id.Policies
	}
	out := append(make([]policy.Document, 0, len(id.Policies)+len(pols)), id.Policies...)
	names := make([]string, 0, len(pols))
	for n := range pols {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, pols[n].Document)
	}
	return out
}

func nonSpaceChars(s string) int {
	n := 0
	for _, r := range s {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}
