package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestScan: a function (closures included) over the limit is found, with
// gocyclo's spelling of its name; one at the limit, test files unless
// asked, and ignored paths are not.
func TestScan(t *testing.T) {
	dir := t.TempDir()
	body := func(n int) string { return strings.Repeat("\t_ = 0\n", n) }
	src := "package p\n\ntype T struct{}\n\n" +
		"func atLimit() {\n" + body(8) + "}\n\n" + // 10 lines
		"func (t *T) over() {\n\tf := func() {\n" + body(7) + "\t}\n\tf()\n}\n\n" + // 12 lines
		"func decl()\n"
	for name, s := range map[string]string{"p.go": src, "p_test.go": src, "skip.go": strings.ReplaceAll(src, "over", "over2")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	found, err := scan(dir, 10, false, regexp.MustCompile(`skip\.go$`))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].name != "(*T).over" || found[0].lines != 12 || found[0].pos.Line != 16 {
		t.Fatalf("found %+v", found)
	}
	found, err = scan(dir, 10, true, nil)
	if err != nil || len(found) != 3 {
		t.Fatalf("with tests, no ignore: %+v %v", found, err)
	}
}
