package privfile

import (
	"errors"
	"strings"
	"testing"
)

const testUserSID = "S-1-5-21-3623811015-3361044348-30300820-1013"

// The descriptor a Windows key file is created with: owned by the user, a
// protected DACL (nothing inherited), one entry allowing the user full
// access, none for SYSTEM, Administrators or anyone else.
func TestPrivateSDDL(t *testing.T) {
	got, err := PrivateSDDL(testUserSID)
	if err != nil {
		t.Fatal(err)
	}
	want := "O:" + testUserSID + "D:P(A;;FA;;;" + testUserSID + ")"
	if got != want {
		t.Fatalf("PrivateSDDL = %s, want %s", got, want)
	}
	owner, dacl, _ := strings.Cut(strings.TrimPrefix(got, "O:"), "D:")
	if owner != testUserSID {
		t.Errorf("owner %q", owner)
	}
	if !strings.HasPrefix(dacl, "P(") {
		t.Errorf("DACL %q is not protected: the directory's entries would be inherited", dacl)
	}
	if n := strings.Count(dacl, "("); n != 1 || strings.Contains(dacl, SIDSystem) || strings.Contains(dacl, SIDAdministrators) || strings.Contains(dacl, ";WD)") {
		t.Errorf("DACL %q grants more than the user", dacl)
	}
	if ace := dacl[strings.Index(dacl, "(")+1 : strings.Index(dacl, ")")]; strings.Split(ace, ";")[1] != "" {
		t.Errorf("ACE %q has inheritance flags", ace)
	}
	// Whatever is made from it passes the check that ssh applies.
	if err := checkACL("k", testUserSID, []ACE{{Allow: true, SID: testUserSID, Mask: 0x1f01ff}}, testUserSID, false); err != nil {
		t.Errorf("the descriptor's own ACL fails the check: %v", err)
	}
	for _, bad := range []string{"", "S-1-", "S-1-5-x", "WD", "S-1-5-21-1)(A;;FA;;;WD", "O:S-1-5-18"} {
		if s, err := PrivateSDDL(bad); err == nil {
			t.Errorf("PrivateSDDL(%q) = %q, want an error", bad, s)
		}
	}
}

func TestCheckACL(t *testing.T) {
	const other = "S-1-5-21-1-2-3-1001"
	const users = "S-1-5-32-545"
	full := uint32(0x1f01ff)
	read := uint32(0x120089)
	user := ACE{Allow: true, SID: testUserSID, Mask: full}
	sys := ACE{Allow: true, SID: SIDSystem, Mask: full}
	admins := ACE{Allow: true, SID: SIDAdministrators, Mask: full}
	tests := []struct {
		name  string
		owner string
		aces  []ACE
		write bool
		ok    bool
	}{
		{"user only", testUserSID, []ACE{user}, false, true},
		{"profile default", testUserSID, []ACE{user, sys, admins}, false, true},
		{"owned by Administrators", SIDAdministrators, []ACE{user, sys, admins}, false, true},
		{"owned by another user", other, []ACE{user}, false, false},
		{"Users may read", testUserSID, []ACE{user, {Allow: true, SID: users, Mask: read}}, false, false},
		{"another user denied", testUserSID, []ACE{user, {Allow: false, SID: other, Mask: full}}, false, true},
		{"dir: Users may read", testUserSID, []ACE{user, {Allow: true, SID: users, Mask: read}}, true, true},
		{"dir: Users may write", testUserSID, []ACE{user, {Allow: true, SID: users, Mask: read | 0x2}}, true, false},
		{"dir: CREATOR OWNER inherit-only", testUserSID, []ACE{user, {Allow: true, SID: "S-1-3-0", Mask: full, InheritOnly: true}}, true, true},
		{"dir: Everyone generic write", testUserSID, []ACE{user, {Allow: true, SID: "S-1-1-0", Mask: 0x40000000}}, true, false},
	}
	for _, tt := range tests {
		err := checkACL("p", tt.owner, tt.aces, testUserSID, tt.write)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrUnsafe) {
			t.Errorf("%s: %v does not wrap ErrUnsafe", tt.name, err)
		}
	}
}
