//go:build !linux

package sshd

import (
	"errors"
	"os/exec"
)

// startWithHostname cannot simulate hostnames outside Linux; utsProbe
// reports that, so callers never ask.
func startWithHostname(cmd *exec.Cmd, _ string) error { return cmd.Start() }

// WithHostname runs start; hostnames are not simulated outside Linux.
func WithHostname(_ string, start func() error) error { return start() }

func utsProbe() error { return errors.New("UTS namespaces are Linux-only") }
