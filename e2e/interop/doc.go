// Package interop runs AWS's official session-manager-plugin against the
// jitssh sandbox: the plugin's own session code (built from
// github.com/aws/session-manager-plugin in this separate module, so the
// main module never depends on it) talks to the sandbox's SSM data channel
// and simulated agent, with the real OpenSSH client on top. It shows that
// the sandbox speaks the protocol AWS's client speaks, not only the one
// jitssh's own client speaks. Run it with `make interop`.
package interop
