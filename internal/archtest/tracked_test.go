package archtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxTracked is the largest file git may track outside a testdata
// directory.
const maxTracked = 1 << 20

// binaryMagic are the first bytes of compiled programs and objects: ELF,
// Mach-O (32/64 bit, both byte orders, and universal), PE (the MZ stub).
var binaryMagic = []struct {
	name  string
	magic []byte
}{
	{"ELF", []byte("\x7fELF")},
	{"Mach-O", []byte{0xfe, 0xed, 0xfa, 0xce}},
	{"Mach-O", []byte{0xce, 0xfa, 0xed, 0xfe}},
	{"Mach-O", []byte{0xfe, 0xed, 0xfa, 0xcf}},
	{"Mach-O", []byte{0xcf, 0xfa, 0xed, 0xfe}},
	{"Mach-O universal", []byte{0xca, 0xfe, 0xba, 0xbe}},
	{"PE", []byte("MZ")},
}

func inTestdata(path string) bool {
	for _, part := range strings.Split(filepath.ToSlash(path), "/") {
		if part == "testdata" {
			return true
		}
	}
	return false
}

// trackedProblems lists the files git tracks in the work tree at root
// that are compiled binaries (anywhere) or larger than maxTracked
// (outside testdata).
func trackedProblems(root string) ([]string, error) {
	cmd := exec.Command("git", "-C", root, "ls-files", "-z", "--cached")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %v: %s", root, err, stderr.Bytes())
	}
	var problems []string
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		path := filepath.Join(root, name)
		fi, err := os.Lstat(path)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		if fi.Size() > maxTracked && !inTestdata(name) {
			problems = append(problems, fmt.Sprintf("%s: %d bytes, over the 1 MB allowed outside testdata", name, fi.Size()))
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		head := make([]byte, 4)
		n, _ := io.ReadFull(f, head)
		f.Close()
		for _, m := range binaryMagic {
			if n >= len(m.magic) && bytes.Equal(head[:len(m.magic)], m.magic) {
				problems = append(problems, fmt.Sprintf("%s: a compiled binary (%s): build it, do not commit it", name, m.name))
				break
			}
		}
	}
	return problems, nil
}

// TestNoTrackedBinaries: git tracks no compiled binary and nothing over
// 1 MB outside testdata (a 12 MB test binary was once committed).
func TestNoTrackedBinaries(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git not found: the tracked-files check needs it")
	}
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		// A source tree without git (an unpacked release) tracks nothing.
		t.Skipf("%s is not a git work tree", root)
	}
	problems, err := trackedProblems(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestTrackedProblemsFindsPlanted commits binaries and a large file into
// a temporary git repository and checks each is reported, and that what
// is allowed is not.
func TestTrackedProblemsFindsPlanted(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git not found: the tracked-files check needs it")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	write := func(name string, b []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.ReadFile(os.Args[0]) // this test binary: the real thing
	if err != nil {
		t.Fatal(err)
	}
	git("init", "-q")
	write("ok.go", []byte("package ok\n"))
	write("cmd/x/x.test", self[:4096])
	write("tool.exe", append([]byte("MZ\x90\x00"), make([]byte, 100)...))
	write("lib.dylib", append([]byte{0xcf, 0xfa, 0xed, 0xfe}, make([]byte, 100)...))
	write("big.txt", bytes.Repeat([]byte("x"), maxTracked+1))
	write("internal/p/testdata/corpus.txt", bytes.Repeat([]byte("y"), maxTracked+1))
	write("exactly1mb.txt", bytes.Repeat([]byte("z"), maxTracked))
	write("untracked.bin", self[:4096])
	git("add", "ok.go", "cmd/x/x.test", "tool.exe", "lib.dylib", "big.txt", "internal/p/testdata/corpus.txt", "exactly1mb.txt")
	git("commit", "-q", "-m", "plant")

	problems, err := trackedProblems(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(problems, "\n")
	for _, want := range []string{
		"cmd/x/x.test: a compiled binary (ELF)",
		"tool.exe: a compiled binary (PE)",
		"lib.dylib: a compiled binary (Mach-O)",
		"big.txt: 1048577 bytes",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("not reported: %q; got:\n%s", want, got)
		}
	}
	if len(problems) != 4 {
		t.Errorf("%d problems, want 4 (testdata, exactly 1 MB and untracked files are allowed):\n%s", len(problems), got)
	}
}
