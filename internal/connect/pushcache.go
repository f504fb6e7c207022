package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jitssh/jitssh/internal/openssh/privfile"
	"github.com/jitssh/jitssh/internal/targets"
)

// EC2 Instance Connect keeps a pushed key for pushWindow (60 seconds); a
// key placed on a managed instance gets the same window as its
// expiry-time. A push is reused while at least pushMargin of that window
// is left, so that the session being set up still authenticates inside
// the window. (Both are set in keywindow.go.)
const pushRecordSuffix = ".pushed"

// AgentKeyLifetime is how long an ephemeral key added to the ssh-agent
// stays there by default: the push window and a margin for a login that
// starts late in it. After the window the key opens nothing anyway.
const AgentKeyLifetime = pushWindow + 30*time.Second

// pushRecord says which key was pushed for whom, and until when it is
// valid (measured from before the push was sent, so never optimistic).
type pushRecord struct {
	InstanceID string    `json:"instance_id"`
	User       string    `json:"user"`
	PublicKey  string    `json:"public_key"`
	Expires    time.Time `json:"expires"`
}

// readPushRecord returns the push record stored with the key file and
// whether it can still be reused at now.
func readPushRecord(keyFile string, now time.Time) (pushRecord, bool) {
	var r pushRecord
	data, err := os.ReadFile(keyFile + pushRecordSuffix)
	if err != nil || json.Unmarshal(data, &r) != nil {
		return pushRecord{}, false
	}
	return r, now.Add(pushMargin).Before(r.Expires)
}

// push authorizes pubKey for user on inst: EC2 Instance Connect for EC2
// instances, the key-placement command for managed ones. It returns the
// request (or command) id and until when the key is valid, measured from
// before the request was sent.
func push(ctx context.Context, api API, inst targets.Instance, user, pubKey string) (string, time.Time, error) {
	start := time.Now()
	if inst.Managed {
		// expiry-time has a resolution of seconds: round down, never up.
		expires := start.Add(pushWindow).Truncate(time.Second)
		id, err := PlaceKey(ctx, api, inst.ID, user, pubKey, expires)
		return id, expires, err
	}
	id, err := api.SendSSHPublicKey(ctx, inst.ID, user, pubKey)
	return id, start.Add(pushWindow), err
}

// pushOnce pushes pubKey for user on the instance unless the same key was
// pushed for the same instance and user within the open window. Concurrent
// proxies for one key file take turns, so a burst of connections pushes
// once.
func pushOnce(ctx context.Context, api API, keyFile string, inst targets.Instance, user, pubKey string, log *slog.Logger) error {
	instanceID := inst.ID
	if keyFile == "" {
		if _, _, err := push(ctx, api, inst, user, pubKey); err != nil {
			return fmt.Errorf("push key for %s@%s: %w", user, instanceID, err)
		}
		return nil
	}
	lock, err := lockFile(keyFile + ".push.lock")
	if err != nil {
		return err
	}
	defer lock.Close()
	if r, open := readPushRecord(keyFile, time.Now()); open && r.InstanceID == instanceID && r.User == user && r.PublicKey == pubKey {
		log.Info("key pushed moments ago is still valid: not pushing again", "instance", instanceID, "user", user, "expires", r.Expires)
		return nil
	}
	reqID, expires, err := push(ctx, api, inst, user, pubKey)
	if err != nil {
		os.Remove(keyFile + pushRecordSuffix)
		return fmt.Errorf("push key for %s@%s: %w", user, instanceID, err)
	}
	if inst.Managed {
		log.Info("placed key with SSM Run Command", "instance", instanceID, "user", user, "command_id", reqID, "expires", expires)
	} else {
		log.Info("pushed key", "instance", instanceID, "user", user, "request_id", reqID)
	}
	data, _ := json.Marshal(pushRecord{InstanceID: instanceID, User: user, PublicKey: pubKey, Expires: expires})
	if err := privfile.WriteFile(keyFile+pushRecordSuffix, data, privfile.Options{Perm: 0o600}); err != nil {
		return fmt.Errorf("record key push: %w", err)
	}
	return nil
}

// lockFile takes an exclusive lock on path (created 0600), released by
// closing the file.
func lockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	f, err := openLocked(path, syscall.LOCK_EX, true)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
