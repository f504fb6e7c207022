// Package target parses the names users give instances (an instance id, a
// managed-instance id, a Name tag, optionally prefixed with user@) and
// resolves them to exactly one instance, never choosing silently between
// several.
package target

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Kind says how a Spec names its instance.
type Kind int

// Kinds of target.
const (
	KindInstanceID Kind = iota // i-0123456789abcdef0
	KindManagedID              // mi-0123456789abcdef0
	KindName                   // the Name tag
)

// Spec is a parsed target.
type Spec struct {
	User  string // from user@target; empty if not given
	Kind  Kind
	Value string
}

var (
	instanceIDRe = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)
	managedIDRe  = regexp.MustCompile(`^mi-[0-9a-f]{17}$`)
	// nameRe accepts what people put in Name tags that can also be typed
	// as an ssh host: no spaces, no shell or ssh_config metacharacters.
	nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,254}$`)
	userRe = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)
)

// Parse parses [user@]target.
func Parse(s string) (Spec, error) {
	var sp Spec
	if s == "" {
		return sp, errors.New("empty target: give an instance id (i-…), a managed instance id (mi-…) or a Name tag")
	}
	if at := strings.LastIndex(s, "@"); at >= 0 {
		sp.User, s = s[:at], s[at+1:]
		if err := ValidUser(sp.User); err != nil {
			return Spec{}, err
		}
	}
	switch {
	case instanceIDRe.MatchString(s):
		sp.Kind = KindInstanceID
	case managedIDRe.MatchString(s):
		sp.Kind = KindManagedID
	case strings.HasPrefix(s, "i-") && len(s) <= 19 && strings.Trim(s[2:], "0123456789abcdef") != "":
		return Spec{}, fmt.Errorf("target %q looks like an instance id but is not one: ids are i- followed by 8 or 17 lower-case hex digits", s)
	case nameRe.MatchString(s):
		sp.Kind = KindName
	default:
		return Spec{}, fmt.Errorf("target %q is not an instance id, managed instance id or Name tag", s)
	}
	sp.Value = s
	return sp, nil
}

// ValidUser checks an OS user name against a conservative POSIX pattern.
func ValidUser(u string) error {
	if !userRe.MatchString(u) {
		return fmt.Errorf("invalid user name %q: use 1-32 characters, lower-case letters, digits, '_', '.', '-', starting with a letter or '_'", u)
	}
	return nil
}

// Instance is a resolved target.
type Instance struct {
	ID    string
	Name  string
	State string
}

// Lookup finds instances by id or by Name tag.
type Lookup interface {
	InstancesByID(ctx context.Context, id string) ([]Instance, error)
	InstancesByName(ctx context.Context, name string) ([]Instance, error)
}

// Resolve returns the one instance sp names. Several matches are an error
// listing them; no match is an error saying what was searched.
func Resolve(ctx context.Context, l Lookup, sp Spec) (Instance, error) {
	if sp.Kind == KindManagedID {
		return Instance{ID: sp.Value}, nil
	}
	var (
		found []Instance
		err   error
	)
	if sp.Kind == KindInstanceID {
		found, err = l.InstancesByID(ctx, sp.Value)
	} else {
		found, err = l.InstancesByName(ctx, sp.Value)
	}
	if err != nil {
		return Instance{}, fmt.Errorf("resolve %s: %w", sp.Value, err)
	}
	switch len(found) {
	case 0:
		if sp.Kind == KindName {
			return Instance{}, fmt.Errorf("no running instance has the Name tag %q in this account and region", sp.Value)
		}
		return Instance{}, fmt.Errorf("instance %s not found in this account and region", sp.Value)
	case 1:
		if found[0].State != "" && found[0].State != "running" {
			return Instance{}, fmt.Errorf("instance %s (%s) is %s, not running: start it first", found[0].ID, found[0].Name, found[0].State)
		}
		return found[0], nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d instances match %q; name one by id:", len(found), sp.Value)
	for _, in := range found {
		fmt.Fprintf(&b, "\n  %s  %-8s %s", in.ID, in.State, in.Name)
	}
	return Instance{}, errors.New(b.String())
}
