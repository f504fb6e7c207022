//go:build !linux

package sshd

import (
	"errors"
)

// startIn cannot simulate hostnames outside Linux; utsProbe reports
// that, so callers never ask.
func startIn(_ string, enter, start func() error) error {
	if enter != nil {
		if err := enter(); err != nil {
			return err
		}
	}
	return start()
}

// WithHostname runs start; hostnames are not simulated outside Linux.
func WithHostname(_ string, start func() error) error { return start() }

func utsProbe() error { return errors.New("UTS namespaces are Linux-only") }

// StartWith runs enter (when not nil) and start; hostnames are not
// simulated outside Linux.
func StartWith(_ string, enter, start func() error) error {
	return startIn("", enter, start)
}
