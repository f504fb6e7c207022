package handoff

import (
	"strings"
	"testing"
)

func TestRoundTripAndMatch(t *testing.T) {
	h := Handoff{User: "alice", Host: "i-0a1b2c3d4e5f00001", Started: 1764669600000, Label: "web-1", Verbose: true,
		Profile: "dev", Instance: `{"v":1}`, PublicKeyFile: "/k.pub", Reason: "INC-1", Transport: "ssm",
		Via: "bastion-1", ExplainHostKey: true, Report: "/tmp/r/report.json"}
	s := h.Encode()
	got, ok := Decode(s, "alice", "i-0a1b2c3d4e5f00001")
	h.V = Version
	if !ok || got != h {
		t.Fatalf("Decode(Encode(h)) = %+v, %v; want %+v", got, ok, h)
	}
	for _, c := range []struct{ name, s, user, host string }{
		{"another host", s, "alice", "i-0a1b2c3d4e5f00002"},
		{"another login", s, "bob", "i-0a1b2c3d4e5f00001"},
		{"another version", strings.Replace(s, `"v":1`, `"v":2`, 1), "alice", "i-0a1b2c3d4e5f00001"},
		{"unknown field", strings.Replace(s, `{"v":1`, `{"v":1,"grant":"root"`, 1), "alice", "i-0a1b2c3d4e5f00001"},
		{"trailing data", s + `{}`, "alice", "i-0a1b2c3d4e5f00001"},
		{"control character", strings.Replace(s, "INC-1", `INC\u001b[2J`, 1), "alice", "i-0a1b2c3d4e5f00001"},
		{"too long", strings.Replace(s, "INC-1", strings.Repeat("x", MaxLen), 1), "alice", "i-0a1b2c3d4e5f00001"},
		{"garbage", "{", "alice", "i-0a1b2c3d4e5f00001"},
		{"empty", "", "alice", "i-0a1b2c3d4e5f00001"},
	} {
		if got, ok := Decode(c.s, c.user, c.host); ok || got != (Handoff{}) {
			t.Errorf("%s: Decode = %+v, %v; want ignored", c.name, got, ok)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Handoff{User: "alice", Host: "i-0a1b2c3d4e5f00001", Reason: "x"}.Encode(), "alice", "i-0a1b2c3d4e5f00001")
	f.Add(`{"v":1,"user":"a","host":"b"}`, "a", "b")
	f.Add(`{"v":1,"user":"a","host":"b"}{}`, "a", "b")
	f.Add("{", "a", "b")
	f.Fuzz(func(t *testing.T, s, user, host string) {
		h, ok := Decode(s, user, host)
		if !ok {
			if h != (Handoff{}) {
				t.Fatalf("ignored but not empty: %+v", h)
			}
			return
		}
		if h.V != Version || h.User != user || h.Host != host {
			t.Fatalf("accepted a hand-off for another connection: %+v (user %q host %q)", h, user, host)
		}
		if again, ok := Decode(h.Encode(), user, host); !ok || again != h {
			t.Fatalf("re-encoded hand-off does not decode the same: %+v, %v", again, ok)
		}
	})
}
