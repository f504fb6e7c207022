package service

import (
	"syscall"
	"time"
)

// Limits of the userdb service's two sockets (docs/instance.md, "Limits").
// nss-systemd and jitssh-authkeys send one small call per connection, at
// once: a few hundred bytes.
const (
	// maxRequest is the largest message read on either socket.
	maxRequest = 4096
	// messageTimeout: a message started must arrive whole within it.
	messageTimeout = 2 * time.Second
	// idleTimeout closes a connection that sends nothing.
	idleTimeout = 10 * time.Second
	// Connections open at once on the userdb socket: from root (sshd,
	// PAM, the administrator), from any one other uid, and from every
	// other uid together. Over a cap a connection is closed at once.
	maxRootConns    = 256
	maxConnsPerPeer = 32
	maxUserConns    = 256
	// maxKeysConns bounds io.jitssh.Keys connections (root only; sshd
	// runs one AuthorizedKeysCommand per key tried, bounded by its
	// MaxStartups).
	maxKeysConns = 128
	// maxHeld connections over a cap from uids other than root are held
	// open, unanswered, for holdOver before they are closed, so that a
	// process looping on connect waits instead of spinning against the
	// service (the CPU it would burn competes with sshd's logins).
	maxHeld  = 1024
	holdOver = 2 * time.Second
	// Audit: request-refused events of the userdb service (lookups of
	// names nobody pushed a key for, when IMDS fails) recorded one by one
	// per auditWindow; the rest summed up in one event.
	auditBurst  = 20
	auditWindow = time.Minute
	// expiryInterval is how often the userdb service removes expired users.
	expiryInterval = time.Hour
)

// connCaps are the connection caps of both sockets.
type connCaps struct{ root, perPeer, users, keys, held int }

// fdReserve is what the service keeps for itself beyond its connection
// caps: standard streams, listeners, the audit and state files, IMDS
// connections (three clients of four), syslog.
const fdReserve = 64

// capsFor returns the connection caps for a file-descriptor limit: the
// defaults when they fit under it with fdReserve to spare, else every cap
// scaled down alike (at least 1), so that connections alone can never use
// up the service's descriptors.
func capsFor(nofile uint64) connCaps {
	c := connCaps{root: maxRootConns, perPeer: maxConnsPerPeer, users: maxUserConns, keys: maxKeysConns, held: maxHeld}
	need := uint64(c.root + c.users + c.keys + c.held + fdReserve)
	if nofile >= need {
		return c
	}
	avail := uint64(0)
	if nofile > fdReserve {
		avail = nofile - fdReserve
	}
	scale := func(v int) int {
		return max(1, int(uint64(v)*avail/uint64(c.root+c.users+c.keys+c.held)))
	}
	return connCaps{root: scale(c.root), perPeer: min(scale(c.perPeer), scale(c.users)), users: scale(c.users), keys: scale(c.keys), held: scale(c.held)}
}

// processCaps returns the connection caps for this process's
// file-descriptor limit.
func processCaps() connCaps {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		return capsFor(rl.Cur)
	}
	return capsFor(1 << 20)
}
