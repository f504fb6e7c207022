//go:build windows

package privfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// checkDirAccess applies Win32-OpenSSH's rule to a directory: owned by
// the user, SYSTEM or the Administrators, and nobody else may write to
// it (acl.go).
func checkDirAccess(dir string, _ fs.FileInfo) error {
	return checkWindowsACL(dir, true)
}

// CheckPrivate refuses a file that anyone but the user, SYSTEM and the
// Administrators may access: Win32-OpenSSH's rule for a private key.
func CheckPrivate(path string, _ fs.FileInfo) error {
	return checkWindowsACL(path, false)
}

// CreateTemp creates a new file in dir, named as os.CreateTemp names
// them, whose security descriptor (PrivateSDDL) lets only the current user
// access it, from the moment it exists: CreateFile is given the
// descriptor, so no moment passes with the directory's inherited DACL. A
// rename within the volume keeps it.
func CreateTemp(dir, pattern string) (*os.File, error) {
	user, err := currentUserSID()
	if err != nil {
		return nil, err
	}
	sddl, err := PrivateSDDL(user)
	if err != nil {
		return nil, err
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return nil, fmt.Errorf("security descriptor %s: %w", sddl, err)
	}
	sa := &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	prefix, suffix, _ := strings.Cut(pattern, "*")
	for try := 0; try < 100; try++ {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		name := filepath.Join(dir, prefix+hex.EncodeToString(rnd[:])+suffix)
		p, err := windows.UTF16PtrFromString(name)
		if err != nil {
			return nil, &fs.PathError{Op: "createtemp", Path: name, Err: err}
		}
		h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, sa, windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
		if errors.Is(err, windows.ERROR_FILE_EXISTS) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "createtemp", Path: name, Err: err}
		}
		return os.NewFile(uintptr(h), name), nil
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, pattern), Err: fs.ErrExist}
}

func currentUserSID() (string, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("find the current user's SID: %w", err)
	}
	return tu.User.Sid.String(), nil
}

// checkWindowsACL reads path's owner and DACL and applies checkACL.
func checkWindowsACL(path string, write bool) error {
	user, err := currentUserSID()
	if err != nil {
		return err
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("read the security descriptor of %s: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("read the owner of %s: %w", path, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("read the DACL of %s: %w", path, err)
	}
	if dacl == nil {
		return fmt.Errorf("%s has no DACL: everyone may access it: %w", path, ErrUnsafe)
	}
	var aces []ACE
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var a *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &a); err != nil {
			return fmt.Errorf("read the DACL of %s: %w", path, err)
		}
		if a.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE && a.Header.AceType != windows.ACCESS_DENIED_ACE_TYPE {
			continue // object and callback entries: not made by the tools that set file ACLs
		}
		sid := (*windows.SID)(unsafe.Pointer(&a.SidStart))
		aces = append(aces, ACE{
			Allow:       a.Header.AceType == windows.ACCESS_ALLOWED_ACE_TYPE,
			SID:         sid.String(),
			Mask:        uint32(a.Mask),
			InheritOnly: a.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0,
		})
	}
	return checkACL(path, owner.String(), aces, user, write)
}
