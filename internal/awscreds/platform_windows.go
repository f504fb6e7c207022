//go:build windows

package awscreds

import "os"

// What differs on unix (platform_unix.go), in one place.

// TTYPath is the console's input. Windows has no controlling terminal
// device: OpenTerminal reads CONIN$ and writes CONOUT$.
const TTYPath = "CONIN$"

// openCacheFlags: Windows' os.OpenFile has no O_NOFOLLOW or O_NONBLOCK.
const openCacheFlags = 0

// ownerUID: Windows files have no uid; the cache lives in the user's
// profile, which only the user (and SYSTEM, Administrators) may read.
func ownerUID(os.FileInfo) (int, bool) { return 0, false }

// othersMayWrite: Windows keeps no mode bits (the DACL decides; see
// privfile's Windows rule), so the mode says nothing.
func othersMayWrite(os.FileInfo) bool { return false }

// background: a Windows console has no background process groups.
func background(*os.File) bool { return false }
