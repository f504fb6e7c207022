package userdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/jitssh/jitssh/internal/host/userdb"
	"github.com/jitssh/jitssh/internal/varlink"
)

type dir struct{}

var alice = userdb.User{Name: "alice", UID: 5001, GID: 5001, Home: "/home/alice", Shell: "/bin/bash"}

func (dir) UserByName(_ context.Context, n string) (userdb.User, error) {
	if n == "alice" {
		return alice, nil
	}
	if n == "broken" {
		return userdb.User{}, errors.New("disk on fire")
	}
	return userdb.User{}, userdb.ErrNotFound
}
func (dir) UserByUID(_ context.Context, uid uint32) (userdb.User, error) {
	if uid == 5001 {
		return alice, nil
	}
	return userdb.User{}, userdb.ErrNotFound
}
func (dir) GroupByName(_ context.Context, n string) (userdb.Group, error) {
	if n == "alice" {
		return userdb.Group{Name: "alice", GID: 5001}, nil
	}
	return userdb.Group{}, userdb.ErrNotFound
}
func (d dir) GroupByGID(ctx context.Context, gid uint32) (userdb.Group, error) {
	if gid == 5001 {
		return d.GroupByName(ctx, "alice")
	}
	return userdb.Group{}, userdb.ErrNotFound
}
func (dir) Users(context.Context) ([]userdb.User, error) {
	b := alice
	b.Name, b.UID, b.GID = "bob", 5002, 5002
	return []userdb.User{alice, b}, nil
}
func (dir) Groups(context.Context) ([]userdb.Group, error) {
	return []userdb.Group{{Name: "alice", GID: 5001}}, nil
}
func (dir) Memberships(_ context.Context, u, g string) ([]userdb.Membership, error) {
	all := []userdb.Membership{{User: "alice", Group: "sudo"}, {User: "alice", Group: "adm"}}
	var out []userdb.Membership
	for _, m := range all {
		if (u == "" || m.User == u) && (g == "" || m.Group == g) {
			out = append(out, m)
		}
	}
	return out, nil
}

func TestProtocol(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "io.test")
	ln, err := varlink.Listen(sock, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := &userdb.Service{Name: "io.test", Dir: dir{}}
	go (&varlink.Server{Handler: svc.Handler()}).Serve(ctx, ln)

	call := func(method string, params map[string]any, more bool) ([]json.RawMessage, string) {
		t.Helper()
		out, err := varlink.Invoke(ctx, sock, "io.systemd.UserDatabase."+method, params, more)
		var re *varlink.ReplyError
		if errors.As(err, &re) {
			return out, re.Name
		}
		if err != nil {
			t.Fatal(err)
		}
		return out, ""
	}
	svcP := func(kv ...any) map[string]any {
		m := map[string]any{"service": "io.test"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		method string
		params map[string]any
		more   bool
		want   []string
		err    string
	}{
		{"GetUserRecord", svcP("userName", "alice"), false, []string{`{"incomplete":false,"record":{"disposition":"regular","gid":5001,"homeDirectory":"/home/alice","service":"io.test","shell":"/bin/bash","uid":5001,"userName":"alice"}}`}, ""},
		{"GetUserRecord", svcP("uid", 5001), false, []string{`{"incomplete":false,"record":{"disposition":"regular","gid":5001,"homeDirectory":"/home/alice","service":"io.test","shell":"/bin/bash","uid":5001,"userName":"alice"}}`}, ""},
		{"GetUserRecord", svcP("userName", "alice", "uid", 5002), false, nil, userdb.ErrConflictingRecordFound},
		{"GetUserRecord", svcP("userName", "nobody"), false, nil, userdb.ErrNoRecordFound},
		{"GetUserRecord", svcP("userName", "broken"), false, nil, userdb.ErrServiceNotAvailable},
		{"GetUserRecord", map[string]any{"userName": "alice", "service": "io.other"}, false, nil, userdb.ErrBadService},
		{"GetUserRecord", svcP("uid", -1), false, nil, varlink.ErrInvalidParameter},
		{"GetUserRecord", svcP("userName", 7), false, nil, varlink.ErrInvalidParameter},
		{"GetUserRecord", svcP(), false, nil, "org.varlink.service.ExpectedMore"},
		{"GetGroupRecord", svcP("groupName", "alice"), false, []string{`{"incomplete":false,"record":{"disposition":"regular","gid":5001,"groupName":"alice","service":"io.test"}}`}, ""},
		{"GetGroupRecord", svcP("gid", 27), false, nil, userdb.ErrNoRecordFound},
		{"GetMemberships", svcP("userName", "alice"), true, []string{`{"groupName":"sudo","userName":"alice"}`, `{"groupName":"adm","userName":"alice"}`}, ""},
		{"GetMemberships", svcP("groupName", "adm"), true, []string{`{"groupName":"adm","userName":"alice"}`}, ""},
		{"GetMemberships", svcP("userName", "bob"), true, nil, userdb.ErrNoRecordFound},
		{"Nope", svcP(), false, nil, varlink.ErrMethodNotFound},
	}
	for _, tt := range tests {
		out, errName := call(tt.method, tt.params, tt.more)
		if errName != tt.err {
			t.Errorf("%s %v: error %q, want %q", tt.method, tt.params, errName, tt.err)
			continue
		}
		if len(out) != len(tt.want) {
			t.Errorf("%s %v: %d replies %s, want %d", tt.method, tt.params, len(out), out, len(tt.want))
			continue
		}
		for i := range out {
			if string(out[i]) != tt.want[i] {
				t.Errorf("%s %v reply %d:\n got %s\nwant %s", tt.method, tt.params, i, out[i], tt.want[i])
			}
		}
	}
	// Enumeration streams every user.
	out, errName := call("GetUserRecord", svcP(), true)
	if errName != "" || len(out) != 2 {
		t.Errorf("enumeration: %s %q", out, errName)
	}
}
