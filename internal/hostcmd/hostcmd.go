// Package hostcmd writes, and recognises, the Run Command scripts jitssh
// sends to instances (AWS-RunShellScript) to run jitssh-host's user
// commands there: block or unblock a user name, and kill a user's
// processes. jitssh revoke sends them; the sandbox's simulated SSM agent
// runs exactly the scripts Parse recognises, with the real jitssh-host.
package hostcmd

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Header is the first line of every script: a comment naming the form.
const Header = "# jitssh-host-users v1"

// Action is one jitssh-host users subcommand.
type Action string

// The actions a script may run.
const (
	// Block puts the name on the instance's block list: no key is served
	// for it and it is never created as a just-in-time user.
	Block Action = "block"
	// Unblock takes it off again.
	Unblock Action = "unblock"
	// Kill SIGKILLs every process of the user, ending its SSH sessions; a
	// user the instance does not have has nothing to kill (not an error).
	Kill Action = "kill"
)

// Step is one command of a script.
type Step struct {
	Action Action
	User   string
}

// userRE is jitssh-host's rule for user names (package jituser): lower
// case letters, digits, "_", "-" and inner "."; starting with a letter
// or "_"; at most 32 characters.
var userRE = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)

// ErrUser: the user name is not one jitssh-host accepts.
type ErrUser struct{ User string }

func (e *ErrUser) Error() string {
	return fmt.Sprintf("user name %q is not lower-case letters, digits, '_', '-', '.' (1 to 32, starting with a letter or '_')", e.User)
}

// ValidUser reports whether user is a name jitssh-host accepts.
func ValidUser(user string) error {
	if !userRE.MatchString(user) || strings.Contains(user, "..") || strings.HasSuffix(user, ".") {
		return &ErrUser{User: user}
	}
	return nil
}

// line returns the shell line of s.
func (s Step) line() string {
	switch s.Action {
	case Kill:
		// The user may never have logged in there: nothing to kill.
		return "jitssh-host users kill --if-exists " + s.User
	default:
		return "jitssh-host users " + string(s.Action) + " " + s.User
	}
}

// Script returns the commands of AWS-RunShellScript that run steps in
// order, stopping at the first that fails (set -e).
func Script(steps []Step) ([]string, error) {
	if len(steps) == 0 {
		return nil, errors.New("a jitssh-host script needs at least one step")
	}
	out := []string{Header, "set -e"}
	for _, s := range steps {
		if s.Action != Block && s.Action != Unblock && s.Action != Kill {
			return nil, fmt.Errorf("unknown jitssh-host users action %q", s.Action)
		}
		if err := ValidUser(s.User); err != nil {
			return nil, err
		}
		out = append(out, s.line())
	}
	return out, nil
}

// Parse recognises a script written by Script (as a list of lines, or
// as one text of lines, as the console sends it) and returns its steps.
// Anything else is an error saying what differs.
func Parse(commands []string) ([]Step, error) {
	var lines []string
	for _, c := range commands {
		lines = append(lines, strings.Split(strings.TrimRight(c, "\n"), "\n")...)
	}
	if len(lines) == 0 || lines[0] != Header {
		return nil, errors.New("not a jitssh-host users script (its first line must be \"" + Header + "\")")
	}
	if len(lines) < 3 || lines[1] != "set -e" {
		return nil, errors.New("line 2 must be \"set -e\", followed by at least one jitssh-host users line")
	}
	var steps []Step
	for i, l := range lines[2:] {
		f := strings.Fields(l)
		var s Step
		switch {
		case len(f) == 4 && f[0] == "jitssh-host" && f[1] == "users" && (f[2] == string(Block) || f[2] == string(Unblock)):
			s = Step{Action: Action(f[2]), User: f[3]}
		case len(f) == 5 && f[0] == "jitssh-host" && f[1] == "users" && f[2] == string(Kill) && f[3] == "--if-exists":
			s = Step{Action: Kill, User: f[4]}
		default:
			return nil, fmt.Errorf("line %d is not \"jitssh-host users block|unblock NAME\" or \"jitssh-host users kill --if-exists NAME\"", i+3)
		}
		if err := ValidUser(s.User); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+3, err)
		}
		if s.line() != l {
			return nil, fmt.Errorf("line %d is not in the form jitssh writes (single spaces, nothing else)", i+3)
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// Args returns the jitssh-host arguments of s (after the program name),
// for a runner that executes the steps itself.
func (s Step) Args() []string {
	if s.Action == Kill {
		return []string{"users", "kill", "--if-exists", s.User}
	}
	return []string{"users", string(s.Action), s.User}
}
