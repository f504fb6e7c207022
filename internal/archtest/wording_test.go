package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The rule of docs/architecture.md, "Errors": library packages name no
// command or flag of jitssh's in their text; the command-line packages
// add that wording to the libraries' typed errors. Checked on the string
// literals of non-test files (go/parser), so comments may name commands.

// cliPackages are the packages whose job is that wording (and the ones
// only tests use): everything else under internal/ is a library here.
var cliPackages = []string{
	"internal/cli", "internal/hostcli", "internal/sandboxcli", "internal/authkeyscli",
	"internal/testutil", "internal/testtool", "internal/archtest",
}

// jitsshCommand matches "jitssh SUB" for jitssh's subcommands, and
// jitsshFlag the long flags of its command tree (both from cliNames). A
// flag after an AWS CLI command in the same literal ("aws sso login
// --profile P") is the AWS CLI's, not ours.
var jitsshCommand, jitsshFlag = func() (*regexp.Regexp, *regexp.Regexp) {
	commands, flags := cliNames()
	return regexp.MustCompile(`\bjitssh (` + alternation(commands) + `)\b`),
		regexp.MustCompile(`(^|[^A-Za-z0-9-])--(` + alternation(flags) + `)([^A-Za-z0-9-]|$)`)
}()

var awsCommand = regexp.MustCompile(`\baws [a-z]`)

// wordingAllowed are literals that must name a command or flag, with the
// reason: "path:literal prefix" → why.
var wordingAllowed = map[string]string{
	// The markers of the managed block in ~/.ssh/config are matched
	// exactly on uninstall: changing their text strands installed blocks.
	"internal/openssh/sshconfig/sshconfig.go: (managed by `jitssh config install`": "exact marker of installed ssh configs",
	// The file the block includes: a comment for whoever opens it.
	"internal/openssh/sshconfig/sshconfig.go:# Written by `jitssh config install`": "header of a generated file, not an error",
	// The header of the names file, for whoever opens it.
	"internal/openssh/knownhosts/names.go:# ssh host name -> instance id, written by `jitssh proxy`": "header of a generated file, not an error",
	// "jitssh config" here is the configuration file, not the command.
	"internal/clientconf/clientconf.go:read jitssh config: ": "names the file, not the command",
	// The KnownHostsCommand the block installs is a command line of ours.
	"internal/openssh/sshconfig/sshconfig.go: known-hosts lookup --reason=%I": "the command line ssh runs",
	// So is the ProxyCommand's proxy --scope NAME.
	"internal/openssh/sshconfig/windows.go: --scope ": "the command line ssh runs",
}

// wordingProblems lists the string literals of non-test Go files of the
// library packages under root/internal that name a jitssh command or flag.
func wordingProblems(root string) ([]string, error) {
	var problems []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			for _, c := range cliPackages {
				if under(rel, c) {
					return filepath.SkipDir
				}
			}
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		problems = append(problems, paragraphProblems(fset, rel, f)...)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			if what := namesOurs(s); what != "" && !allowedLiteral(rel, s) {
				problems = append(problems, fmt.Sprintf("%s: %s in %q", fset.Position(lit.Pos()), what, s))
			}
			return true
		})
		return nil
	})
	sort.Strings(problems)
	return problems, err
}

// sentences matches the break between two sentences.
var sentences = regexp.MustCompile(`[.!?] [A-Z]`)

// paragraphAllowed are Error methods ("path:Type") that may return more
// than one line or sentence, with the reason.
var paragraphAllowed = map[string]string{
	"internal/targets/target.go:AmbiguousError": "the matching instances as a table, one a line: the user picks from it",
}

// paragraphProblems lists the string literals of the Error methods in f
// that make them more than one line ("\n") or sentence: an Error says
// what happened and why on one line; advice goes in a field or method of
// its own that the command line prints.
func paragraphProblems(fset *token.FileSet, rel string, f *ast.File) []string {
	var problems []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "Error" || fn.Recv == nil || fn.Body == nil || fn.Type.Params.NumFields() != 0 {
			continue
		}
		recv := fn.Recv.List[0].Type
		if st, ok := recv.(*ast.StarExpr); ok {
			recv = st.X
		}
		id, ok := recv.(*ast.Ident)
		if !ok || paragraphAllowed[rel+":"+id.Name] != "" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && (strings.Contains(s, "\n") || sentences.MatchString(s)) {
				problems = append(problems, fmt.Sprintf("%s: %s.Error is more than one line or sentence: %q", fset.Position(lit.Pos()), id.Name, s))
			}
			return true
		})
	}
	return problems
}

// namesOurs returns the command or flag of jitssh's that s names, or "".
func namesOurs(s string) string {
	if m := jitsshCommand.FindString(s); m != "" {
		return m
	}
	for _, loc := range jitsshFlag.FindAllStringSubmatchIndex(s, -1) {
		if awsCommand.MatchString(clause(s[:loc[0]])) {
			continue
		}
		return "--" + s[loc[4]:loc[5]]
	}
	return ""
}

// clause is the end of s after its last clause break, where a command
// line written in a sentence starts.
func clause(s string) string {
	for _, sep := range []string{";", ":", ",", "("} {
		if i := strings.LastIndex(s, sep); i >= 0 {
			s = s[i+len(sep):]
		}
	}
	return s
}

func allowedLiteral(rel, s string) bool {
	for k := range wordingAllowed {
		path, prefix, _ := strings.Cut(k, ":")
		if path == rel && strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestLibrariesNameNoCommandOrFlag: what to run is the CLI's to say, and
// an Error is one line.
func TestLibrariesNameNoCommandOrFlag(t *testing.T) {
	problems, err := wordingProblems(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: a library's text names a jitssh command or flag; return a typed error and add the wording in internal/cli (advise)", p)
	}
}

// TestWordingCatchesPlantedLiterals: the check fails on a library literal
// naming a command or a flag, and on an Error method's paragraph; not on
// comments, the CLI, tests, the AWS CLI's own flags or other methods.
func TestWordingCatchesPlantedLiterals(t *testing.T) {
	root := t.TempDir()
	plant := func(rel, src string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plant("internal/lib/a.go", "package lib\n\n// Run `jitssh doctor` or pass --via.\nvar A = \"run `jitssh doctor \" + \"x\"\n")
	plant("internal/lib/b.go", "package lib\n\nvar B = `use --transport ssm`\n")
	plant("internal/lib/c.go", "package lib\n\nvar C = \"run aws sso login --profile p; --user-tag\"\n")
	plant("internal/lib/ok.go", "package lib\n\n// `jitssh ssh --via J`\nvar OK = \"aws sso login --profile p\" + \"--config x\" + \"jitssh-host users\"\n")
	plant("internal/lib/e.go", "package lib\n\ntype E struct{}\n\nfunc (e *E) Error() string { return \"it failed. Try again\" + \"\\n  or not\" }\n\nfunc (e *E) Advice() string { return \"one. Two\\n\" }\n")
	plant("internal/lib/a_test.go", "package lib\n\nvar T = \"jitssh ls --region r\"\n")
	plant("internal/cli/cli.go", "package cli\n\nvar X = \"jitssh ls --region r\"\n")
	got, err := wordingProblems(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.go:4:9: jitssh doctor", "b.go:3:9: --transport", "c.go:3:9: --user-tag", "e.go:5:37: E.Error is more than one line", "e.go:5:62: E.Error is more than one line"}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d: %q", len(got), len(want), got)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
		}
	}
}
