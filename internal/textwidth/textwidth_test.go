package textwidth

import "testing"

func TestWidth(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"web-1", 5},
		{"ウェブ", 6},           // wide katakana
		{"数据库-1", 8},         // wide Han and ASCII
		{"cafe\u0301", 4},    // e + combining acute accent
		{"Ålesund", 7},       // precomposed
		{"서버", 4},            // Hangul
		{"👍", 2},             // emoji
		{"e\u0301\u0301", 1}, // stacked combining marks
		{"\u00a0x", 2},       // no-break space is one column
	} {
		if got := Width(c.s); got != c.want {
			t.Errorf("Width(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}

func TestPad(t *testing.T) {
	if got := Pad("ウェ", 6); got != "ウェ  " {
		t.Errorf("Pad = %q", got)
	}
	if got := Pad("toolong", 3); got != "toolong" {
		t.Errorf("Pad = %q", got)
	}
}

func FuzzWidth(f *testing.F) {
	f.Add("ウェブ-1")
	f.Add("cafe\u0301")
	f.Fuzz(func(t *testing.T, s string) {
		w := Width(s)
		if w < 0 || w > 2*len(s) {
			t.Fatalf("Width(%q) = %d", s, w)
		}
		if p := Pad(s, w+3); Width(p) != w+3 {
			t.Fatalf("Pad(%q, %d) is %d wide", s, w+3, Width(p))
		}
	})
}
