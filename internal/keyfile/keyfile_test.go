package keyfile

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeRecord(t *testing.T, key string, expires time.Time) {
	t.Helper()
	b, _ := json.Marshal(Record{InstanceID: "i-0123456789abcdef0", User: "u", PublicKey: "k", Expires: expires})
	if err := os.WriteFile(key+recordSuffix, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return n
}

// The last user removes the set when no window is open; earlier users
// leave it; the jump host's records and a planted look-alike go with it
// or stay as they should.
func TestKeyReleaseLastRemoves(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "u@web-1")
	a, err := Take(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Take(key)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := a.Load()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := b.Load()
	if err != nil || k1.AuthorizedKey() != k2.AuthorizedKey() {
		t.Fatalf("second user got another key: %v", err)
	}
	os.WriteFile(key+".via-i-0123456789abcdef0.pushed", []byte("{}"), 0o600)
	os.WriteFile(key+".via-i-0123456789abcdef0.push.lock", nil, 0o600)
	os.WriteFile(filepath.Join(dir, "u@web-1.other"), nil, 0o600)
	kept := 0
	keep := func(string, time.Time) { kept++ }
	a.Release(keep)
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("first release removed the key in use: %v", err)
	}
	b.Release(keep)
	if got := dirNames(t, dir); len(got) != 1 || got[0] != "u@web-1.other" || kept != 0 {
		t.Fatalf("after the last release: %v (kept %d)", got, kept)
	}
}

// Within the window the set stays and keep is told; the reaper removes it
// when the window closes, waiting for a proxy that uses it meanwhile
// without keeping new users out.
func TestKeyReaper(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "u@web-1")
	u, err := Take(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Load(); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour)
	writeRecord(t, key, until)
	var told time.Time
	u.Release(func(_ string, t time.Time) { told = t })
	if !told.Equal(until) {
		t.Fatalf("keep told %v, want %v", told, until)
	}
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("key removed within its window: %v", err)
	}
	until = time.Now().Add(300 * time.Millisecond) // (shorter, for the test)
	writeRecord(t, key, until)
	busy, err := Take(key) // a proxy using it when the window closes
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Reap(context.Background(), key) }()
	time.Sleep(100 * time.Millisecond)
	if !ReaperRunning(key) {
		t.Fatal("ReaperRunning is false while a reaper waits")
	}
	if err := Reap(context.Background(), key); err != nil { // a second one returns at once
		t.Fatal(err)
	}
	time.Sleep(time.Until(until) + 300*time.Millisecond)
	// The reaper waits for the lock; a new proxy still gets in.
	other, err := openLocked(key+keyLockSuffix, lockShared|lockNow, false)
	if err != nil {
		t.Fatalf("a new user is kept out while the reaper waits: %v", err)
	}
	other.Close()
	select {
	case err := <-done:
		t.Fatalf("reaper ended while the key was in use: %v", err)
	default:
	}
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("key removed while in use: %v", err)
	}
	busy.lock.Close() // the proxy is killed: it releases nothing itself
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reaper did not end")
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Fatalf("after the reaper: %v", got)
	}
}

// Sweep removes a killed process's set whose window closed, keeps one
// in use, hands an idle one with an open window to keep, and removes old
// half-written key files.
func TestSweepKeys(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "u@stale")
	inUse := filepath.Join(dir, "u@busy")
	open := filepath.Join(dir, "u@open")
	for _, k := range []string{stale, inUse, open} {
		u, err := Take(k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Load(); err != nil {
			t.Fatal(err)
		}
		if k == inUse {
			defer u.lock.Close()
		} else {
			u.lock.Close() // killed: no release
		}
	}
	writeRecord(t, stale, time.Now().Add(-time.Second))
	writeRecord(t, open, time.Now().Add(time.Hour))
	half := filepath.Join(dir, ".u@x.new123")
	os.WriteFile(half, nil, 0o600)
	old := time.Now().Add(-2 * time.Minute)
	os.Chtimes(half, old, old)
	agentPub := filepath.Join(dir, "u@i-0123456789abcdef0.0a1b2c.agent.pub")
	freshPub := filepath.Join(dir, "u@i-0123456789abcdef0.0a1b2d.agent.pub")
	os.WriteFile(agentPub, []byte("ssh-ed25519 AAAA"), 0o600)
	os.WriteFile(freshPub, []byte("ssh-ed25519 AAAA"), 0o600)
	older := time.Now().Add(-2 * time.Hour)
	os.Chtimes(agentPub, older, older)
	var kept []string
	Sweep(dir, func(p string, _ time.Time) { kept = append(kept, p) })
	for _, p := range []string{stale, stale + recordSuffix, stale + keyLockSuffix, half, agentPub} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s not swept: %v", p, err)
		}
	}
	for _, p := range []string{inUse, open, freshPub} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s swept: %v", p, err)
		}
	}
	if len(kept) != 1 || kept[0] != open {
		t.Errorf("keep told %v, want [%s]", kept, open)
	}
	// With a reaper waiting for it, keep is not told again.
	reap, err := openLocked(open+recordSuffix, lockExclusive, false)
	if err != nil {
		t.Fatal(err)
	}
	defer reap.Close()
	kept = nil
	Sweep(dir, func(p string, _ time.Time) { kept = append(kept, p) })
	if len(kept) != 0 {
		t.Errorf("keep told %v with a reaper running", kept)
	}
}
