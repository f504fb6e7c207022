package audit

import (
	"slices"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
)

// The revocation of a person in their timeline: the administrator's
// calls that denied the person (Organizations CreatePolicy/AttachPolicy
// of the SCP, or IAM PutRolePolicy of the inline deny, both named
// policy.Person.Name()), ended their SSM sessions (TerminateSession) and
// blocked and killed them on the instances (SSM SendCommand), and the
// undo's (DetachPolicy/DeletePolicy, DeleteRolePolicy). They are found
// from the instances' side: the person's user-blocked, sessions-killed or
// user-unblocked events show that someone acted on them; the SendCommand
// calls of that time (a LookupEvents stream by EventName) that name the
// person or run a shell script on those instances name the
// administrators; each administrator's calls of that time (a stream by
// Username) are kept when they name the person's policy, its id or one
// of the person's sessions. LookupEvents' EventName and Username
// attributes are the ones AWS indexes for every service; a policy name
// is not a ResourceName AWS promises.

// RevokeCalls are the CloudTrail calls of a revocation and its undo.
var RevokeCalls = []string{"CreatePolicy", "AttachPolicy", "UpdatePolicy", "DetachPolicy", "DeletePolicy", "PutRolePolicy", "DeleteRolePolicy"}

// revokeHostEvents are the instance events that start the search.
var revokeHostEvents = append(slices.Clone(AdminEvents), "user-unblocked")

// RevokeWindow is how long before the first and after the last of the
// person's administrator events the administrators' calls are looked for.
const RevokeWindow = 10 * time.Minute

// person is the name a filter's revocation carries (the OS user, or the
// principal's session or user name), the policy names a revocation of
// it writes, and the label Entry.Subject carries.
func revokePerson(f Filter) (name string, policies []string, label string) {
	switch {
	case f.User != "":
		return f.User, []string{policy.Person{User: f.User}.Name()}, f.User
	case f.Principal != "" && strings.Contains(f.Principal, ":"):
		n := SessionName(f.Principal)
		return n, []string{policy.Person{PrincipalARN: f.Principal}.Name(), policy.Person{User: n}.Name()}, f.Principal
	case f.Principal != "":
		return f.Principal, []string{policy.Person{User: f.Principal}.Name()}, f.Principal
	}
	return "", nil, ""
}

// revokeWindow is the time range of the person's administrator events
// widened by RevokeWindow, and the instances they happened on; ok is
// false when there are none.
func revokeWindow(f Filter, host []HostEvent) (start, end time.Time, instances []string, ok bool) {
	name, _, _ := revokePerson(f)
	if name == "" {
		return
	}
	for _, h := range host {
		if h.OSUser != name || !slices.Contains(revokeHostEvents, h.Event) {
			continue
		}
		if !ok || h.Time.Before(start) {
			start = h.Time
		}
		if !ok || h.Time.After(end) {
			end = h.Time
		}
		ok = true
		if !slices.Contains(instances, h.Instance) {
			instances = append(instances, h.Instance)
		}
	}
	start, end = start.Add(-RevokeWindow), end.Add(RevokeWindow)
	if !f.Since.IsZero() && start.Before(f.Since) {
		start = f.Since
	}
	if !f.Until.IsZero() && end.After(f.Until) {
		end = f.Until
	}
	return
}

// revokeCommands keeps the SendCommand calls of a revocation of the
// person: those whose comment names it, or that run a shell script on an
// instance where the person was acted on; they are marked with the
// person's label, and their callers returned.
func revokeCommands(f Filter, evs []TrailEvent, instances []string) (kept []TrailEvent, admins []string) {
	name, _, label := revokePerson(f)
	for _, t := range evs {
		if t.Name != "SendCommand" || t.ErrorCode != "" {
			continue
		}
		names := strings.HasPrefix(t.Comment, "jitssh:") && (strings.HasSuffix(t.Comment, " "+name) || strings.HasSuffix(t.Comment, " "+label))
		script := t.Document == "AWS-RunShellScript" && slices.ContainsFunc(t.Instances, func(i string) bool { return slices.Contains(instances, i) })
		if !names && !script {
			continue
		}
		t.Subject = label
		kept = append(kept, t)
		if u := t.Username; u != "" && !slices.Contains(admins, u) {
			admins = append(admins, u)
		}
	}
	return kept, admins
}

// revokeCalls keeps the administrators' calls that act on the person:
// RevokeCalls naming one of its policies (or a policy id such a call
// created or named), TerminateSession of one of its sessions, and the
// SendCommand calls already kept (commands), marked with its label.
func revokeCalls(f Filter, evs []TrailEvent, mine []TrailEvent, commands []TrailEvent) []TrailEvent {
	_, policies, label := revokePerson(f)
	sessions := map[string]bool{}
	for _, t := range mine {
		if t.Name == "StartSession" && t.SessionID != "" {
			sessions[t.SessionID] = true
		}
	}
	ids := map[string]bool{}
	for _, t := range evs {
		if slices.Contains(RevokeCalls, t.Name) && slices.Contains(policies, t.PolicyName) && t.PolicyID != "" {
			ids[t.PolicyID] = true
		}
	}
	cmds := map[string]bool{}
	for _, t := range commands {
		cmds[t.EventID] = true
	}
	var out []TrailEvent
	for _, t := range evs {
		keep := false
		switch {
		case slices.Contains(RevokeCalls, t.Name):
			keep = slices.Contains(policies, t.PolicyName) || ids[t.PolicyID]
		case t.Name == "TerminateSession":
			keep = sessions[t.SessionID]
		case t.Name == "SendCommand":
			keep = cmds[t.EventID]
		}
		if keep {
			t.Subject = label
			out = append(out, t)
		}
	}
	return out
}

// commandJoiner labels each instance event of an administrator acting
// on the person with the SendCommand that ran it (Run Command's
// invocation carries no request id into the instance, so the join is by
// instance, kind and time): user-unblocked with an undo's command, the
// others with a revocation's; of the commands naming the instance, sent
// within RevokeWindow before the event (CloudTrail's whole seconds are
// never after it), the latest not yet joined to an event of the same
// name there. A command that changed nothing on the instance (a second
// revocation: already blocked) records no event, and so joins none.
// Should the instance's clock run behind CloudTrail's, a command up to
// ClockSkew after the event is taken when none is before it.
type commandJoiner struct {
	commands []*Entry
	used     map[string]bool // command request id, instance, event
}

// ClockSkew is how far an instance's clock may run behind CloudTrail's
// for commandJoiner.
const ClockSkew = 2 * time.Second

func (j *commandJoiner) join(e *Entry) {
	if j.used == nil {
		j.used = map[string]bool{}
	}
	undo := e.Event == "user-unblocked"
	var best, skewed *Entry
	for _, c := range j.commands {
		k := c.RequestID + "\x00" + e.Instance + "\x00" + e.Event
		if j.used[k] || isUndoComment(c.Detail) != undo || !slices.Contains(c.instances, e.Instance) || e.Time.Sub(c.Time) > RevokeWindow {
			continue
		}
		switch {
		case !c.Time.After(e.Time):
			if best == nil || c.Time.After(best.Time) { // of one second: the first (the order they were sent)
				best = c
			}
		case c.Time.Sub(e.Time) <= ClockSkew && skewed == nil:
			skewed = c
		}
	}
	if best == nil {
		best = skewed
	}
	if best != nil {
		j.used[best.RequestID+"\x00"+e.Instance+"\x00"+e.Event] = true
		e.RequestID, e.CommandID, e.Subject = best.RequestID, best.CommandID, best.Subject
	}
}

// isUndoComment: the comment (in an entry's detail) is an undo's.
func isUndoComment(detail string) bool { return strings.Contains(detail, `comment="jitssh: undo `) }
