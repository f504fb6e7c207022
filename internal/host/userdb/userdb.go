// Package userdb serves systemd's io.systemd.UserDatabase Varlink interface
// (GetUserRecord, GetGroupRecord, GetMemberships) from a Directory, the
// way glibc's nss-systemd queries it: every socket in /run/systemd/userdb
// is asked, with "service" set to the socket's name, and every record
// answered must carry that service name.
//
// It owns the protocol mapping only: parameter checks, the JSON user and
// group records, "more" enumeration, and the error names nss-systemd
// understands (NoRecordFound, BadService, ConflictingRecordFound,
// ServiceNotAvailable). Who exists is the Directory's business.
package userdb

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/jitssh/jitssh/internal/varlink"
)

// Dir is where nss-systemd looks for userdb sockets.
const Dir = "/run/systemd/userdb"

// Interface error names.
const (
	ErrNoRecordFound          = "io.systemd.UserDatabase.NoRecordFound"
	ErrBadService             = "io.systemd.UserDatabase.BadService"
	ErrServiceNotAvailable    = "io.systemd.UserDatabase.ServiceNotAvailable"
	ErrConflictingRecordFound = "io.systemd.UserDatabase.ConflictingRecordFound"
	errExpectedMore           = "org.varlink.service.ExpectedMore"
)

// ErrNotFound is what a Directory returns for a name or id it does not
// know (or will not create).
var ErrNotFound = errors.New("userdb: no such record")

// User is a user record.
type User struct {
	Name     string
	UID, GID uint32
	RealName string
	Home     string
	Shell    string
}

// Group is a group record.
type Group struct {
	Name string
	GID  uint32
}

// Membership says User is a supplementary member of Group.
type Membership struct {
	User, Group string
}

// Directory answers lookups. Errors other than ErrNotFound are answered
// as ServiceNotAvailable, which nss-systemd treats as "not here".
type Directory interface {
	UserByName(ctx context.Context, name string) (User, error)
	UserByUID(ctx context.Context, uid uint32) (User, error)
	GroupByName(ctx context.Context, name string) (Group, error)
	GroupByGID(ctx context.Context, gid uint32) (Group, error)
	// Users and Groups enumerate every record.
	Users(ctx context.Context) ([]User, error)
	Groups(ctx context.Context) ([]Group, error)
	// Memberships lists supplementary memberships, filtered by user and
	// group name when not empty.
	Memberships(ctx context.Context, user, group string) ([]Membership, error)
}

// Service maps Varlink calls to a Directory.
type Service struct {
	// Name is the service name: the socket's name in Dir.
	Name string
	Dir  Directory
	Log  *slog.Logger
}

// Handler returns the Varlink handler.
func (s *Service) Handler() varlink.Handler { return s.handle }

type lookup struct {
	UID       *int64  `json:"uid"`
	GID       *int64  `json:"gid"`
	UserName  *string `json:"userName"`
	GroupName *string `json:"groupName"`
	Service   *string `json:"service"`
}

func (s *Service) handle(ctx context.Context, c varlink.Call, r varlink.Replier) error {
	var p lookup
	if len(c.Parameters) > 0 && string(c.Parameters) != "null" {
		if err := json.Unmarshal(c.Parameters, &p); err != nil {
			return varlink.InvalidParameter("parameters")
		}
	}
	if p.Service != nil && *p.Service != s.Name {
		return &varlink.Error{Name: ErrBadService}
	}
	switch c.Method {
	case "io.systemd.UserDatabase.GetUserRecord":
		return s.getUser(ctx, c, p, r)
	case "io.systemd.UserDatabase.GetGroupRecord":
		return s.getGroup(ctx, c, p, r)
	case "io.systemd.UserDatabase.GetMemberships":
		return s.getMemberships(ctx, c, p, r)
	}
	return &varlink.Error{Name: varlink.ErrMethodNotFound, Parameters: map[string]string{"method": c.Method}}
}

// id checks a uid/gid parameter.
func id(v *int64, name string) (uint32, bool, error) {
	if v == nil {
		return 0, false, nil
	}
	if *v < 0 || *v >= 1<<32-1 {
		return 0, false, varlink.InvalidParameter(name)
	}
	return uint32(*v), true, nil
}

func (s *Service) dirErr(err error) error {
	if errors.Is(err, ErrNotFound) {
		return &varlink.Error{Name: ErrNoRecordFound}
	}
	if s.Log != nil {
		s.Log.Warn("userdb: lookup failed", "err", err)
	}
	return &varlink.Error{Name: ErrServiceNotAvailable}
}

func (s *Service) userRecord(u User) map[string]any {
	rec := map[string]any{
		"userName":      u.Name,
		"uid":           u.UID,
		"gid":           u.GID,
		"homeDirectory": u.Home,
		"shell":         u.Shell,
		"disposition":   "regular",
		"service":       s.Name,
	}
	if u.RealName != "" {
		rec["realName"] = u.RealName
	}
	return map[string]any{"record": rec, "incomplete": false}
}

func (s *Service) groupRecord(g Group) map[string]any {
	return map[string]any{"record": map[string]any{
		"groupName":   g.Name,
		"gid":         g.GID,
		"disposition": "regular",
		"service":     s.Name,
	}, "incomplete": false}
}

func (s *Service) getUser(ctx context.Context, c varlink.Call, p lookup, r varlink.Replier) error {
	uid, hasUID, err := id(p.UID, "uid")
	if err != nil {
		return err
	}
	var u User
	switch {
	case p.UserName != nil:
		if u, err = s.Dir.UserByName(ctx, *p.UserName); err != nil {
			return s.dirErr(err)
		}
		if hasUID && u.UID != uid {
			return &varlink.Error{Name: ErrConflictingRecordFound}
		}
	case hasUID:
		if u, err = s.Dir.UserByUID(ctx, uid); err != nil {
			return s.dirErr(err)
		}
	default:
		if !c.More {
			return &varlink.Error{Name: errExpectedMore}
		}
		all, err := s.Dir.Users(ctx)
		if err != nil {
			return s.dirErr(err)
		}
		recs := make([]any, len(all))
		for i, u := range all {
			recs[i] = s.userRecord(u)
		}
		return stream(r, recs)
	}
	return r.Reply(s.userRecord(u), false)
}

func (s *Service) getGroup(ctx context.Context, c varlink.Call, p lookup, r varlink.Replier) error {
	gid, hasGID, err := id(p.GID, "gid")
	if err != nil {
		return err
	}
	var g Group
	switch {
	case p.GroupName != nil:
		if g, err = s.Dir.GroupByName(ctx, *p.GroupName); err != nil {
			return s.dirErr(err)
		}
		if hasGID && g.GID != gid {
			return &varlink.Error{Name: ErrConflictingRecordFound}
		}
	case hasGID:
		if g, err = s.Dir.GroupByGID(ctx, gid); err != nil {
			return s.dirErr(err)
		}
	default:
		if !c.More {
			return &varlink.Error{Name: errExpectedMore}
		}
		all, err := s.Dir.Groups(ctx)
		if err != nil {
			return s.dirErr(err)
		}
		recs := make([]any, len(all))
		for i, g := range all {
			recs[i] = s.groupRecord(g)
		}
		return stream(r, recs)
	}
	return r.Reply(s.groupRecord(g), false)
}

func (s *Service) getMemberships(ctx context.Context, c varlink.Call, p lookup, r varlink.Replier) error {
	var user, group string
	if p.UserName != nil {
		user = *p.UserName
	}
	if p.GroupName != nil {
		group = *p.GroupName
	}
	ms, err := s.Dir.Memberships(ctx, user, group)
	if err != nil {
		return s.dirErr(err)
	}
	recs := make([]any, len(ms))
	for i, m := range ms {
		recs[i] = map[string]string{"userName": m.User, "groupName": m.Group}
	}
	if !c.More && len(recs) > 1 {
		return &varlink.Error{Name: errExpectedMore}
	}
	return stream(r, recs)
}

// stream sends recs as a "more" answer; none is NoRecordFound.
func stream(r varlink.Replier, recs []any) error {
	if len(recs) == 0 {
		return &varlink.Error{Name: ErrNoRecordFound}
	}
	for i, rec := range recs {
		if err := r.Reply(rec, i < len(recs)-1); err != nil {
			return err
		}
	}
	return nil
}
