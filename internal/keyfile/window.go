//go:build !jitssh_shortkeys

package keyfile

import "time"

// The key window: EC2 Instance Connect keeps a pushed key for Window (60
// seconds), and keys placed on managed instances expire as long after
// their placement. A push is reused while at least Margin of its window
// is left, so that the session being set up still authenticates inside
// it. (Tests build with the jitssh_shortkeys tag for a window of a
// few seconds; production builds never have it.)
const (
	Window = 60 * time.Second
	Margin = 15 * time.Second
)
