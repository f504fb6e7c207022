package policy

import (
	"regexp"
	"testing"
	"unicode/utf8"
)

// The tag checks are AWS's patterns, written without a regexp (start-up
// cost); these are the patterns they must agree with.
var (
	tagKeyRE   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@*?]*$`)
)

func checkTagAgrees(t *testing.T, s string) {
	n := utf8.RuneCountInString(s)
	if got, want := validTag(s, 1, 128, ""), n <= 128 && tagKeyRE.MatchString(s); got != want {
		t.Errorf("tag key %q: validTag %v, pattern %v", s, got, want)
	}
	if got, want := validTag(s, 0, 256, "*?"), n <= 256 && tagValueRE.MatchString(s); got != want {
		t.Errorf("tag value %q: validTag %v, pattern %v", s, got, want)
	}
}

func TestValidTagMatchesAWSPattern(t *testing.T) {
	for _, s := range []string{"", "userName", "Team", "a b", "a\u00a0b", "a\u2028b", "é", "日本", "٣", "Ⅻ", "x*", "x?", "a\tb", "a\nb", "a#b",
		"\xff", "a\xffb", "\uFFFD", "-", "@", "a:b/c=d+e-f@g_h.i", string(make([]byte, 129)), "aws:x"} {
		checkTagAgrees(t, s)
	}
	long := ""
	for range 128 {
		long += "é"
	}
	checkTagAgrees(t, long)
	checkTagAgrees(t, long+"a")
}

func FuzzValidTag(f *testing.F) {
	for _, s := range []string{"userName", "a b", "日本", "x*?", "\xff", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(checkTagAgrees)
}
