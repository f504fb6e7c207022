// Command plugin is AWS's session-manager-plugin, built from its own
// packages exactly as its src/sessionmanagerplugin-main does, so that the
// interop test can run the official client against the sandbox.
package main

import (
	"os"

	"github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session"
	_ "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session/portsession"
	_ "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session/shellsession"
)

func main() {
	session.ValidateInputAndStartSession(os.Args, os.Stdout)
}
