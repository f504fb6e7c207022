package jituser

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/jitssh/jitssh/internal/host/atomicfile"
)

// Record is one just-in-time user in the state file.
type Record struct {
	Name    string    `json:"name"`
	UID     uint32    `json:"uid"`
	Home    string    `json:"home"`
	Groups  []string  `json:"groups,omitempty"`
	Created time.Time `json:"created"`
	// LastSeen is the last time a valid key for the user was seen.
	LastSeen time.Time `json:"last_seen"`
	// Caller is the IAM principal whose key caused the creation.
	Caller string `json:"caller,omitempty"`
}

// State is the content of the state file.
type State struct {
	Version int                `json:"version"`
	Users   map[string]*Record `json:"users"`
	// Retired maps removed users' names to their UIDs: a UID is never
	// given to another name, and the same name gets it back.
	Retired map[string]uint32 `json:"retired,omitempty"`
}

const stateVersion = 1

func newState() *State {
	return &State{Version: stateVersion, Users: map[string]*Record{}, Retired: map[string]uint32{}}
}

// Sorted returns the records by name.
func (s *State) Sorted() []Record {
	out := make([]Record, 0, len(s.Users))
	for _, r := range s.Users {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *State) clone() *State {
	c := newState()
	for k, v := range s.Users {
		r := *v
		r.Groups = append([]string(nil), v.Groups...)
		c.Users[k] = &r
	}
	for k, v := range s.Retired {
		c.Retired[k] = v
	}
	return c
}

// maxStateFile bounds the state file.
const maxStateFile = 64 << 20

// store is the state file: read through a cache validated by the file's
// identity (so a change by another process is seen at the next lookup),
// changed under an exclusive flock on a sibling ".lock" file, written
// atomically (temporary file, fsync, rename, fsync of the directory; see
// atomicfile.Write). A writer killed mid-way leaves the old state and
// at most a temporary file, which the next writer removes under the lock.
type store struct {
	path string

	mu    sync.Mutex
	cur   *State
	stamp fileStamp
}

type fileStamp struct {
	ino, size uint64
	mtime     int64
}

func stampOf(fi os.FileInfo) fileStamp {
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil {
		return fileStamp{size: uint64(fi.Size()), mtime: fi.ModTime().UnixNano()}
	}
	return fileStamp{ino: st.Ino, size: uint64(st.Size), mtime: fi.ModTime().UnixNano()}
}

func newStore(path string) (*store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("jituser: state directory: %w", err)
	}
	s := &store{path: path}
	if _, err := s.snapshot(); err != nil {
		return nil, err
	}
	return s, nil
}

// snapshot returns the current state; callers must not modify it.
func (s *store) snapshot() (*State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshLocked()
}

func (s *store) refreshLocked() (*State, error) {
	fi, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		if s.cur == nil || s.stamp != (fileStamp{}) {
			s.cur, s.stamp = newState(), fileStamp{}
		}
		return s.cur, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jituser: state: %w", err)
	}
	if st := stampOf(fi); s.cur != nil && st == s.stamp {
		return s.cur, nil
	}
	st, stamp, err := readState(s.path)
	if err != nil {
		return nil, err
	}
	s.cur, s.stamp = st, stamp
	return st, nil
}

func readState(path string) (*State, fileStamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("jituser: state: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("jituser: state: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 {
		return nil, fileStamp{}, fmt.Errorf("jituser: state file %s must be a regular file not writable by group or others", path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return nil, fileStamp{}, fmt.Errorf("jituser: state file %s is owned by uid %d, not root", path, st.Uid)
	}
	if fi.Size() > maxStateFile {
		return nil, fileStamp{}, fmt.Errorf("jituser: state file %s is larger than %d bytes", path, maxStateFile)
	}
	st := newState()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(st); err != nil {
		return nil, fileStamp{}, fmt.Errorf("jituser: state file %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fileStamp{}, fmt.Errorf("jituser: state file %s has version %d, want %d", path, st.Version, stateVersion)
	}
	if st.Users == nil {
		st.Users = map[string]*Record{}
	}
	if st.Retired == nil {
		st.Retired = map[string]uint32{}
	}
	for name, r := range st.Users {
		if r == nil || r.Name != name || ValidName(name) != nil {
			return nil, fileStamp{}, fmt.Errorf("jituser: state file %s: bad record %q", path, name)
		}
	}
	return st, stampOf(fi), nil
}

// update applies fn to a fresh copy of the state under the file lock and
// writes the result. fn returning an error changes nothing.
func (s *store) update(fn func(*State) error) (*State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lock, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("jituser: state lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("jituser: state lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing unlocks too
	// Under the lock no writer is live: a temporary file is a crash's.
	atomicfile.RemoveTemps(s.path)
	cur, err := s.refreshLocked()
	if err != nil {
		return nil, err
	}
	next := cur.clone()
	if err := fn(next); err != nil {
		return nil, err
	}
	if err := writeState(s.path, next); err != nil {
		return nil, err
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return nil, fmt.Errorf("jituser: state: %w", err)
	}
	s.cur, s.stamp = next, stampOf(fi)
	return next, nil
}

func writeState(path string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("jituser: encode state: %w", err)
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("jituser: write state: %w", err)
	}
	return nil
}
