// Command funclen reports Go functions longer than a limit, counted in
// lines from the func keyword to the closing brace (a function literal
// counts as part of the function that contains it, so a command whose
// logic sits inline in a closure is as long as it looks).
//
//	go run ./scripts/funclen [-over 80] [-report-only] [-tests] [-ignore RE] PATH...
//
// Each PATH (a directory or a file) is walked for .go files (test files
// only with -tests; none whose path matches -ignore). It prints
// "LINES PKG FUNC FILE:LINE" for each function over the limit, longest
// first, and exits 1 if there is any, unless -report-only (for packages
// still being reshaped: listed, not enforced). gocyclo checks the other
// half of `make lint`'s rule, cyclomatic complexity; it has no length
// check, hence this.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// long is one function over the limit.
type long struct {
	lines int
	pkg   string
	name  string
	pos   token.Position
}

func main() {
	over := flag.Int("over", 80, "report functions longer than this many lines")
	reportOnly := flag.Bool("report-only", false, "report, but exit 0")
	tests := flag.Bool("tests", false, "check _test.go files too")
	ignore := flag.String("ignore", "", "skip files whose path matches this regular expression")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: funclen [-over N] [-report-only] [-tests] [-ignore RE] PATH...")
		os.Exit(2)
	}
	var skip *regexp.Regexp
	if *ignore != "" {
		re, err := regexp.Compile(*ignore)
		if err != nil {
			fmt.Fprintf(os.Stderr, "funclen: -ignore: %v\n", err)
			os.Exit(2)
		}
		skip = re
	}
	var found []long
	for _, dir := range flag.Args() {
		f, err := scan(dir, *over, *tests, skip)
		if err != nil {
			fmt.Fprintf(os.Stderr, "funclen: %v\n", err)
			os.Exit(2)
		}
		found = append(found, f...)
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].lines > found[j].lines })
	for _, l := range found {
		fmt.Printf("%d %s %s %s:%d\n", l.lines, l.pkg, l.name, l.pos.Filename, l.pos.Line)
	}
	if len(found) > 0 && !*reportOnly {
		fmt.Fprintf(os.Stderr, "funclen: %d functions over %d lines: split them\n", len(found), *over)
		os.Exit(1)
	}
}

// scan parses every Go file under dir (or dir itself, a file) and returns its functions over the
// limit.
func scan(dir string, over int, tests bool, skip *regexp.Regexp) ([]long, error) {
	var found []long
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || (!tests && strings.HasSuffix(path, "_test.go")) || (skip != nil && skip.MatchString(path)) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			if n := end.Line - start.Line + 1; n > over {
				found = append(found, long{lines: n, pkg: f.Name.Name, name: funcName(fn), pos: start})
			}
		}
		return nil
	})
	return found, err
}

// funcName is gocyclo's spelling: F, or (T).M, or (*T).M.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	star := ""
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = "*", s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if ix, ok := t.(*ast.IndexListExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return "(" + star + id.Name + ")." + fn.Name.Name
	}
	return fn.Name.Name
}
