//go:build jitssh_shortkeys

package keyfile

import "time"

// A short key window for tests that watch a placed key expire: built only
// with the jitssh_shortkeys tag (e2e builds a separate binary with it).
// Long enough that a loaded CI machine still logs in well inside it (4 s
// was not: TestManagedKeyExpires's check before the expiry lost the race).
const (
	Window = 8 * time.Second
	Margin = 2 * time.Second
)
