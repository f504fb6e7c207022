// Command testreport reads `go test -json` on stdin, prints the tests'
// output as `go test -v` would, and ends with a summary. It exits 1 if any
// test or package failed, and also if any test was skipped when
// JITSSH_FAIL_ON_SKIP is set (CI sets it: there, every test must run).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	var failed, skipped []string
	passed := 0
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // build errors and the like are plain text
			continue
		}
		name := e.Package
		if e.Test != "" {
			name += " " + e.Test
		}
		switch e.Action {
		case "output":
			fmt.Print(e.Output)
		case "fail":
			failed = append(failed, name)
		case "skip":
			if e.Test != "" {
				skipped = append(skipped, name)
			}
		case "pass":
			if e.Test != "" {
				passed++
			}
		}
	}
	sort.Strings(skipped)
	fmt.Printf("\n%d tests passed, %d failed, %d skipped\n", passed, len(failed), len(skipped))
	for _, s := range skipped {
		fmt.Println("  skipped:", s)
	}
	for _, f := range failed {
		fmt.Println("  FAILED: ", f)
	}
	if len(failed) > 0 {
		os.Exit(1)
	}
	if len(skipped) > 0 && os.Getenv("JITSSH_FAIL_ON_SKIP") != "" {
		fmt.Println("JITSSH_FAIL_ON_SKIP is set: every test must run here")
		os.Exit(1)
	}
}
