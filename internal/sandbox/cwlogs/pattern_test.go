package cwlogs

import (
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	msg := `{"kind":"key_served","user":"alice","n":7,"host":{"id":"i-1"},"tags":["a","b"],"ok":true}`
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{"", true},
		{"key_served", true},
		{"key_served alice", true},
		{"key_served bob", false},
		{`"kind\":\"key"`, false}, // quotes end a term; no escapes
		{"?bob ?alice", true},
		{"?bob ?carol", false},
		{"alice -served", false},
		{`{ $.kind = "key_served" }`, true},
		{`{ $.kind = key_served }`, true},
		{`{ $.kind = "key_*" }`, true},
		{`{ $.kind != "key_served" }`, false},
		{`{ $.user = "alice" && $.n > 5 }`, true},
		{`{ $.user = "bob" || $.n <= 7 }`, true},
		{`{ $.user = "bob" || ($.n < 7 && $.ok = true) }`, false},
		{`{ $.host.id = "i-1" }`, true},
		{`{ $.tags[1] = "b" }`, true},
		{`{ $.tags[5] = "b" }`, false},
		{`{ $.missing = "x" }`, false},
		{`{ $.missing != "x" }`, false},
		{`{ $.n = 7.0 }`, true},
		{`{ $.n >= 8 }`, false},
	} {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", tc.pattern, err)
			continue
		}
		if got := p.Match(msg); got != tc.want {
			t.Errorf("%q matches = %v, want %v", tc.pattern, got, tc.want)
		}
	}
	if p, _ := ParsePattern(`{ $.kind = "x" }`); p.Match("not json") {
		t.Error("a JSON pattern matched a message that is not JSON")
	}
}

func TestPatternErrors(t *testing.T) {
	for _, s := range []string{`{ $.kind = }`, `{ $.kind "x" }`, `{ kind = "x" }`, `{ $.kind = "x"`, `{ $.kind = "x" } y`,
		`{ $.n > "x" }`, `{ $.n > abc }`, `"unterminated`, `[a, b]`, `%regex%`, `{ ($.a = 1 }`, `{ $. = 1 }`, `{ $.a[x] = 1 }`,
		"{ " + strings.Repeat("(", 30) + "$.a = 1" + strings.Repeat(")", 30) + " }", strings.Repeat("a", MaxPatternLength+1)} {
		if _, err := ParsePattern(s); err == nil {
			t.Errorf("ParsePattern(%q) accepted it", s)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParsePattern(%q) error has several lines: %v", s, err)
		}
	}
}

// FuzzParsePattern checks that no pattern panics the parser or the
// matcher, and that a parsed pattern's match is deterministic.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"", "a b", `?x -y "p q"`, `{ $.a = "b" }`, `{ $.a.b[0] >= 1 && ($.c != x* || $.d = 2) }`, `{ $.a = "`, `{(((`} {
		f.Add(s, `{"a":"b","c":[1,2],"d":2}`)
	}
	f.Fuzz(func(t *testing.T, pattern, msg string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		first := p.Match(msg)
		if again := p.Match(msg); again != first {
			t.Fatal("Match is not deterministic")
		}
	})
}
