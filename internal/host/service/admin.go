package service

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/blocklist"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/jituser"
)

// adminSource marks the administrator's operations in the audit trail.
const adminSource = "cli"

// Remove kills name's processes and removes the JIT user and its home
// directory; the UID stays retired.
func (m *Manager) Remove(name string) (jituser.Record, error) {
	return m.Manager.Remove(name, "removed by an administrator", adminSource)
}

// Killed is what Kill did.
type Killed struct {
	Name      string
	UID       uint32
	Processes int
}

// Kill SIGKILLs every process of name (a JIT user, or else a user of
// /etc/passwd other than root) until none is left, and records it.
func (m *Manager) Kill(st *jituser.State, name string) (Killed, error) {
	uid, ok := uint32(0), false
	if r, found := st.Users[name]; found {
		uid, ok = r.UID, true
	} else {
		uid, ok = passwdUID(name)
	}
	if ok && uid == 0 {
		return Killed{}, fmt.Errorf("%s: refusing to kill the processes of uid 0 (root)", audit.Sanitize(name, 64))
	}
	if !ok {
		return Killed{}, fmt.Errorf("%s: %w", audit.Sanitize(name, 64), ErrNoSuchUser)
	}
	n, err := jituser.KillSessions(uid, name)
	if err != nil {
		return Killed{}, fmt.Errorf("%s: %v", name, err)
	}
	_ = m.w.Record(audit.Event{Event: audit.EventSessionsKilled, Source: adminSource, OSUser: name, UID: uid, Reason: "killed by an administrator", Detail: fmt.Sprintf("%d processes", n)})
	return Killed{Name: name, UID: uid, Processes: n}, nil
}

// ErrNoSuchUser: Kill's name is neither a JIT user nor a user of
// /etc/passwd.
var ErrNoSuchUser = errors.New("no such user")

// passwdUID finds name in /etc/passwd (not through NSS).
func passwdUID(name string) (uint32, bool) {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			uid, err := strconv.ParseUint(f[2], 10, 32)
			return uint32(uid), err == nil
		}
	}
	return 0, false
}

// ErrNoBlockList: the configuration's block_file is "".
var ErrNoBlockList = errors.New(`block_file is "" in the configuration: there is no block list`)

// AuditError: the block list changed, but recording it failed.
type AuditError struct {
	// Verb is "blocked" or "unblocked"; Name the name changed.
	Verb, Name string
	Err        error
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("%s %s, but the audit failed: %v", e.Verb, e.Name, e.Err)
}

func (e *AuditError) Unwrap() error { return e.Err }

// SetBlocked puts names on the block list (block) or takes them off it,
// recording each change, and returns the names it changed (the others
// already were so). report is called for each change once it is recorded.
func SetBlocked(configPath string, block bool, names []string, report func(name string)) (changed []string, err error) {
	hc, err := hostconfig.Load(configPath)
	if err != nil {
		return nil, err
	}
	if hc.BlockFile == "" {
		return nil, ErrNoBlockList
	}
	_, w, err := authkeys.Setup(hc)
	if err != nil {
		if w != nil {
			w.Close()
		}
		return nil, err
	}
	defer w.Close()
	change, event, verb := blocklist.Add, audit.EventUserBlocked, "blocked"
	if !block {
		change, event, verb = blocklist.Remove, audit.EventUserUnblocked, "unblocked"
	}
	changed, err = change(hc.BlockFile, names...)
	if err != nil {
		return nil, err
	}
	for _, name := range changed {
		if err := w.Record(audit.Event{Time: time.Now(), Event: event, Source: adminSource, OSUser: name, Reason: verb + " by an administrator", Detail: hc.BlockFile}); err != nil {
			return changed, &AuditError{Verb: verb, Name: name, Err: err}
		}
		report(name)
	}
	return changed, nil
}

// Blocked returns the block list, sorted (none if block_file is "").
func Blocked(configPath string) ([]string, error) {
	hc, err := hostconfig.Load(configPath)
	if err != nil {
		return nil, err
	}
	if hc.BlockFile == "" {
		return nil, nil
	}
	names, err := blocklist.Read(hc.BlockFile)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(names)), nil
}
