//go:build jitssh_shortkeys

package keyfile

import "time"

// A short key window for tests that watch a placed key expire: built only
// with the jitssh_shortkeys tag (e2e builds a separate binary with it).
const (
	Window = 4 * time.Second
	Margin = time.Second
)
