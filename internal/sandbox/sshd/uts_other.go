//go:build !linux

package sshd

import (
	"errors"
	"os/exec"
)

// startWithHostname cannot simulate hostnames outside Linux; utsProbe
// reports that, so callers never ask.
func startWithHostname(cmd *exec.Cmd, _ string) error { return cmd.Start() }

func utsProbe() error { return errors.New("UTS namespaces are Linux-only") }
