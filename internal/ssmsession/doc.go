// Package ssmsession is the SSM sessions jitssh opens other than the SSH
// tunnel (which is the ssm transport's, internal/transport): multiplexed
// port forwarding (OpenForward, Forward.Serve: AWS-StartPortForwardingSession
// with smux streams per local connection, and a linger instead of the
// half-close smux v1 lacks) for `tunnel`, and Standard_Stream shell
// sessions (OpenShell, Shell.Run: no handshake, Size messages, Ctrl-D at
// the end of piped input, the agent-reported exit code) for `shell`. It
// asks AWS only for sessions (transport.SessionAPI).
package ssmsession
