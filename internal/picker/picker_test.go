package picker

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

var opts = Options{
	Title:  "3 instances match web",
	Header: []string{"STATE", "NAME", "ID"},
	Rows: [][]string{
		{"running", "web", "i-0000000000000000a"},
		{"stopped", "web", "i-0000000000000000b"},
		{"running", "web-canary", "i-0000000000000000c"},
	},
}

// keys delivers each string as one read, like a terminal in raw mode.
type keys struct{ chunks []string }

func (k *keys) Read(p []byte) (int, error) {
	if len(k.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, k.chunks[0])
	k.chunks = k.chunks[1:]
	return n, nil
}

func TestRun(t *testing.T) {
	for _, c := range []struct {
		name string
		keys []string
		want int
		err  error
	}{
		{"enter picks the first", []string{"\r"}, 0, nil},
		{"down arrow", []string{"\x1b[B", "\r"}, 1, nil},
		{"up wraps", []string{"\x1b[A", "\r"}, 2, nil},
		{"ctrl-n ctrl-p", []string{"\x0e\x0e\x10", "\r"}, 1, nil},
		{"fuzzy filter", []string{"c", "n", "r", "\r"}, 2, nil},
		{"filter by id then backspace", []string{"0c", "\x7f", "b", "\r"}, 1, nil},
		{"filter state", []string{"stop\r"}, 1, nil},
		{"enter with no match does nothing", []string{"zzz", "\r", "\x15", "\r"}, 0, nil},
		{"esc cancels", []string{"\x1b"}, -1, ErrCancelled},
		{"ctrl-c cancels", []string{"w\x03"}, -1, ErrCancelled},
		{"eof cancels", nil, -1, ErrCancelled},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := Run(&keys{chunks: c.keys}, &out, opts)
			if got != c.want || !errors.Is(err, c.err) {
				t.Fatalf("Run = %d, %v; want %d, %v", got, err, c.want, c.err)
			}
			if !strings.Contains(out.String(), "i-0000000000000000a") || !strings.Contains(out.String(), "3 instances match web") {
				t.Fatalf("display lacks rows or title:\n%q", out.String())
			}
		})
	}
}

func TestControlCharactersAreNotDisplayed(t *testing.T) {
	var out bytes.Buffer
	o := Options{Header: []string{"NAME"}, Rows: [][]string{{"evil\x1b]0;pwned\x07name"}}}
	if _, err := Run(&keys{chunks: []string{"\r"}}, &out, o); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\x1b]0") || strings.Contains(out.String(), "\x07") {
		t.Fatalf("control sequence from a row reached the terminal: %q", out.String())
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		q, l string
		want bool
	}{{"", "x", true}, {"wc", "web-canary", true}, {"WEB", "web", true}, {"bew", "web", false}, {"10.0", "ip 10.0.1.1", true}} {
		if Match(c.q, c.l) != c.want {
			t.Errorf("Match(%q, %q) = %v", c.q, c.l, !c.want)
		}
	}
}

func FuzzRun(f *testing.F) {
	f.Add([]byte("web\x1b[B\r"))
	f.Add([]byte("\x1b[A\x1b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Run(bytes.NewReader(b), io.Discard, opts)
		if err == nil && (got < 0 || got >= len(opts.Rows)) {
			t.Fatalf("Run returned index %d", got)
		}
	})
}
