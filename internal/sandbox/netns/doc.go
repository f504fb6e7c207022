// Package netns owns the network namespaces the sandbox runs the real
// OpenSSH sshd of a simulated instance in: a namespace with nothing but a
// loopback interface, so that sshd (its port forwarding, the programs a
// session runs) can never open a connection on the machine's real network,
// where a simulated private address such as 10.0.2.21 would be dialled for
// real. The sandbox adds the addresses it routes (the instance's VPC) to
// that loopback and listens on them from its own process (Listen), so a
// connection inside the namespace reaches the sandbox's routing and nothing
// else; any other address is unreachable at once.
//
// Linux only, and it needs CAP_SYS_ADMIN (root), as OpenSSH mode does.
package netns
