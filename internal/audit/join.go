package audit

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind is what an Entry records.
type Kind string

// Entry kinds: an access (a key push and what came of it, or a login
// nobody pushed a key for), the other tracked calls, and instance events
// outside an access.
const (
	KindAccess           Kind = "access"
	KindStartSession     Kind = "start-session"
	KindTerminateSession Kind = "terminate-session"
	KindOpenTunnel       Kind = "open-tunnel"
	KindSendCommand      Kind = "send-command"
	KindInstanceEvent    Kind = "instance-event"
	// KindRevoke: a policy call of a revocation of the person or its
	// undo (Event names the call).
	KindRevoke Kind = "revoke"
)

// Gap names what is missing from one side of the join.
type Gap string

// Gaps.
const (
	// GapNoTrail: the instance served a key (or opened a login) whose
	// request id or fingerprint no CloudTrail record in range carries.
	GapNoTrail Gap = "no-cloudtrail-record"
	// GapNoInstance: an allowed SendSSHPublicKey the instance never
	// recorded serving (the key went unused, or the instance's events are
	// missing).
	GapNoInstance Gap = "no-instance-event"
)

// Entry is one line of the timeline.
type Entry struct {
	Time      time.Time `json:"time"`
	Kind      Kind      `json:"kind"`
	Principal string    `json:"principal,omitempty"`
	Account   string    `json:"account,omitempty"`
	Region    string    `json:"region,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Instance  string    `json:"instance,omitempty"`
	OSUser    string    `json:"os_user,omitempty"`
	// Fingerprint is the pushed key's (CloudTrail) or the served key's
	// (instance).
	Fingerprint string `json:"fingerprint,omitempty"`
	SessionID   string `json:"session_id,omitempty"`
	// Denied is set for a call IAM refused, with its code and message.
	Denied    bool   `json:"denied,omitempty"`
	ErrorCode string `json:"error_code,omitempty"`
	Error     string `json:"error,omitempty"`
	// KeyServed, Login and Logout are the instance's times; Duration is
	// Logout − Login (0 while open or unknown).
	KeyServed *time.Time    `json:"key_served,omitempty"`
	Login     *time.Time    `json:"login,omitempty"`
	Logout    *time.Time    `json:"logout,omitempty"`
	Duration  time.Duration `json:"duration_ns,omitempty"`
	// Event and Detail describe an instance event (KindInstanceEvent).
	Event  string `json:"event,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Subject is the person someone else's call (or the instance event it
	// caused) acted on: a revocation; CommandID is the Run Command that
	// ran on the instance.
	Subject   string `json:"subject,omitempty"`
	CommandID string `json:"command_id,omitempty"`
	Gaps      []Gap  `json:"gaps,omitempty"`

	pid       string   // the login's sshd pid, to pair its close
	instances []string // a SendCommand's instances
}

// Filter selects timeline entries.
type Filter struct {
	User      string // the person: the OS user, or the caller's session or user name
	Principal string // caller ARN, or the session/user name it ends with
	Instance  string
	Since     time.Time
	Until     time.Time
}

func (f Filter) match(e *Entry) bool {
	if e.Subject != "" && (e.Subject == f.User || e.Subject == f.Principal) && f.Instance == "" {
		return f.inRange(e)
	}
	if f.User != "" && e.OSUser != f.User && SessionName(e.Principal) != f.User {
		return false
	}
	if f.Principal != "" && e.Principal != f.Principal && SessionName(e.Principal) != f.Principal {
		return false
	}
	if f.Instance != "" && e.Instance != f.Instance {
		return false
	}
	return f.inRange(e)
}

func (f Filter) inRange(e *Entry) bool {
	return (f.Since.IsZero() || !e.Time.Before(f.Since)) && (f.Until.IsZero() || !e.Time.After(f.Until))
}

// Join builds the timeline of trail and host events (either may hold
// duplicates and anything outside f; those are dropped), sorted by time.
func Join(trail []TrailEvent, host []HostEvent, f Filter) []Entry {
	var out []*Entry
	var cj commandJoiner
	byReq := map[string]*Entry{}
	seenTrail := map[string]bool{}
	trailKey := func(t TrailEvent) string {
		if t.EventID == "" {
			return t.RequestID + t.Name
		}
		return t.EventID
	}
	subjects := map[string]string{} // a record read twice, once marked
	for _, t := range trail {
		if t.Subject != "" {
			subjects[trailKey(t)] = t.Subject
		}
	}
	for _, t := range trail {
		key := trailKey(t)
		t.Subject = subjects[key]
		if seenTrail[key] || !slices.Contains(TrackedEvents, t.Name) && (t.Subject == "" || !slices.Contains(RevokeCalls, t.Name)) {
			continue
		}
		seenTrail[key] = true
		e := &Entry{Time: t.Time, Principal: t.Principal, Account: t.Account, Region: t.Region, RequestID: t.RequestID,
			Instance: t.Instance, OSUser: t.OSUser, Fingerprint: t.Fingerprint, SessionID: t.SessionID,
			Denied: t.Denied(), ErrorCode: t.ErrorCode, Error: t.ErrorMsg, Detail: t.Detail, Subject: t.Subject, CommandID: t.CommandID,
			instances: t.Instances}
		switch t.Name {
		case "SendSSHPublicKey":
			e.Kind = KindAccess
			if t.ErrorCode == "" && t.RequestID != "" {
				byReq[t.RequestID] = e
			}
		case "StartSession":
			e.Kind = KindStartSession
		case "TerminateSession":
			e.Kind = KindTerminateSession
		case "OpenTunnel":
			e.Kind = KindOpenTunnel
		case "SendCommand":
			e.Kind = KindSendCommand
			if t.Subject != "" {
				e.Detail = strings.TrimSpace(fmt.Sprintf("%s command=%s comment=%q", e.Detail, t.CommandID, t.Comment))
				cj.commands = append(cj.commands, e)
			}
		default: // a revocation's policy call
			e.Kind, e.Event = KindRevoke, t.Name
			e.Detail = strings.TrimSpace(strings.Join(nonEmptyKV("role", t.Role, "policy", t.PolicyName, "policy_id", t.PolicyID), " "))
		}
		out = append(out, e)
	}
	host = dedupHost(host)
	slices.SortStableFunc(cj.commands, func(a, b *Entry) int { return a.Time.Compare(b.Time) })
	open := map[string]*Entry{}     // instance + sshd pid → login
	served := map[string][]*Entry{} // instance + OS user → accesses with a key served
	for _, h := range host {
		switch h.Event {
		case HostKeyServed:
			var e *Entry
			out, e = joinServed(out, byReq, h)
			k := e.Instance + "\x00" + e.OSUser
			if !slices.Contains(served[k], e) {
				served[k] = append(served[k], e)
			}
		case HostSessionOpened:
			e := loginFor(served[h.Instance+"\x00"+h.OSUser], h)
			if e == nil {
				e = &Entry{Time: h.Time, Kind: KindAccess, Instance: h.Instance, OSUser: h.OSUser, Fingerprint: h.Fingerprint,
					Gaps: []Gap{GapNoTrail}}
				out = append(out, e)
			}
			t := h.Time
			e.Login, e.pid = &t, h.sshdPID()
			open[h.Instance+"/"+e.pid] = e
		case HostSessionClosed:
			if e := open[h.Instance+"/"+h.sshdPID()]; e != nil && e.Logout == nil && h.sshdPID() != "" {
				t := h.Time
				e.Logout, e.Duration = &t, t.Sub(*e.Login)
				delete(open, h.Instance+"/"+h.sshdPID())
			}
		default:
			e := &Entry{Time: h.Time, Kind: KindInstanceEvent, Event: h.Event, Instance: h.Instance, OSUser: h.OSUser,
				Principal: h.Caller, RequestID: h.RequestID, Fingerprint: h.Fingerprint, Detail: strings.TrimSpace(h.Reason + " " + h.Detail)}
			if slices.Contains(revokeHostEvents, h.Event) {
				cj.join(e)
			}
			out = append(out, e)
		}
	}
	for _, e := range out {
		if e.Kind == KindAccess && e.RequestID != "" && !e.Denied && e.KeyServed == nil && !slices.Contains(e.Gaps, GapNoTrail) {
			e.Gaps = append(e.Gaps, GapNoInstance)
		}
	}
	res := make([]Entry, 0, len(out))
	sessions := map[string]bool{} // of the entries kept: their ends are kept too
	for _, e := range out {
		if f.match(e) {
			res = append(res, *e)
			if e.Kind == KindStartSession && e.SessionID != "" {
				sessions[e.SessionID] = true
			}
		}
	}
	for _, e := range out {
		if e.Kind == KindTerminateSession && sessions[e.SessionID] && !f.match(e) && f.inRange(e) {
			res = append(res, *e)
		}
	}
	slices.SortStableFunc(res, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	return res
}

// joinServed attaches a key-served event to its push by request id, or
// records it as an access CloudTrail does not show.
func joinServed(out []*Entry, byReq map[string]*Entry, h HostEvent) ([]*Entry, *Entry) {
	e := byReq[h.RequestID]
	if e != nil && e.Login != nil {
		// The push's key served again, for another login within its
		// 60 s: an access of its own, of the same push.
		t := h.Time
		c := &Entry{Time: h.Time, Kind: KindAccess, Principal: e.Principal, Account: e.Account, Region: e.Region, RequestID: e.RequestID,
			Instance: e.Instance, OSUser: e.OSUser, Fingerprint: e.Fingerprint, KeyServed: &t}
		byReq[h.RequestID] = c
		return append(out, c), c
	}
	if e == nil {
		e = &Entry{Time: h.Time, Kind: KindAccess, Principal: h.Caller, RequestID: h.RequestID, Instance: h.Instance,
			OSUser: h.OSUser, Fingerprint: h.Fingerprint, Gaps: []Gap{GapNoTrail}}
		out = append(out, e)
		if h.RequestID != "" {
			byReq[h.RequestID] = e
		}
	}
	if e.KeyServed == nil {
		t := h.Time
		e.KeyServed = &t
		if e.Fingerprint == "" {
			e.Fingerprint = h.Fingerprint
		}
		if e.Instance == "" {
			e.Instance = h.Instance
		}
	}
	return out, e
}

// loginFor finds the access a login belongs to among those whose key was
// served on its instance to its OS user (cands): the latest served before
// it (the key's fingerprint equal when both are known) that has no login
// yet.
func loginFor(cands []*Entry, h HostEvent) *Entry {
	var best *Entry
	for _, e := range cands {
		if e.Login != nil || e.KeyServed.After(h.Time) || h.Fingerprint != "" && e.Fingerprint != "" && e.Fingerprint != h.Fingerprint {
			continue
		}
		if best == nil || e.KeyServed.After(*best.KeyServed) {
			best = e
		}
	}
	return best
}

// dedupHost drops repeated events (at-least-once shipping) by id, in time
// order.
func dedupHost(host []HostEvent) []HostEvent {
	seen := map[string]bool{}
	out := make([]HostEvent, 0, len(host))
	for _, h := range host {
		if h.ID != "" {
			if seen[h.ID] {
				continue
			}
			seen[h.ID] = true
		}
		out = append(out, h)
	}
	slices.SortStableFunc(out, func(a, b HostEvent) int { return a.Time.Compare(b.Time) })
	return out
}

// nonEmptyKV is "k=v" for each pair of kv whose value is set.
func nonEmptyKV(kv ...string) []string {
	var out []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			out = append(out, kv[i]+"="+kv[i+1])
		}
	}
	return out
}
