package privfile

import (
	"fmt"
	"strings"
)

// Windows keeps no mode bits: who may read a file is its security
// descriptor's DACL, and Win32-OpenSSH refuses a private key that anyone
// but its user, SYSTEM and the Administrators may access. The pure parts
// of that live here, so that they are tested on every platform; the
// system calls are in access_windows.go.

// Well-known SIDs that Win32-OpenSSH accepts besides the user's own.
const (
	SIDSystem         = "S-1-5-18"
	SIDAdministrators = "S-1-5-32-544"
)

// PrivateSDDL is the security descriptor, in SDDL, given to a private
// file created on Windows: owned by the user (O:), with a protected DACL
// (D:P, nothing inherited from the directory) that has one entry,
// allowing the user full access (A;;FA;;;SID), with no inheritance flags
// (a file has no children). SYSTEM and the Administrators get nothing:
// only the user can read the key.
func PrivateSDDL(userSID string) (string, error) {
	if !validSID(userSID) {
		return "", fmt.Errorf("%q is not a security identifier (S-1-…)", userSID)
	}
	return "O:" + userSID + "D:P(A;;FA;;;" + userSID + ")", nil
}

// validSID accepts the string form of a SID: "S-1-" then dash-separated
// decimal numbers.
func validSID(s string) bool {
	rest, ok := strings.CutPrefix(s, "S-1-")
	if !ok || rest == "" {
		return false
	}
	for _, part := range strings.Split(rest, "-") {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return false
		}
	}
	return true
}

// ACE is one entry of a DACL, as far as the checks here need it.
type ACE struct {
	Allow bool   // an allowing entry (else denying, which is harmless)
	SID   string // whom it is for
	Mask  uint32 // the access rights
	// InheritOnly entries apply only to what a directory will contain,
	// not to the directory itself.
	InheritOnly bool
}

// Access rights that let their holder change a file or what a directory
// holds (FILE_WRITE_DATA/ADD_FILE, FILE_APPEND_DATA/ADD_SUBDIRECTORY,
// FILE_WRITE_EA, FILE_DELETE_CHILD, FILE_WRITE_ATTRIBUTES, DELETE,
// WRITE_DAC, WRITE_OWNER, GENERIC_ALL, GENERIC_WRITE).
const writeRights = 0x2 | 0x4 | 0x10 | 0x40 | 0x100 | 0x10000 | 0x40000 | 0x80000 | 0x10000000 | 0x40000000

// checkACL is Win32-OpenSSH's rule for a private file (write false: any
// access counts) or for a directory holding one (write true: only rights
// to change it count): the owner and every entry granting such access
// must be the user, SYSTEM or the Administrators.
func checkACL(path, owner string, aces []ACE, user string, write bool) error {
	trusted := func(sid string) bool { return sid == user || sid == SIDSystem || sid == SIDAdministrators }
	if !trusted(owner) {
		return fmt.Errorf("%s is owned by %s, not by the current user (%s): %w", path, owner, user, ErrUnsafe)
	}
	for _, a := range aces {
		if !a.Allow || a.InheritOnly || trusted(a.SID) {
			continue
		}
		if write && a.Mask&writeRights == 0 {
			continue
		}
		what := "can read"
		if write {
			what = "can write to"
		}
		return fmt.Errorf("%s: %s %s (access mask %#x); only the current user, SYSTEM and Administrators may: %w", path, a.SID, what, a.Mask, ErrUnsafe)
	}
	return nil
}
