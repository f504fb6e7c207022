package world

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/jitssh/jitssh/internal/policy"
)

// The sandbox's organisation, as far as AWS Organizations' service
// control policies go: one root and its accounts, with the configured SCPs
// attached to the root. The state lives in the management account's home
// world (ShareSCPs); every method below answers from there.

// MaxSCPChars is the largest SCP document Organizations accepts.
const MaxSCPChars = 5120

// SCP is a service control policy of the organisation.
type SCP struct {
	ID          string // p-…; AWS's own FullAWSAccess is p-FullAWSAccess
	Name        string
	Description string
	AWSManaged  bool
	Text        string
	Document    policy.Document
	// Targets are the root and account ids it is attached to.
	Targets []string
}

// Attached reports whether p applies to the account.
func (p SCP) Attached() bool { return len(p.Targets) > 0 }

// Errors of the Organizations operations (the apis package words them).
var (
	ErrNoOrganization     = errors.New("the account is not a member of an organization")
	ErrNoSuchSCP          = errors.New("no such policy")
	ErrDuplicateSCP       = errors.New("a policy with that name already exists")
	ErrNoSuchTarget       = errors.New("no such target")
	ErrDuplicateAttach    = errors.New("the policy is already attached to the target")
	ErrNotAttached        = errors.New("the policy is not attached to the target")
	ErrSCPInUse           = errors.New("the policy is attached")
	ErrAWSManagedReadOnly = errors.New("AWS managed policies cannot be changed")
)

// OrgRootID is the organisation root's id.
func (w *World) OrgRootID() string {
	if r := w.scpRoot(); r != w {
		return r.OrgRootID()
	}
	sum := sha256.Sum256([]byte("root/" + w.Account))
	return "r-" + hex.EncodeToString(sum[:])[:4]
}

// orgState returns the SCP state, made from the configured SCPs on first
// use; the caller holds w.mu for writing. Without an organisation it
// returns ErrNoOrganization.
func (w *World) orgState() (*scpState, error) {
	if w.scps != nil {
		return w.scps, nil
	}
	if w.SCPs == nil {
		return nil, ErrNoOrganization
	}
	st := &scpState{}
	full := policy.Document{Version: policy.Version, Statement: []policy.Statement{{Effect: policy.Allow, Action: policy.Strings{"*"}, Resource: policy.Strings{"*"}}}}
	for i, d := range w.SCPs {
		p := &SCP{Document: d, Text: string(d.JSON()), Targets: []string{w.OrgRootID()}}
		cmp := d
		if len(cmp.Statement) == 1 {
			s := cmp.Statement[0]
			s.Sid = ""
			cmp.Statement = []policy.Statement{s}
		}
		if reflect.DeepEqual(cmp, full) {
			p.ID, p.Name, p.AWSManaged = "p-FullAWSAccess", "FullAWSAccess", true
			p.Description = "Allows access to every operation"
		} else {
			p.Name = fmt.Sprintf("sandbox-scp-%d", i+1)
			p.ID = w.scpID(p.Name)
		}
		st.policies = append(st.policies, p)
	}
	// A member account's own configured SCPs (the built-in organization's
	// audit account denies ec2:DescribeInstances) stay in force, attached
	// to that account: what the account's evaluation used before the
	// first Organizations call must not be lost by it.
	for _, m := range w.scpMembers {
		for _, d := range m.SCPs {
			if slices.ContainsFunc(st.policies, func(p *SCP) bool { return reflect.DeepEqual(p.Document, d) }) {
				continue
			}
			i := len(st.policies)
			p := &SCP{Document: d, Text: string(d.JSON()), Targets: []string{m.Account}, Name: fmt.Sprintf("sandbox-scp-%d", i+1)}
			p.ID = w.scpID(p.Name)
			st.policies = append(st.policies, p)
		}
		for _, p := range st.policies {
			switch {
			case slices.Contains(p.Targets, m.Account), slices.Contains(p.Targets, w.OrgRootID()):
			case slices.ContainsFunc(m.SCPs, func(d policy.Document) bool { return reflect.DeepEqual(p.Document, d) }):
				p.Targets = append(p.Targets, m.Account) // another member's policy, configured here too
			}
		}
	}
	w.scps = st
	return st, nil
}

func (w *World) scpID(name string) string {
	sum := sha256.Sum256([]byte("scp/" + w.Account + "/" + name))
	return "p-" + hex.EncodeToString(sum[:])[:8]
}

// SCPList returns the organisation's SCPs.
func (w *World) SCPList() ([]SCP, error) {
	if r := w.scpRoot(); r != w {
		return r.SCPList()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := w.orgState()
	if err != nil {
		return nil, err
	}
	out := make([]SCP, len(st.policies))
	for i, p := range st.policies {
		out[i] = *p
		out[i].Targets = slices.Clone(p.Targets)
	}
	return out, nil
}

// SCPByID returns the SCP id.
func (w *World) SCPByID(id string) (SCP, error) {
	all, err := w.SCPList()
	if err != nil {
		return SCP{}, err
	}
	for _, p := range all {
		if p.ID == id {
			return p, nil
		}
	}
	return SCP{}, ErrNoSuchSCP
}

// CreateSCP adds an SCP, attached nowhere.
func (w *World) CreateSCP(name, description, text string) (SCP, error) {
	if r := w.scpRoot(); r != w {
		return r.CreateSCP(name, description, text)
	}
	doc, err := policy.Parse([]byte(text))
	if err != nil {
		return SCP{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := w.orgState()
	if err != nil {
		return SCP{}, err
	}
	for _, p := range st.policies {
		if p.Name == name {
			return SCP{}, ErrDuplicateSCP
		}
	}
	p := &SCP{ID: w.scpID(name), Name: name, Description: description, Text: text, Document: doc}
	st.policies = append(st.policies, p)
	return *p, nil
}

// UpdateSCP changes an SCP's description and document (nil: unchanged);
// it applies at once to the requests of the accounts it is attached to.
func (w *World) UpdateSCP(id string, description, text *string) (SCP, error) {
	if r := w.scpRoot(); r != w {
		return r.UpdateSCP(id, description, text)
	}
	var doc policy.Document
	if text != nil {
		d, err := policy.Parse([]byte(*text))
		if err != nil {
			return SCP{}, err
		}
		doc = d
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p, err := w.findSCP(id)
	if err != nil {
		return SCP{}, err
	}
	if p.AWSManaged {
		return SCP{}, ErrAWSManagedReadOnly
	}
	if description != nil {
		p.Description = *description
	}
	if text != nil {
		p.Text, p.Document = *text, doc
	}
	out := *p
	out.Targets = slices.Clone(p.Targets)
	return out, nil
}

func (w *World) findSCP(id string) (*SCP, error) {
	st, err := w.orgState()
	if err != nil {
		return nil, err
	}
	for _, p := range st.policies {
		if p.ID == id {
			return p, nil
		}
	}
	return nil, ErrNoSuchSCP
}

// AttachSCP attaches SCP id to target (the root's id or the account's).
func (w *World) AttachSCP(id, target string) error {
	if r := w.scpRoot(); r != w {
		return r.AttachSCP(id, target)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p, err := w.findSCP(id)
	if err != nil {
		return err
	}
	if target != w.OrgRootID() && !accountIDPattern.MatchString(target) {
		return ErrNoSuchTarget
	}
	if slices.Contains(p.Targets, target) {
		return ErrDuplicateAttach
	}
	p.Targets = append(p.Targets, target)
	return nil
}

// DetachSCP detaches SCP id from target.
func (w *World) DetachSCP(id, target string) error {
	if r := w.scpRoot(); r != w {
		return r.DetachSCP(id, target)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p, err := w.findSCP(id)
	if err != nil {
		return err
	}
	if target != w.OrgRootID() && !accountIDPattern.MatchString(target) {
		return ErrNoSuchTarget
	}
	i := slices.Index(p.Targets, target)
	if i < 0 {
		return ErrNotAttached
	}
	p.Targets = slices.Delete(p.Targets, i, i+1)
	return nil
}

// DeleteSCP deletes SCP id, which must be attached nowhere.
func (w *World) DeleteSCP(id string) error {
	if r := w.scpRoot(); r != w {
		return r.DeleteSCP(id)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p, err := w.findSCP(id)
	if err != nil {
		return err
	}
	if p.AWSManaged {
		return ErrAWSManagedReadOnly
	}
	if p.Attached() {
		return ErrSCPInUse
	}
	w.scps.policies = slices.DeleteFunc(w.scps.policies, func(q *SCP) bool { return q == p })
	return nil
}
