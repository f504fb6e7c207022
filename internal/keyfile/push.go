package keyfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jitssh/jitssh/internal/openssh/privfile"
)

// The push record K.pushed says which key was pushed for whom and until
// when, so that a burst of connections within the window pushes once.
const recordSuffix = ".pushed"

// AgentKeyLifetime is how long an ephemeral key added to the ssh-agent
// stays there by default: the push window and a margin for a login that
// starts late in it. After the window the key opens nothing anyway.
const AgentKeyLifetime = Window + 30*time.Second

// Record says which key was pushed for whom, and until when it is valid
// (measured from before the push was sent, so never optimistic).
type Record struct {
	InstanceID string    `json:"instance_id"`
	User       string    `json:"user"`
	PublicKey  string    `json:"public_key"`
	Expires    time.Time `json:"expires"`
}

// readRecord returns the push record stored with the key file and
// whether it can still be reused at now.
func readRecord(keyFile string, now time.Time) (Record, bool) {
	var r Record
	data, err := os.ReadFile(keyFile + recordSuffix)
	if err != nil || json.Unmarshal(data, &r) != nil {
		return Record{}, false
	}
	return r, now.Add(Margin).Before(r.Expires)
}

// PushOnce calls push (which pushes want's key and returns until when it
// is valid) unless the record next to keyFile shows the same key pushed
// for the same instance and user with at least Margin of its window left;
// then it returns that record and reused. Concurrent callers for one key
// file take turns, so a burst of connections pushes once. A failed push
// removes the record; push's error is returned as it is.
func PushOnce(keyFile string, want Record, push func() (time.Time, error)) (r Record, reused bool, err error) {
	lock, err := lockFile(keyFile + pushLockSuffx)
	if err != nil {
		return Record{}, false, err
	}
	defer lock.Close()
	if r, open := readRecord(keyFile, time.Now()); open && r.InstanceID == want.InstanceID && r.User == want.User && r.PublicKey == want.PublicKey {
		return r, true, nil
	}
	expires, err := push()
	if err != nil {
		os.Remove(keyFile + recordSuffix)
		return Record{}, false, err
	}
	want.Expires = expires
	data, _ := json.Marshal(want)
	if err := privfile.WriteFile(keyFile+recordSuffix, data, privfile.Options{Perm: 0o600}); err != nil {
		return Record{}, false, fmt.Errorf("record key push: %w", err)
	}
	return want, false, nil
}

// lockFile takes an exclusive lock on path (created 0600), released by
// closing the file.
func lockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	f, err := openLocked(path, lockExclusive, true)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
