package world

import (
	"fmt"
	"sort"
)

// Org is an AWS Organization: a management account and member accounts,
// each with a World per enabled region. An account's worlds share its IAM
// state (Config.IAM: the world of its home region holds it), as IAM and STS
// are global on AWS: one access key works in every region, while an
// instance lives in one region's world only.
type Org struct {
	// Management is the management account's id.
	Management string
	accounts   map[string]*OrgAccount
	order      []string          // account ids: the management account, then members in configuration order
	byInstance map[string]*World // every instance's world at creation (read-only after NewOrg)
	worlds     []*World          // Worlds' answer
}

// OrgAccount is one account of an Org.
type OrgAccount struct {
	ID   string
	Name string // the account's name (alias), e.g. "dev"
	// Home is the world of the account's home region; it holds the
	// account's IAM state.
	Home *World
	// Regions are the account's worlds by region: one per enabled region.
	Regions map[string]*World
	// Disabled are the opt-in regions the account has not enabled: a call
	// signed for one fails as AWS fails it (apis.Router).
	Disabled []string
}

// NewOrg returns an Org of the given accounts; the first is the
// management account. Each account's Regions must include its Home.
func NewOrg(accounts ...*OrgAccount) (*Org, error) {
	if len(accounts) == 0 {
		return nil, fmt.Errorf("world: an organization needs a management account")
	}
	o := &Org{Management: accounts[0].ID, accounts: map[string]*OrgAccount{}, byInstance: map[string]*World{}}
	for _, a := range accounts {
		if a.Home == nil || a.Regions[a.Home.Region] != a.Home {
			return nil, fmt.Errorf("world: account %s: its home world must be one of its regions", a.ID)
		}
		if _, dup := o.accounts[a.ID]; dup {
			return nil, fmt.Errorf("world: duplicate account %s in the organization", a.ID)
		}
		for r, w := range a.Regions {
			if w.Account != a.ID || w.Region != r {
				return nil, fmt.Errorf("world: account %s: world of %s is %s's in %s", a.ID, r, w.Account, w.Region)
			}
		}
		o.accounts[a.ID] = a
		o.order = append(o.order, a.ID)
		for _, r := range a.RegionNames() {
			w := a.Regions[r]
			o.worlds = append(o.worlds, w)
			for _, in := range w.Instances() {
				if err := o.addInstance(w, in); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, w := range o.worlds {
		w.ShareSCPs(accounts[0].Home) // one organisation's SCPs (scp.go)
	}
	return o, nil
}

// addInstance records in's world. Ids are unique, with one exception: a
// virtual (API-only) copy of an id that one machine has in another world
// (another account claiming the id, which AWS never allows but the pin
// tests need); the machine's world is the id's (InstanceWorld).
func (o *Org) addInstance(w *World, in Instance) error {
	other, dup := o.byInstance[in.ID]
	if !dup {
		o.byInstance[in.ID] = w
		return nil
	}
	prev, _ := other.Instance(in.ID)
	if other == w || prev.Virtual == in.Virtual {
		return fmt.Errorf("world: instance %s is in %s/%s and in %s/%s: instance ids are unique", in.ID, other.Account, other.Region, w.Account, w.Region)
	}
	if prev.Virtual && !in.Virtual {
		o.byInstance[in.ID] = w
	}
	return nil
}

// Single returns the Org of one account with one world (the sandbox
// without an organization).
func Single(w *World) *Org {
	o, _ := NewOrg(&OrgAccount{ID: w.Account, Home: w, Regions: map[string]*World{w.Region: w}})
	return o
}

// Accounts returns the accounts, the management account first.
func (o *Org) Accounts() []*OrgAccount {
	out := make([]*OrgAccount, len(o.order))
	for i, id := range o.order {
		out[i] = o.accounts[id]
	}
	return out
}

// Account returns the account with the given id.
func (o *Org) Account(id string) (*OrgAccount, bool) {
	a, ok := o.accounts[id]
	return a, ok
}

// World returns the world of account in region; ok is false when the
// account is unknown or the region is not enabled for it.
func (o *Org) World(account, region string) (*World, bool) {
	a, ok := o.accounts[account]
	if !ok {
		return nil, false
	}
	w, ok := a.Regions[region]
	return w, ok
}

// Worlds returns every world, account by account (Accounts' order), each
// account's regions sorted.
func (o *Org) Worlds() []*World { return append([]*World(nil), o.worlds...) }

// RegionNames returns the account's enabled regions, sorted.
func (a *OrgAccount) RegionNames() []string {
	out := make([]string, 0, len(a.Regions))
	for r := range a.Regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// RegionDisabled reports whether region is one of the account's opt-in
// regions it has not enabled.
func (a *OrgAccount) RegionDisabled(region string) bool {
	for _, r := range a.Disabled {
		if r == region {
			return true
		}
	}
	return false
}

// ByAccessKey returns the account whose IAM state knows accessKeyID (a
// long-term key or temporary credentials).
func (o *Org) ByAccessKey(accessKeyID string) (*OrgAccount, bool) {
	for _, id := range o.order {
		a := o.accounts[id]
		if _, ok := a.Home.Identity(accessKeyID); ok {
			return a, true
		}
	}
	return nil, false
}

// InstanceWorld returns the world holding the instance with the given id
// (instance ids are unique across the organization).
func (o *Org) InstanceWorld(id string) (*World, bool) {
	if w, ok := o.byInstance[id]; ok {
		return w, true
	}
	for _, w := range o.worlds { // an instance added after NewOrg
		if _, ok := w.Instance(id); ok {
			return w, true
		}
	}
	return nil, false
}

// SessionWorld returns the world holding the SSM session with the given
// id.
func (o *Org) SessionWorld(id string) (*World, bool) {
	for _, w := range o.worlds {
		if _, ok := w.Session(id); ok {
			return w, true
		}
	}
	return nil, false
}
