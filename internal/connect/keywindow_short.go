//go:build jitssh_shortkeys

package connect

import "time"

// A short key window for tests that watch a placed key expire: built only
// with the jitssh_shortkeys tag (e2e builds a separate binary with it).
const (
	pushWindow = 4 * time.Second
	pushMargin = time.Second
)
