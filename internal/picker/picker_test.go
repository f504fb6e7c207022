package picker

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/textwidth"
)

var opts = Options{
	Title:  "3 instances match web",
	Header: []string{"STATE", "NAME", "ID"},
	Rows: [][]string{
		{"running", "web", "i-0000000000000000a"},
		{"stopped", "web", "i-0000000000000000b"},
		{"running", "web-canary", "i-0000000000000000c"},
	},
	Keys: [][]string{
		{"web", "i-0000000000000000a", "running"},
		{"web", "i-0000000000000000b", "stopped"},
		{"web-canary", "i-0000000000000000c", "running"},
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

func TestRank(t *testing.T) {
	for _, c := range []struct {
		q     string
		keys  []string
		grade int
		key   int
		ok    bool
	}{
		{"", []string{"x"}, 0, 0, true},
		{"web-2", []string{"web-2", "i-0a1b2c3d4e5f60718"}, gradeExact, 0, true},
		{"WEB-2", []string{"web-2"}, gradeExact, 0, true},
		{"web-1", []string{"web-10"}, gradePrefix, 0, true},
		{"eb-1", []string{"web-10"}, gradeContains, 0, true},
		{"wc", []string{"web-canary"}, gradeInOrder, 0, true},
		{"bew", []string{"web"}, 0, 0, false},
		// Keys are matched one at a time, never across: web-1 does not
		// hold "web-2" even though its row does.
		{"web-2", []string{"web-1", "i-0a1b2c3d4e5f60712", "10.0.1.12"}, 0, 0, false},
		// Only the first key (the name) matches characters in order.
		{"0a2", []string{"web", "i-0a1b2c"}, 0, 0, false},
		{"0a1b", []string{"web", "i-0a1b2c"}, gradeContains, 1, true},
		{"10.0.1.1", []string{"web", "i-0a", "10.0.1.11"}, gradePrefix, 2, true},
		{"ウェ", []string{"ウェブ"}, gradePrefix, 0, true},
	} {
		g, k, ok := Rank(c.q, c.keys)
		if ok != c.ok || ok && (g != c.grade || k != c.key) {
			t.Errorf("Rank(%q, %q) = %d, %d, %v; want %d, %d, %v", c.q, c.keys, g, k, ok, c.grade, c.key, c.ok)
		}
	}
}

// TestEnterLandsOnTheBestMatch: the rows of issue 11, each pattern with
// where Enter must land.
func TestEnterLandsOnTheBestMatch(t *testing.T) {
	fleet := Options{
		Header: []string{"STATE", "NAME", "ID", "AZ", "PRIVATE-IP", "SSM"},
		Rows: [][]string{
			{"running", "web-1", "i-0a1b2c3d4e5f00001", "eu-west-1a", "10.0.1.11", "Online"},
			{"running", "web-2", "i-0a1b2c3d4e5f00002", "eu-west-1b", "10.0.1.12", "Online"},
			{"running", "web-10", "i-0a1b2c3d4e5f00010", "eu-west-1a", "10.0.1.110", "Online"},
		},
		Keys: [][]string{
			{"web-1", "i-0a1b2c3d4e5f00001", "10.0.1.11"},
			{"web-2", "i-0a1b2c3d4e5f00002", "10.0.1.12"},
			{"web-10", "i-0a1b2c3d4e5f00010", "10.0.1.110"},
		},
	}
	for _, c := range []struct {
		name string
		keys []string
		want int
		err  error
	}{
		{"typing a name picks it", []string{"w", "e", "b", "-", "2", "\r"}, 1, nil},
		{"typing a name at once", []string{"web-2\r"}, 1, nil},
		{"an exact name beats a longer one", []string{"web-1", "\r"}, 0, nil},
		{"a longer name is still reachable", []string{"web-1", "\x1b[B", "\r"}, 2, nil},
		{"an id tail", []string{"f00010\r"}, 2, nil},
		{"an exact address beats a longer one", []string{"10.0.1.11\r"}, 0, nil},
		{"no match: Enter picks nothing", []string{"web-3", "\r", "\r"}, -1, ErrCancelled},
		{"no match then a correction", []string{"web-3", "\r", "\x7f2", "\r"}, 1, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Run(&keys{chunks: c.keys}, io.Discard, fleet)
			if got != c.want || !errors.Is(err, c.err) {
				t.Fatalf("Run = %d, %v; want %d, %v", got, err, c.want, c.err)
			}
		})
	}
}

func TestRowsAlignByDisplayWidth(t *testing.T) {
	o := Options{Header: []string{"NAME", "ID"}, Rows: [][]string{{"ウェブ-1", "i-1"}, {"cafe\u0301", "i-2"}, {"web", "i-3"}}}
	var out bytes.Buffer
	if _, err := Run(&keys{chunks: []string{"\r"}}, &out, o); err != nil {
		t.Fatal(err)
	}
	col := map[int]bool{}
	for _, l := range strings.Split(out.String(), "\r\n") {
		if i := strings.Index(l, "i-"); i >= 0 {
			l = l[:i]
			if j := strings.LastIndex(l, "m"); j >= 0 && strings.Contains(l, "\x1b[") { // after the highlight
				l = l[j+1:]
			}
			l = strings.TrimPrefix(strings.TrimPrefix(l, "\x1b[J"), "\r")
			col[textwidth.Width(l)] = true
		}
	}
	if len(col) != 1 {
		t.Fatalf("the ID column starts at columns %v:\n%s", col, out.String())
	}
}

func FuzzRun(f *testing.F) {
	f.Add([]byte("web\x1b[B\r"))
	f.Add([]byte("\x1b[A\x1b"))
	f.Add([]byte("ウ\x7fcanary\r"))
	f.Add([]byte("web-3\r\r"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Run(bytes.NewReader(b), io.Discard, opts)
		if err == nil && (got < 0 || got >= len(opts.Rows)) {
			t.Fatalf("Run returned index %d", got)
		}
	})
}
