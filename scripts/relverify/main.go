// Command relverify checks what a release directory (scripts/release's
// output) holds; scripts/release-check runs it on the first of its two
// builds, whose bytes it compares with the second's.
//
//	go run ./scripts/relverify -version V [-commit HASH] DIR
//
// It fails unless:
//
//   - SHA256SUMS lists every other file of DIR, once, each with its hash;
//   - every archive and package of the release is there, and nothing
//     else: jitssh for darwin, linux and windows (amd64, arm64),
//     jitssh-host for linux (amd64, arm64), the deb and rpm of both;
//   - each archive holds its binaries (mode 0755), README.md and LICENSE
//     (0644) under NAME/, and nothing else;
//   - each binary is an executable of its platform (ELF, Mach-O or PE of
//     the archive's OS and architecture; a Windows console program),
//     built from the right command with -trimpath, CGO_ENABLED=0 and no
//     Go build id, and, for jitssh and jitssh-host, with the version (and
//     commit) stamped into internal/buildinfo, read from the binary's
//     symbols as `--version` would print it;
//   - each deb's control file and each rpm's header name the package, the
//     version and the architecture, and their payload holds in /usr/bin
//     the same binaries, byte for byte, as the linux archive of that
//     architecture.
//
// Every problem is reported, not just the first; the exit status is 1 if
// there is any.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// module is the module whose commands the release holds.
const module = "github.com/jitssh/jitssh"

// The platforms of the release, as scripts/release builds them by default
// and docs/platforms.md lists them.
var (
	clientPlatforms = []platform{{"darwin", "amd64"}, {"darwin", "arm64"}, {"linux", "amd64"}, {"linux", "arm64"}, {"windows", "amd64"}, {"windows", "arm64"}}
	hostPlatforms   = []platform{{"linux", "amd64"}, {"linux", "arm64"}}
)

func main() {
	version := flag.String("version", "", "the version the release was built with (scripts/release's VERSION)")
	commit := flag.String("commit", "", "the commit stamped into the binaries, if it is to be checked")
	flag.Parse()
	if *version == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: relverify -version V [-commit HASH] DIR")
		os.Exit(2)
	}
	s := spec{version: *version, commit: *commit, module: module, client: clientPlatforms, host: hostPlatforms}
	problems := verify(flag.Arg(0), s)
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "relverify:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "relverify: %s: %d files as expected\n", flag.Arg(0), len(expected(s))+1)
}

// spec is what the release should be.
type spec struct {
	version string
	commit  string // "": not checked
	module  string // the commands are module/cmd/NAME
	client  []platform
	host    []platform
}

// platform is a GOOS and GOARCH.
type platform struct{ os, arch string }

func (p platform) String() string { return p.os + "/" + p.arch }

// kind is what sort of file an artifact is.
type kind int

const (
	archive kind = iota // .tar.gz or .zip
	deb
	rpm
)

// artifact is one file of the release.
type artifact struct {
	name string
	kind kind
	plat platform
	pkg  string   // jitssh or jitssh-host: the archive's or package's name
	cmds []string // the commands it holds (without .exe)
}

// what says what a is, for messages.
func (a artifact) what() string {
	switch a.kind {
	case deb:
		return "deb for " + a.plat.arch
	case rpm:
		return "rpm for " + a.plat.arch
	}
	return "archive for " + a.plat.String()
}

// rpmArch is rpm's name of a Go architecture.
var rpmArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}

// expected lists the release's files but SHA256SUMS, as scripts/release
// names them: every archive before the packages.
func expected(s spec) []artifact {
	var arcs, pkgs []artifact
	add := func(pkg string, cmds []string, plats []platform) {
		for _, p := range plats {
			ext := ".tar.gz"
			if p.os == "windows" {
				ext = ".zip"
			}
			arcs = append(arcs, artifact{name: fmt.Sprintf("%s_%s_%s_%s%s", pkg, s.version, p.os, p.arch, ext), kind: archive, plat: p, pkg: pkg, cmds: cmds})
			if p.os != "linux" {
				continue
			}
			pkgs = append(pkgs,
				artifact{name: fmt.Sprintf("%s_%s_%s.deb", pkg, s.version, p.arch), kind: deb, plat: p, pkg: pkg, cmds: cmds},
				artifact{name: fmt.Sprintf("%s-%s-1.%s.rpm", pkg, s.version, rpmArch[p.arch]), kind: rpm, plat: p, pkg: pkg, cmds: cmds})
		}
	}
	add("jitssh", []string{"jitssh"}, s.client)
	add("jitssh-host", []string{"jitssh-host", "jitssh-authkeys"}, s.host)
	return append(arcs, pkgs...)
}

// verify returns every way dir differs from the release s describes.
func verify(dir string, s spec) []string {
	var problems []string
	problems = append(problems, checkSums(dir)...)
	want := expected(s)
	names := map[string]bool{"SHA256SUMS": true}
	for _, a := range want {
		names[a.name] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return append(problems, err.Error())
	}
	for _, e := range entries {
		if !names[e.Name()] {
			problems = append(problems, fmt.Sprintf("%s: not a file of the release", e.Name()))
		}
	}
	// The binaries of the linux archives, by platform and command, for
	// the packages to hold the same.
	bins := map[string][32]byte{}
	for _, a := range want {
		if _, err := os.Stat(filepath.Join(dir, a.name)); errors.Is(err, fs.ErrNotExist) {
			problems = append(problems, fmt.Sprintf("%s: missing (the %s %s)", a.name, a.pkg, a.what()))
			continue
		}
		var errs []error
		switch a.kind {
		case archive:
			errs = checkArchive(filepath.Join(dir, a.name), a, s, bins)
		case deb:
			errs = checkDeb(filepath.Join(dir, a.name), a, s, bins)
		case rpm:
			errs = checkRPM(filepath.Join(dir, a.name), a, s, bins)
		}
		for _, err := range errs {
			problems = append(problems, fmt.Sprintf("%s: %v", a.name, err))
		}
	}
	return problems
}

// sumLine is one line of sha256sum(1)'s output: the hash, then a space
// and a space (text) or a star (binary), then the name.
var sumLine = regexp.MustCompile(`^([0-9a-f]{64}) [ *](.+)$`)

// checkSums checks that dir's SHA256SUMS lists every other file of dir
// once with its SHA-256, and nothing else.
func checkSums(dir string) []string {
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var problems []string
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		m := sumLine.FindStringSubmatch(sc.Text())
		switch {
		case m == nil:
			problems = append(problems, fmt.Sprintf("SHA256SUMS line %d: not a sha256sum line: %q", n, sc.Text()))
			continue
		case m[2] != filepath.Base(m[2]) || m[2] == "SHA256SUMS":
			problems = append(problems, fmt.Sprintf("SHA256SUMS line %d: %q is not another file of the release", n, m[2]))
			continue
		case listed[m[2]]:
			problems = append(problems, fmt.Sprintf("SHA256SUMS line %d: %s listed again", n, m[2]))
			continue
		}
		listed[m[2]] = true
		got, err := fileSum(filepath.Join(dir, m[2]))
		if err != nil {
			problems = append(problems, fmt.Sprintf("SHA256SUMS lists %s: %v", m[2], err))
		} else if got != m[1] {
			problems = append(problems, fmt.Sprintf("%s: SHA-256 %s, SHA256SUMS says %s", m[2], got, m[1]))
		}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, fmt.Sprintf("read SHA256SUMS: %v", err))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return append(problems, err.Error())
	}
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" && !listed[e.Name()] {
			problems = append(problems, fmt.Sprintf("%s: not in SHA256SUMS", e.Name()))
		}
	}
	return problems
}

// fileSum is the hex SHA-256 of the regular file name.
func fileSum(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", errors.New("not a regular file")
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// exeName is cmd's file name on os.
func exeName(cmd, os string) string {
	if os == "windows" {
		return cmd + ".exe"
	}
	return cmd
}

// binKey keys bins: a command's binary for a platform.
func binKey(p platform, cmd string) string { return p.String() + " " + cmd }
