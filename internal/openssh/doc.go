// Package openssh is the home of jitssh's integration with the OpenSSH
// client. It holds no code itself; the work is split by job:
//
//   - sshconfig renders and installs the managed ssh_config block (and the
//     equivalent -o options) that routes i-*/mi-* hosts through
//     `jitssh proxy`;
//   - sshkeys makes the ephemeral ed25519 key pairs pushed with EC2 Instance
//     Connect and writes them where OpenSSH's IdentityFile finds them;
//   - knownhosts keeps the host-key pins (keyed by instance id) that OpenSSH
//     enforces through UserKnownHostsFile, and learns a host key over an
//     AWS-authenticated channel;
//   - privfile writes private files atomically and refuses unsafe
//     directories and symlinks.
//
// None of these packages import anything AWS: only the standard library and
// golang.org/x/crypto/ssh.
package openssh
