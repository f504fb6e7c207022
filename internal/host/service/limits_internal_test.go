package service

import "testing"

// The connection caps (held ones included) fit under any file-descriptor limit with fdReserve
// to spare (down to one connection each), and are the defaults when there
// is room.
func TestCapsFor(t *testing.T) {
	if c := capsFor(1 << 20); c != (connCaps{root: maxRootConns, perPeer: maxConnsPerPeer, users: maxUserConns, keys: maxKeysConns, held: maxHeld}) {
		t.Errorf("capsFor(1M) = %+v, want the defaults", c)
	}
	for _, nofile := range []uint64{0, 10, 64, 100, 256, 1024} {
		c := capsFor(nofile)
		if c.root < 1 || c.perPeer < 1 || c.users < 1 || c.keys < 1 || c.held < 1 || c.perPeer > c.users {
			t.Errorf("capsFor(%d) = %+v", nofile, c)
		}
		if nofile > fdReserve+4 && uint64(c.root+c.users+c.keys+c.held) > nofile-fdReserve {
			t.Errorf("capsFor(%d) = %+v: more than %d connections", nofile, c, nofile-fdReserve)
		}
	}
}
