package world

import (
	"regexp"
	"slices"

	"github.com/jitssh/jitssh/internal/policy"
)

// scpState is the organisation's service control policies once they have
// been changed through the Organizations API (orgs.go); nil until then.
type scpState struct {
	policies []*SCP
}

// ShareSCPs makes w's service control policies the organisation's, held
// by root (the management account's home world): Organizations calls
// answered by any world change them, and every world evaluates them.
func (w *World) ShareSCPs(root *World) {
	if root != w {
		w.scpHome = root
		root.mu.Lock()
		root.scpMembers = append(root.scpMembers, w)
		root.mu.Unlock()
	}
}

// scpRoot is the world holding the organisation's SCP state.
func (w *World) scpRoot() *World {
	switch {
	case w.scpHome != nil:
		return w.scpHome
	case w.iam != nil:
		return w.iam
	}
	return w
}

// SCPAccount is the account whose Organizations calls manage the SCPs:
// the organisation's management account.
func (w *World) SCPAccount() string { return w.scpRoot().Account }

var accountIDPattern = regexp.MustCompile(`^\d{12}$`)

// SCPsInForce returns the service control policies in force for w's
// account now (nil: the account is in no organisation): the configured
// ones, or as Organizations calls have changed them since (those attached
// to the root or to the account).
func (w *World) SCPsInForce() []policy.Document {
	root := w.scpRoot()
	root.mu.RLock()
	defer root.mu.RUnlock()
	if root.scps == nil {
		return w.SCPs
	}
	out := []policy.Document{}
	for _, p := range root.scps.policies {
		if slices.Contains(p.Targets, root.OrgRootID()) || slices.Contains(p.Targets, w.Account) {
			out = append(out, p.Document)
		}
	}
	return out
}
