package jituser

// The userdb.Directory lookups of created users and their groups (they
// never create one).

import (
	"context"

	"github.com/jitssh/jitssh/internal/host/userdb"
)

// UserByUID returns a created JIT user; it never creates one.
func (m *Manager) UserByUID(_ context.Context, uid uint32) (userdb.User, error) {
	st, err := m.store.snapshot()
	if err != nil {
		return userdb.User{}, err
	}
	for _, r := range st.Users {
		if r.UID == uid {
			return m.user(r), nil
		}
	}
	return userdb.User{}, userdb.ErrNotFound
}

// GroupByName returns a JIT user's primary group.
func (m *Manager) GroupByName(_ context.Context, name string) (userdb.Group, error) {
	st, err := m.store.snapshot()
	if err != nil {
		return userdb.Group{}, err
	}
	if r, ok := st.Users[name]; ok {
		return userdb.Group{Name: r.Name, GID: r.UID}, nil
	}
	return userdb.Group{}, userdb.ErrNotFound
}

// GroupByGID returns a JIT user's primary group.
func (m *Manager) GroupByGID(ctx context.Context, gid uint32) (userdb.Group, error) {
	u, err := m.UserByUID(ctx, gid)
	if err != nil {
		return userdb.Group{}, err
	}
	return userdb.Group{Name: u.Name, GID: u.GID}, nil
}

// Users lists the created JIT users.
func (m *Manager) Users(context.Context) ([]userdb.User, error) {
	st, err := m.store.snapshot()
	if err != nil {
		return nil, err
	}
	var out []userdb.User
	for _, r := range st.Sorted() {
		out = append(out, m.user(&r))
	}
	return out, nil
}

// Groups lists the JIT users' primary groups.
func (m *Manager) Groups(ctx context.Context) ([]userdb.Group, error) {
	us, err := m.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]userdb.Group, len(us))
	for i, u := range us {
		out[i] = userdb.Group{Name: u.Name, GID: u.GID}
	}
	return out, nil
}
