//go:build !linux

package passwdns

import "errors"

var errLinux = errors.New("a private /etc/passwd needs Linux mount namespaces")

// Enter fails outside Linux.
func (d *DB) Enter() error { return errLinux }

// Start fails outside Linux.
func (d *DB) Start(func() error) error { return errLinux }

// Usable says why DBs cannot work here: they need Linux.
func Usable() error { return errLinux }
