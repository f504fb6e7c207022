//go:build windows

package privfile

import (
	"testing"

	"golang.org/x/sys/windows"
)

// On Windows (not run in CI: docs/platforms.md), CreateTemp's file has
// the descriptor of PrivateSDDL: owned by the user, a protected DACL, one
// entry, and the check that ssh applies passes.
func TestCreateTempDACLOnWindows(t *testing.T) {
	f, err := CreateTemp(t.TempDir(), ".k.new*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	sd, err := windows.GetNamedSecurityInfo(f.Name(), windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	user, err := currentUserSID()
	if err != nil {
		t.Fatal(err)
	}
	if owner, _, err := sd.Owner(); err != nil || owner.String() != user {
		t.Errorf("owner %v (%v), want %s", owner, err, user)
	}
	if ctl, _, err := sd.Control(); err != nil || ctl&windows.SE_DACL_PROTECTED == 0 {
		t.Errorf("DACL not protected: control %#x, %v", ctl, err)
	}
	if dacl, _, err := sd.DACL(); err != nil || dacl == nil || dacl.AceCount != 1 {
		t.Errorf("DACL %+v, %v: want one entry", dacl, err)
	}
	if err := checkWindowsACL(f.Name(), false); err != nil {
		t.Errorf("the file fails the private-key check: %v", err)
	}
}
