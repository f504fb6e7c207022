package jituser

// UID (and GID) allocation: hashed, avoiding what the system and subordinate
// ID ranges hold.

import (
	"fmt"
	"hash/fnv"
)

// specialIDs are never given out.
var specialIDs = map[uint32]bool{0: true, 65534: true, 65535: true, 1<<32 - 2: true, 1<<32 - 1: true}

// HashUID is the UID name gets when nothing else holds it: the same on
// every host with the same range.
func HashUID(name string, lo, hi uint32) uint32 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return lo + uint32(h.Sum64()%(uint64(hi-lo)+1))
}

// subIDs reads the subordinate UID and GID ranges.
func (m *Manager) subIDs() ([]idRange, error) {
	var paths []string
	for _, p := range []string{m.o.SubUIDFile, m.o.SubGIDFile} {
		if p != "-" {
			paths = append(paths, p)
		}
	}
	return readSubIDs(paths...)
}

// allocate picks name's UID: its retired UID if it had one, else its hash
// UID, else the next free one after it (wrapping in the range). Free means:
// not held by another JIT user, live or retired, not in /etc/passwd or
// /etc/group, not in a /etc/subuid or /etc/subgid range (the UID is the
// GID too), and not a special id. The choice depends only on the state and
// those files, so a creation that crashed after its home was renamed into
// place picks the same UID again and createHome reuses that home; an
// existing home is never adopted by its owner's UID (it could belong to a
// directory user with that UID).
func (m *Manager) allocate(st *State, name string, db etcDB, sub []idRange) (uint32, error) {
	used := map[uint32]bool{}
	for _, r := range st.Users {
		used[r.UID] = true
	}
	for n, uid := range st.Retired {
		if n != name {
			used[uid] = true
		}
	}
	lo, hi := m.o.Policy.UIDMin, m.o.Policy.UIDMax
	free := func(uid uint32) bool {
		if used[uid] || db.ids[uid] || specialIDs[uid] {
			return false
		}
		for _, r := range sub {
			if r.contains(uid) {
				return false
			}
		}
		return true
	}
	if uid, ok := st.Retired[name]; ok && free(uid) {
		return uid, nil
	}
	size := uint64(hi-lo) + 1
	start := uint64(HashUID(name, lo, hi) - lo)
	for i := uint64(0); i < size; i++ {
		uid := lo + uint32((start+i)%size)
		if free(uid) {
			return uid, nil
		}
		// Skip a subordinate range in one step (to its end, or to hi).
		for _, r := range sub {
			if r.contains(uid) {
				i += min(r.start+r.count, uint64(hi)+1) - uint64(uid) - 1
				break
			}
		}
	}
	return 0, fmt.Errorf("no free UID left in %d..%d", lo, hi)
}
