//go:build !jitssh_shortkeys

package connect

import "time"

// The key window: EC2 Instance Connect keeps a pushed key for 60 seconds,
// and keys placed on managed instances expire as long after their
// placement. (Tests build with the jitssh_shortkeys tag for a window of a
// few seconds; production builds never have it.)
const (
	pushWindow = 60 * time.Second
	pushMargin = 15 * time.Second
)
