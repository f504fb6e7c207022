// Package keypush authorizes a public key for an OS user on an instance,
// for one push window: EC2 Instance Connect (SendSSHPublicKey) on EC2
// instances; on SSM managed (mi-) instances SSM Run Command with
// placekey's script, polled until it ends (PlaceKey, PlaceKeyError). Once
// pushes at most once per key, instance and user within the window (the
// push record of keyfile.PushOnce). internal/connect's Proxy uses it; it
// imports nothing of connect or the command line.
package keypush

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/keyfile"
	"github.com/jitssh/jitssh/internal/targets"
)

// API is the AWS calls a push makes (implemented by *awsapi.Client):
// EC2 Instance Connect's, and Run Command's for managed instances.
type API interface {
	SendSSHPublicKey(ctx context.Context, instanceID, osUser, pubKey string) (string, error)
	SendCommand(ctx context.Context, instanceID string, commands []string, comment string, timeoutSeconds int32) (string, error)
	CommandInvocation(ctx context.Context, commandID, instanceID string) (awsapi.Invocation, error)
}

// push authorizes pubKey for user on inst: EC2 Instance Connect for EC2
// instances, the key-placement command for managed ones. It returns the
// request (or command) id and until when the key is valid (keyfile.Window),
// measured from before the request was sent.
func push(ctx context.Context, api API, inst targets.Instance, user, pubKey string) (string, time.Time, error) {
	start := time.Now()
	if inst.Managed {
		// expiry-time has a resolution of seconds: round down, never up.
		expires := start.Add(keyfile.Window).Truncate(time.Second)
		id, err := PlaceKey(ctx, api, inst.ID, user, pubKey, expires)
		return id, expires, err
	}
	id, err := api.SendSSHPublicKey(ctx, inst.ID, user, pubKey)
	return id, start.Add(keyfile.Window), err
}

// Once pushes pubKey for user on the instance unless the same key was
// pushed for the same instance and user within the open window, as
// recorded next to keyFile (keyfile.PushOnce); without a key file it
// always pushes.
func Once(ctx context.Context, api API, keyFile string, inst targets.Instance, user, pubKey string, log *slog.Logger) error {
	instanceID := inst.ID
	if keyFile == "" {
		if _, _, err := push(ctx, api, inst, user, pubKey); err != nil {
			return fmt.Errorf("push key for %s@%s: %w", user, instanceID, err)
		}
		return nil
	}
	r, reused, err := keyfile.PushOnce(keyFile, keyfile.Record{InstanceID: instanceID, User: user, PublicKey: pubKey}, func() (time.Time, error) {
		reqID, expires, err := push(ctx, api, inst, user, pubKey)
		switch {
		case err != nil:
			return expires, fmt.Errorf("push key for %s@%s: %w", user, instanceID, err)
		case inst.Managed:
			log.Info("placed key with SSM Run Command", "instance", instanceID, "user", user, "command_id", reqID, "expires", expires)
		default:
			log.Info("pushed key", "instance", instanceID, "user", user, "request_id", reqID)
		}
		return expires, nil
	})
	if reused {
		log.Info("key pushed moments ago is still valid: not pushing again", "instance", instanceID, "user", user, "expires", r.Expires)
	}
	return err
}
