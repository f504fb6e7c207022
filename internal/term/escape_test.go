package term

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// filterAll runs in through an Escaper reading with buffers of size n,
// the input arriving one byte at a time if slow.
func filterAll(t testing.TB, in string, char byte, n int, slow bool) (string, string, bool) {
	var r io.Reader = strings.NewReader(in)
	if slow {
		r = iotest.OneByteReader(r)
	}
	var help bytes.Buffer
	e := &Escaper{R: r, Char: char, Help: &help}
	var out bytes.Buffer
	buf := make([]byte, n)
	for i := 0; ; i++ {
		k, err := e.Read(buf)
		if k > n || k < 0 {
			t.Fatalf("Read returned %d for a buffer of %d", k, n)
		}
		out.Write(buf[:k])
		if errors.Is(err, ErrEscapeQuit) {
			return out.String(), help.String(), true
		}
		if err == io.EOF {
			return out.String(), help.String(), false
		}
		if err != nil {
			t.Fatal(err)
		}
		if i > 10*len(in)+10 {
			t.Fatal("Read makes no progress")
		}
	}
}

func TestEscaper(t *testing.T) {
	cases := []struct {
		in, out string
		quit    bool
		help    bool
	}{
		{"ls\r", "ls\r", false, false},
		{"~.", "", true, false},
		{"echo\r~.rest", "echo\r", true, false},
		{"echo\n~.", "echo\n", true, false},
		{"a~.b", "a~.b", false, false},  // not at a line start
		{"\r~~x", "\r~x", false, false}, // ~~ sends one ~
		{"\r~~.", "\r~.", false, false}, // ... which is not an escape
		{"\r~x", "\r~x", false, false},  // unknown: both go
		{"~?\r", "\r", false, true},     // help: nothing sent
		{"~?~.", "", true, true},        // another escape may follow ~?
		{"~", "~", false, false},        // input ends after it
		{"~\r~.", "~\r", true, false},   // ~ then Enter: both sent
		{"x\r\r~.", "x\r\r", true, false},
	}
	for _, c := range cases {
		for _, n := range []int{1, 2, 3, 64} {
			for _, slow := range []bool{false, true} {
				out, help, quit := filterAll(t, c.in, '~', n, slow)
				if out != c.out || quit != c.quit || (help != "") != c.help {
					t.Errorf("%q (buffer %d, slow %v): out %q quit %v help %q; want %q %v help %v", c.in, n, slow, out, quit, help, c.out, c.quit, c.help)
				}
			}
		}
	}
	if _, help, _ := filterAll(t, "~?", '~', 64, false); !strings.Contains(help, "~.   - end the session") {
		t.Errorf("help: %q", help)
	}
}

func TestParseEscapeChar(t *testing.T) {
	good := map[string]int{"~": '~', "%": '%', "none": NoEscape, "^]": 0x1d, "^a": 1, "^A": 1, "^@": 0, "^_": 0x1f}
	for s, want := range good {
		got, err := ParseEscapeChar(s)
		if err != nil || got != want {
			t.Errorf("ParseEscapeChar(%q) = %d, %v; want %d", s, got, err, want)
		}
		if back, err := ParseEscapeChar(EscapeName(got)); err != nil || back != got {
			t.Errorf("EscapeName(%d) = %q does not parse back: %d, %v", got, EscapeName(got), back, err)
		}
	}
	for _, s := range []string{"", "~~", "^1", "^~", "\x01", "\x7f", "é", "None", "^ab"} {
		if _, err := ParseEscapeChar(s); err == nil {
			t.Errorf("ParseEscapeChar(%q) accepted", s)
		}
	}
}

func FuzzParseEscapeChar(f *testing.F) {
	for _, s := range []string{"~", "none", "^]", "^a", "", "^", "é", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseEscapeChar(s)
		if err != nil {
			return
		}
		if c != NoEscape && (c < 0 || c > 0x7e) {
			t.Fatalf("%q parsed to %d", s, c)
		}
		if back, err := ParseEscapeChar(EscapeName(c)); err != nil || back != c {
			t.Fatalf("%q: %d does not round-trip: %d, %v", s, c, back, err)
		}
	})
}

// FuzzEscaper: whatever is typed and however it is read, the output is the
// input minus escapes: with no escape character at a line start it is the
// input unchanged, it never grows, and reading in pieces gives the same
// result as reading at once.
func FuzzEscaper(f *testing.F) {
	for _, s := range []string{"ls\r", "~.", "a\r~~b\n~?~x", "~", "\r~\r~."} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, in string, size uint8) {
		n := int(size%32) + 1
		whole, wholeHelp, wholeQuit := filterAll(t, in, '~', 4096, false)
		out, help, quit := filterAll(t, in, '~', n, true)
		if out != whole || quit != wholeQuit || help != wholeHelp {
			t.Fatalf("%q: in pieces of %d: %q %v; at once: %q %v", in, n, out, quit, whole, wholeQuit)
		}
		if len(out) > len(in) {
			t.Fatalf("%q grew to %q", in, out)
		}
		if !strings.HasPrefix(in, "~") && !strings.Contains(in, "\r~") && !strings.Contains(in, "\n~") && (out != in || quit) {
			t.Fatalf("%q without escapes came out as %q (quit %v)", in, out, quit)
		}
	})
}
