package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jitssh/jitssh/internal/openssh/privfile"
)

// EC2 Instance Connect keeps a pushed key for 60 seconds. A push is reused
// while at least pushMargin of that window is left, so that the session
// being set up still authenticates inside the window.
const (
	pushWindow       = 60 * time.Second
	pushMargin       = 15 * time.Second
	pushRecordSuffix = ".pushed"
)

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

// pushOnce pushes pubKey for user on the instance unless the same key was
// pushed for the same instance and user within the open window. Concurrent
// proxies for one key file take turns, so a burst of connections pushes
// once.
func pushOnce(ctx context.Context, api API, keyFile, instanceID, user, pubKey string, log *slog.Logger) error {
	if keyFile == "" {
		if _, err := api.SendSSHPublicKey(ctx, instanceID, user, pubKey); err != nil {
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
	start := time.Now()
	reqID, err := api.SendSSHPublicKey(ctx, instanceID, user, pubKey)
	if err != nil {
		os.Remove(keyFile + pushRecordSuffix)
		return fmt.Errorf("push key for %s@%s: %w", user, instanceID, err)
	}
	log.Info("pushed key", "instance", instanceID, "user", user, "request_id", reqID)
	data, _ := json.Marshal(pushRecord{InstanceID: instanceID, User: user, PublicKey: pubKey, Expires: start.Add(pushWindow)})
	if err := privfile.WriteFile(keyFile+pushRecordSuffix, data, privfile.Options{Perm: 0o600}); err != nil {
		return fmt.Errorf("record key push: %w", err)
	}
	return nil
}

// lockFile takes an exclusive lock on path (created 0600), released by
// closing the file.
func lockFile(path string) (*os.File, error) {
	f, err := lockShared(path)
	if err != nil {
		return nil, err
	}
	if err := flockEx(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
