package authkeys

import (
	"regexp"
	"strings"
	"testing"
)

// TestPatternsWithoutBoundedRepeats checks the length-checked patterns
// against the bounded ones they replace.
func TestPatternsWithoutBoundedRepeats(t *testing.T) {
	t.Parallel()
	sha := regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)
	md5 := regexp.MustCompile(`^MD5:[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){15}$`)
	valid := "SHA256:" + strings.Repeat("A", 43)
	mdValid := "MD5:" + strings.Repeat("ab:", 15) + "cd"
	for _, fp := range []string{
		valid, valid[:len(valid)-1], valid + "A", "SHA256:" + strings.Repeat("+", 42) + "/", valid[:20] + "-" + valid[21:],
		mdValid, mdValid[:len(mdValid)-3], mdValid + ":ef", strings.Replace(mdValid, "ab:", "abc", 1), "MD5:" + strings.Repeat("ab:", 16),
	} {
		want := sha.MatchString(fp) || md5.MatchString(fp)
		if got := validFingerprint(fp); got != want {
			t.Errorf("validFingerprint(%q) = %v, want %v", fp, got, want)
		}
	}
	id := regexp.MustCompile(`^i-[0-9a-f]{8,32}$`)
	for n := 0; n <= 34; n++ {
		for _, s := range []string{"i-" + strings.Repeat("a", n), "i-" + strings.Repeat("0", n) + "g"} {
			got := len(s)-2 >= 8 && len(s)-2 <= 32 && instanceIDRE.MatchString(s)
			if got != id.MatchString(s) {
				t.Errorf("instance id %q: %v", s, got)
			}
		}
	}
}
