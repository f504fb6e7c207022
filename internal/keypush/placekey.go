package keypush

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/placekey"
	"github.com/jitssh/jitssh/internal/transport"
)

// Managed (mi-) instances are not in EC2, so EC2 Instance Connect cannot
// push keys to them. jitssh places the key with SSM Run Command instead:
// AWS-RunShellScript with the key-placement script of package placekey,
// which appends the key to the user's authorized_keys with an OpenSSH
// expiry-time (the same window as an EC2 Instance Connect push) so that
// sshd itself stops honouring it, and prunes the expired ones it placed
// before.

// commandTimeout is the SendCommand TimeoutSeconds and the script's
// executionTimeout: SSM's minimum. The invocation is polled until it ends
// or commandTimeout plus a margin has passed.
const commandTimeout = 30 * time.Second

// Polling GetCommandInvocation: the first look after pollFirst, then
// doubling up to pollMax.
const (
	pollFirst = 50 * time.Millisecond
	pollMax   = time.Second
)

// PlaceKeyError is a key-placement command that ran and did not succeed.
// Its Error is one line (the command's end and its stderr); Advice says
// what to check.
type PlaceKeyError struct {
	InstanceID, User, CommandID string
	Invocation                  awsapi.Invocation
}

func (e *PlaceKeyError) Error() string {
	inv := e.Invocation
	s := fmt.Sprintf("the key-placement command %s on %s ended %s", e.CommandID, e.InstanceID, inv.Status)
	if inv.Status == "Failed" {
		s += fmt.Sprintf(" (exit status %d)", inv.ResponseCode)
	}
	if msg := strings.TrimSpace(inv.Stderr); msg != "" {
		if len(msg) > 600 {
			msg = msg[:600] + "…"
		}
		s += ": " + msg
	}
	return s
}

// Advice is what to check on the instance ("" for nothing to say); when
// AgentLate, its SSM agent's state explains the end.
func (e *PlaceKeyError) Advice() string {
	switch e.Invocation.Status {
	case "Failed":
		return fmt.Sprintf("the script runs as root through the SSM agent and needs the user %s to exist on the instance (getent passwd %s) with a writable home; the output above says which step failed", e.User, e.User)
	case "TimedOut", "Cancelled":
		return "the SSM agent did not run it in time: check the agent is online and not busy with other commands"
	}
	return ""
}

// AgentLate reports whether the SSM agent did not run the command in time.
func (e *PlaceKeyError) AgentLate() bool {
	return e.Invocation.Status == "TimedOut" || e.Invocation.Status == "Cancelled"
}

// PlaceKey places pubKey (an authorized_keys line; its comment is replaced
// by placekey.Comment) for user on the managed instance until expires,
// with SSM Run Command, and waits for the command to finish. It returns
// the command id.
func PlaceKey(ctx context.Context, api API, instanceID, osUser, pubKey string, expires time.Time) (string, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pubKey))
	if err != nil {
		return "", fmt.Errorf("key to place: %w", err)
	}
	script, err := placekey.Script(osUser, pub, expires)
	if err != nil {
		return "", err
	}
	cid, err := api.SendCommand(ctx, instanceID, script, commandComment(osUser, expires), int32(commandTimeout/time.Second))
	if err != nil {
		return "", err
	}
	inv, err := waitInvocation(ctx, api, cid, instanceID)
	if err != nil {
		return cid, fmt.Errorf("key-placement command %s: %w", cid, err)
	}
	if inv.Status != "Success" {
		return cid, &PlaceKeyError{InstanceID: instanceID, User: osUser, CommandID: cid, Invocation: inv}
	}
	return cid, nil
}

// waitInvocation polls GetCommandInvocation with backoff until the
// command has finished on the instance. InvocationDoesNotExist is normal
// right after SendCommand (the invocation is created asynchronously) and
// is retried like Pending.
func waitInvocation(ctx context.Context, api API, commandID, instanceID string) (awsapi.Invocation, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout+15*time.Second)
	defer cancel()
	delay := pollFirst
	for {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return awsapi.Invocation{}, &transport.TimeoutError{Waiting: "it to finish on " + instanceID, After: commandTimeout + 15*time.Second,
					Cause: "the SSM agent may be offline or busy", InstanceID: instanceID, Look: transport.LookAgent}
			}
			return awsapi.Invocation{}, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, pollMax)
		inv, err := api.CommandInvocation(ctx, commandID, instanceID)
		var ae *awsapi.APIError
		switch {
		case errors.As(err, &ae) && ae.Code == "InvocationDoesNotExist":
			continue
		case err != nil:
			return awsapi.Invocation{}, err
		case inv.Done():
			return inv, nil
		}
	}
}

// commandComment names jitssh, the OS user, the expiry and who asked
// (local user and host), for the SSM console and CloudTrail (SSM allows
// 100 characters).
func commandComment(osUser string, expires time.Time) string {
	who := "?"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		who += "@" + h
	}
	c := fmt.Sprintf("jitssh: SSH key for %s until %s, asked by %s", osUser, expires.UTC().Format("15:04:05Z"), who)
	if len(c) > 100 {
		c = c[:100]
	}
	return c
}
