package jituser

import "testing"

func TestParseSubIDs(t *testing.T) {
	t.Parallel()
	rs, err := parseSubIDs([]byte("# c\nalice:100000:65536\n1001:165536:65536\nzero:5:0\n"))
	if err != nil || len(rs) != 2 || !rs[0].contains(100000) || !rs[0].contains(165535) || rs[0].contains(165536) || !rs[1].contains(165536) {
		t.Errorf("parseSubIDs = %v, %v", rs, err)
	}
	for _, bad := range []string{"alice:1\n", "alice:x:1\n", ":1:1\n", "a:1:4294967296\n", "a:1:2:3\n"} {
		if _, err := parseSubIDs([]byte(bad)); err == nil {
			t.Errorf("parseSubIDs(%q) accepted", bad)
		}
	}
}

func FuzzParseSubIDs(f *testing.F) {
	for _, s := range []string{"alice:100000:65536\n", "# x\n\n1:2:3\n", "a:b:c", "a:4294967295:4294967295\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := parseSubIDs(data)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.count == 0 || r.start > 1<<32-1 || r.count > 1<<32-1 {
				t.Fatalf("bad range %+v", r)
			}
			if !r.contains(uint32(r.start)) {
				t.Fatalf("range %+v does not contain its start", r)
			}
		}
	})
}
