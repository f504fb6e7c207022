package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The synthetic release of these tests: tiny commands of a module of
// their own, for fewer platforms than the real release, built as
// scripts/release builds.
const (
	testModule  = "example.com/rel"
	testVersion = "1.2.3+git4.gabc1234"
	testCommit  = "abc1234def5678abc1234def5678abc1234def56"
)

var testSpec = spec{
	version: testVersion, commit: testCommit, module: testModule,
	client: []platform{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "arm64"}, {"windows", "amd64"}},
	host:   []platform{{"linux", "amd64"}, {"linux", "arm64"}},
}

// The module's sources: two commands report the stamped version, as
// jitssh and jitssh-host do; jitssh-authkeys does not link it.
var testSources = map[string]string{
	"go.mod":                        "module " + testModule + "\n\ngo 1.22\n",
	"internal/buildinfo/version.go": "package buildinfo\n\nvar version, commit string\n\nfunc Text() string { return version + \" \" + commit + \"\\n\" }\n",
	"cmd/jitssh/main.go":            "package main\n\nimport (\n\t\"os\"\n\n\t\"" + testModule + "/internal/buildinfo\"\n)\n\nfunc main() { os.Stdout.WriteString(buildinfo.Text()) }\n",
	"cmd/jitssh-host/main.go":       "package main\n\nimport (\n\t\"os\"\n\n\t\"" + testModule + "/internal/buildinfo\"\n)\n\nfunc main() { os.Stdout.WriteString(\"host \" + buildinfo.Text()) }\n",
	"cmd/jitssh-authkeys/main.go":   "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(0) }\n",
}

// built holds the test binaries by "os/arch cmd"; "plain cmd": a
// linux/amd64 build with none of the release's flags; "buildid os/arch
// cmd": the release's flags but for a build id.
var (
	buildOnce sync.Once
	built     map[string][]byte
	buildErr  error
)

// binaries builds the test commands once for every platform of testSpec.
func binaries(t *testing.T) map[string][]byte {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = buildAll() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func buildAll() (map[string][]byte, error) {
	src, err := os.MkdirTemp("", "relverify-test")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(src)
	for name, text := range testSources {
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	bi := testModule + "/internal/buildinfo."
	release := []string{"-trimpath", "-ldflags", "-buildid= -X " + bi + "version=" + testVersion + " -X " + bi + "commit=" + testCommit}
	bins := map[string][]byte{}
	plats := slices.Concat(testSpec.client, testSpec.host)
	slices.SortFunc(plats, func(a, b platform) int { return strings.Compare(a.String(), b.String()) })
	for _, p := range slices.Compact(plats) {
		if err := goBuild(src, p, release, p.String(), bins); err != nil {
			return nil, err
		}
	}
	if err := goBuild(src, platform{"linux", "amd64"}, nil, "plain", bins); err != nil {
		return nil, err
	}
	// As the release, but with a build id.
	withID := slices.Clone(release)
	withID[2] = strings.Replace(withID[2], "-buildid=", "-buildid=abcdefghij/klmnopqrst", 1)
	for _, p := range []platform{{"linux", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}} {
		if err := goBuild(src, p, withID, "buildid "+p.String(), bins); err != nil {
			return nil, err
		}
	}
	return bins, nil
}

// goBuild builds the three commands for p with flags into bins, keyed
// "key cmd".
func goBuild(src string, p platform, flags []string, key string, bins map[string][]byte) error {
	out := filepath.Join(src, "out", strings.ReplaceAll(key, "/", "_"))
	args := append([]string{"build", "-o", out + "/"}, flags...)
	cmd := exec.Command("go", append(args, "./cmd/...")...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS="+p.os, "GOARCH="+p.arch, "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off", "GO111MODULE=on")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build for %s: %v\n%s", p, err, b)
	}
	for _, c := range []string{"jitssh", "jitssh-host", "jitssh-authkeys"} {
		b, err := os.ReadFile(filepath.Join(out, exeName(c, p.os)))
		if err != nil {
			return err
		}
		bins[key+" "+c] = b
	}
	return nil
}

// entry is a file to put in a test archive or package.
type entry struct {
	name string
	mode int64
	data []byte
}

func makeTarGz(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeZip(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := os.FileMode(e.mode)
		if strings.HasSuffix(e.name, "/") {
			mode |= os.ModeDir
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// archiveEntries is what scripts/release puts in a's archive, with the
// binaries bin gives.
func archiveEntries(a artifact, bin func(cmd string) []byte) []entry {
	prefix := strings.TrimSuffix(strings.TrimSuffix(a.name, ".zip"), ".tar.gz") + "/"
	entries := []entry{{name: prefix, mode: 0o755}}
	for _, c := range a.cmds {
		entries = append(entries, entry{prefix + exeName(c, a.plat.os), 0o755, bin(c)})
	}
	return append(entries, entry{prefix + "README.md", 0o644, []byte("# jitssh\n")}, entry{prefix + "LICENSE", 0o644, []byte("Apache-2.0\n")})
}

func makeArchive(t *testing.T, a artifact, entries []entry) []byte {
	if a.plat.os == "windows" {
		return makeZip(t, entries)
	}
	return makeTarGz(t, entries)
}

// payloadEntries is a package's files: its binaries in /usr/bin and a
// copyright file ("./"-relative, as in a deb's data.tar).
func payloadEntries(a artifact, bin func(cmd string) []byte) []entry {
	entries := []entry{{"./usr/", 0o755, nil}, {"./usr/bin/", 0o755, nil}}
	for _, c := range a.cmds {
		entries = append(entries, entry{"./usr/bin/" + c, 0o755, bin(c)})
	}
	return append(entries, entry{"./usr/share/doc/" + a.pkg + "/copyright", 0o644, []byte("copyright\n")})
}

// makeDeb is a .deb: ar members debian-binary, control.tar.gz (control
// with fields) and data.tar.gz (payload).
func makeDeb(t *testing.T, fields map[string]string, payload []entry) []byte {
	var control strings.Builder
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		fmt.Fprintf(&control, "%s: %s\n", k, fields[k])
	}
	control.WriteString("Description: a test\n more of it: not a field\n")
	var buf bytes.Buffer
	buf.WriteString("!<arch>\n")
	for _, m := range []arMember{
		{"debian-binary", []byte("2.0\n")},
		{"control.tar.gz", makeTarGz(t, []entry{{"./control", 0o644, []byte(control.String())}})},
		{"data.tar.gz", makeTarGz(t, payload)},
	} {
		fmt.Fprintf(&buf, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", m.name, 0, 0, 0, 0o100644, len(m.data))
		buf.Write(m.data)
		if len(m.data)%2 == 1 {
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

func debFieldsOf(a artifact) map[string]string {
	return map[string]string{"Package": a.pkg, "Version": testVersion, "Architecture": a.plat.arch}
}

// makeRPM is an .rpm: a lead, an empty signature, a header with the
// string tags given, and a gzip-compressed cpio payload.
func makeRPM(t *testing.T, tags map[uint32]string, payload []entry) []byte {
	var buf bytes.Buffer
	lead := make([]byte, 96)
	copy(lead, []byte{0xed, 0xab, 0xee, 0xdb, 3, 0})
	buf.Write(lead)
	header := func(tags map[uint32]string) {
		var index, store bytes.Buffer
		for _, tag := range slices.Sorted(maps.Keys(tags)) {
			for _, v := range []uint32{tag, 6, uint32(store.Len()), 1} {
				binary.Write(&index, binary.BigEndian, v)
			}
			store.WriteString(tags[tag] + "\x00")
		}
		buf.Write([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0})
		binary.Write(&buf, binary.BigEndian, uint32(len(tags)))
		binary.Write(&buf, binary.BigEndian, uint32(store.Len()))
		buf.Write(index.Bytes())
		buf.Write(store.Bytes())
	}
	header(nil)
	for buf.Len()%8 != 0 {
		buf.WriteByte(0)
	}
	header(tags)
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	var cpio bytes.Buffer
	for i, e := range append(payload, entry{"TRAILER!!!", 0, nil}) {
		name := strings.TrimSuffix(strings.TrimPrefix(e.name, "."), "/")
		mode := 0o100000 | e.mode
		if strings.HasSuffix(e.name, "/") {
			mode = 0o040000 | e.mode
		}
		if e.name == "TRAILER!!!" {
			mode = 0
		}
		fmt.Fprintf(&cpio, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", i+1, mode, 0, 0, 1, 0, len(e.data), 0, 0, 0, 0, len(name)+1, 0)
		cpio.WriteString(name + "\x00")
		for cpio.Len()%4 != 0 {
			cpio.WriteByte(0)
		}
		cpio.Write(e.data)
		for cpio.Len()%4 != 0 {
			cpio.WriteByte(0)
		}
	}
	zw.Write(cpio.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rpmTagsOf(a artifact) map[uint32]string {
	return map[uint32]string{rpmTagName: a.pkg, rpmTagVersion: testVersion, rpmTagRelease: "1", rpmTagArch: rpmArch[a.plat.arch], rpmTagPayloadFormat: "cpio", rpmTagPayloadCompressor: "gzip"}
}

// makeArtifact is a's bytes as scripts/release makes them, with the
// binaries bin gives.
func makeArtifact(t *testing.T, a artifact, bin func(cmd string) []byte) []byte {
	switch a.kind {
	case deb:
		return makeDeb(t, debFieldsOf(a), payloadEntries(a, bin))
	case rpm:
		return makeRPM(t, rpmTagsOf(a), payloadEntries(a, bin))
	}
	return makeArchive(t, a, archiveEntries(a, bin))
}

// releaseBin is the binary of cmd for a in the good release.
func releaseBin(t *testing.T, a artifact) func(cmd string) []byte {
	bins := binaries(t)
	return func(cmd string) []byte { return bins[a.plat.String()+" "+cmd] }
}

// good is testSpec's release, made once.
var good map[string][]byte

// goodRelease is testSpec's release, file name to bytes, but SHA256SUMS:
// a copy to change by replacing files.
func goodRelease(t *testing.T) map[string][]byte {
	if good == nil {
		files := map[string][]byte{}
		for _, a := range expected(testSpec) {
			files[a.name] = makeArtifact(t, a, releaseBin(t, a))
		}
		good = files
	}
	return maps.Clone(good)
}

// sums is sha256sum(1)'s output for files.
func sums(files map[string][]byte) []byte {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(files)) {
		h := sha256.Sum256(files[n])
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h[:]), n)
	}
	return []byte(b.String())
}

// writeDir writes files into a new directory.
func writeDir(t *testing.T, files map[string][]byte) string {
	dir := t.TempDir()
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// artifactOf is the artifact of testSpec's release named by the
// platform and kind.
func artifactOf(t *testing.T, pkg string, p platform, k kind) artifact {
	for _, a := range expected(testSpec) {
		if a.pkg == pkg && a.plat == p && a.kind == k {
			return a
		}
	}
	t.Fatalf("no %s %v %v in the release", pkg, p, k)
	return artifact{}
}

// withSums sets files' SHA256SUMS to the sums of the other files.
func withSums(files map[string][]byte) {
	delete(files, "SHA256SUMS")
	files["SHA256SUMS"] = sums(files)
}

// put replaces (or adds) a file and SHA256SUMS with it; drop removes one.
func put(files map[string][]byte, name string, data []byte) {
	files[name] = data
	withSums(files)
}

func drop(files map[string][]byte, name string) {
	delete(files, name)
	withSums(files)
}

// The release as scripts/release makes it passes.
func TestGoodRelease(t *testing.T) {
	files := goodRelease(t)
	withSums(files)
	if problems := verify(writeDir(t, files), testSpec); len(problems) > 0 {
		t.Fatalf("a good release has problems:\n%s", strings.Join(problems, "\n"))
	}
}

// Each way a release can go wrong is reported, by file, and nothing
// else is.
func TestBadReleases(t *testing.T) {
	la, l64, da, wa := platform{"linux", "amd64"}, platform{"linux", "arm64"}, platform{"darwin", "arm64"}, platform{"windows", "amd64"}
	bins := binaries(t)
	// with is a's file made with cmd's binary replaced by b.
	with := func(a artifact, cmd string, b []byte) []byte {
		good := releaseBin(t, a)
		return makeArtifact(t, a, func(c string) []byte {
			if c == cmd {
				return b
			}
			return good(c)
		})
	}
	for _, c := range []struct {
		name   string
		change func(files map[string][]byte)
		want   []string // each in one problem, in any order
	}{
		{"a tampered checksum", func(files map[string][]byte) {
			a := artifactOf(t, "jitssh", da, archive)
			h := sha256.Sum256(files[a.name])
			files["SHA256SUMS"] = bytes.Replace(files["SHA256SUMS"], []byte(hex.EncodeToString(h[:])), []byte(strings.Repeat("0", 64)), 1)
		}, []string{"jitssh_1.2.3+git4.gabc1234_darwin_arm64.tar.gz: SHA-256 "}},
		{"a file left out of SHA256SUMS", func(files map[string][]byte) {
			name := artifactOf(t, "jitssh-host", l64, deb).name
			lines := strings.SplitAfter(string(files["SHA256SUMS"]), "\n")
			files["SHA256SUMS"] = []byte(strings.Join(slices.DeleteFunc(lines, func(l string) bool { return strings.HasSuffix(l, " "+name+"\n") }), ""))
		}, []string{"jitssh-host_1.2.3+git4.gabc1234_arm64.deb: not in SHA256SUMS"}},
		{"SHA256SUMS lists a file that is not there, a line twice and a line that is not a sum", func(files map[string][]byte) {
			first, _, _ := bytes.Cut(files["SHA256SUMS"], []byte("\n"))
			files["SHA256SUMS"] = fmt.Appendf(files["SHA256SUMS"], "%s  jitssh_1.0_plan9_386.tar.gz\n%s\nsha256 of it all\n", strings.Repeat("a", 64), first)
		}, []string{"SHA256SUMS lists jitssh_1.0_plan9_386.tar.gz: ", "listed again", `not a sha256sum line: "sha256 of it all"`}},
		{"a missing archive", func(files map[string][]byte) {
			drop(files, artifactOf(t, "jitssh", da, archive).name)
		}, []string{"jitssh_1.2.3+git4.gabc1234_darwin_arm64.tar.gz: missing (the jitssh archive for darwin/arm64)"}},
		{"a missing rpm", func(files map[string][]byte) {
			drop(files, artifactOf(t, "jitssh-host", l64, rpm).name)
		}, []string{"jitssh-host-1.2.3+git4.gabc1234-1.aarch64.rpm: missing (the jitssh-host rpm for arm64)"}},
		{"a file the release does not have", func(files map[string][]byte) {
			put(files, "jitssh_1.2.3+git4.gabc1234_freebsd_amd64.tar.gz", files[artifactOf(t, "jitssh", la, archive).name])
		}, []string{"jitssh_1.2.3+git4.gabc1234_freebsd_amd64.tar.gz: not a file of the release"}},
		{"the arm64 binary in the amd64 archive (which the packages then differ from)", func(files map[string][]byte) {
			a := artifactOf(t, "jitssh", la, archive)
			put(files, a.name, with(a, "jitssh", bins["linux/arm64 jitssh"]))
		}, []string{
			"jitssh_1.2.3+git4.gabc1234_linux_amd64.tar.gz: jitssh_1.2.3+git4.gabc1234_linux_amd64/jitssh: ELF for EM_AARCH64 (ELFCLASS64), not linux/amd64",
			"jitssh_1.2.3+git4.gabc1234_amd64.deb: /usr/bin/jitssh differs from the linux/amd64 archive's jitssh",
			"jitssh-1.2.3+git4.gabc1234-1.x86_64.rpm: /usr/bin/jitssh differs from the linux/amd64 archive's jitssh",
		}},
		{"a Linux binary in the Windows archive", func(files map[string][]byte) {
			a := artifactOf(t, "jitssh", wa, archive)
			put(files, a.name, with(a, "jitssh", bins["linux/amd64 jitssh"]))
		}, []string{"_windows_amd64/jitssh.exe: not a PE file, as a windows/amd64 binary is"}},
		{"a Windows binary in the macOS archive", func(files map[string][]byte) {
			a := artifactOf(t, "jitssh", da, archive)
			put(files, a.name, with(a, "jitssh", bins["windows/amd64 jitssh"]))
		}, []string{"_darwin_arm64/jitssh: not a Mach-O file, as a darwin/arm64 binary is"}},
		{"jitssh-host as the Windows archive's jitssh.exe", func(files map[string][]byte) {
			a := artifactOf(t, "jitssh", wa, archive)
			put(files, a.name, with(a, "jitssh", bins["windows/amd64 jitssh-host"]))
		}, []string{`_windows_amd64/jitssh.exe: built from "example.com/rel/cmd/jitssh-host", not example.com/rel/cmd/jitssh`}},
		{"a plain go build of jitssh-host in its archive", func(files map[string][]byte) {
			a := artifactOf(t, "jitssh-host", la, archive)
			put(files, a.name, with(a, "jitssh-host", bins["plain jitssh-host"]))
		}, []string{
			`linux_amd64/jitssh-host: built with -trimpath="", want "true"`,
			"linux_amd64/jitssh-host: has a Go build id",
			"linux_amd64/jitssh-host: example.com/rel/internal/buildinfo.version: not set",
			"linux_amd64/jitssh-host: example.com/rel/internal/buildinfo.commit: not set",
			"jitssh-host_1.2.3+git4.gabc1234_amd64.deb: /usr/bin/jitssh-host differs",
			"jitssh-host-1.2.3+git4.gabc1234-1.x86_64.rpm: /usr/bin/jitssh-host differs",
		}},
		{"an archive with a file too many, one missing, and a binary not executable", func(files map[string][]byte) {
			a := artifactOf(t, "jitssh", l64, archive)
			entries := archiveEntries(a, releaseBin(t, a))
			entries[1].mode = 0o644
			entries[len(entries)-1].name = strings.Replace(entries[len(entries)-1].name, "LICENSE", "jitssh.sig", 1)
			put(files, a.name, makeArchive(t, a, entries))
		}, []string{
			"linux_arm64.tar.gz: holds jitssh_1.2.3+git4.gabc1234_linux_arm64/jitssh.sig, which the release does not put there",
			"linux_arm64.tar.gz: no jitssh_1.2.3+git4.gabc1234_linux_arm64/LICENSE",
			"linux_arm64.tar.gz: jitssh_1.2.3+git4.gabc1234_linux_arm64/jitssh: mode -rw-r--r--, want a file with -rwxr-xr-x",
		}},
		{"a deb for the wrong architecture and one without its binary", func(files map[string][]byte) {
			a := artifactOf(t, "jitssh", la, deb)
			fields := debFieldsOf(a)
			fields["Architecture"] = "arm64"
			files[a.name] = makeDeb(t, fields, payloadEntries(a, releaseBin(t, a)))
			h := artifactOf(t, "jitssh-host", l64, deb)
			payload := slices.DeleteFunc(payloadEntries(h, releaseBin(t, h)), func(e entry) bool { return e.name == "./usr/bin/jitssh-authkeys" })
			put(files, h.name, makeDeb(t, debFieldsOf(h), payload))
		}, []string{
			`jitssh_1.2.3+git4.gabc1234_amd64.deb: control: Architecture "arm64", want "amd64"`,
			"jitssh-host_1.2.3+git4.gabc1234_arm64.deb: no /usr/bin/jitssh-authkeys",
		}},
		{"an rpm named for another architecture, and one holding the wrong one's binary", func(files map[string][]byte) {
			a := artifactOf(t, "jitssh", l64, rpm)
			tags := rpmTagsOf(a)
			tags[rpmTagArch] = "x86_64"
			files[a.name] = makeRPM(t, tags, payloadEntries(a, releaseBin(t, a)))
			h := artifactOf(t, "jitssh-host", la, rpm)
			put(files, h.name, with(h, "jitssh-host", bins["linux/arm64 jitssh-host"]))
		}, []string{
			`jitssh-1.2.3+git4.gabc1234-1.aarch64.rpm: header: arch "x86_64", want "aarch64"`,
			"jitssh-host-1.2.3+git4.gabc1234-1.x86_64.rpm: /usr/bin/jitssh-host: ELF for EM_AARCH64",
			"jitssh-host-1.2.3+git4.gabc1234-1.x86_64.rpm: /usr/bin/jitssh-host differs from the linux/amd64 archive's jitssh-host",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := goodRelease(t)
			withSums(files)
			c.change(files)
			problems := verify(writeDir(t, files), testSpec)
			unmatched := slices.Clone(problems)
			for _, w := range c.want {
				i := slices.IndexFunc(unmatched, func(p string) bool { return strings.Contains(p, w) })
				if i < 0 {
					t.Errorf("no problem says %q", w)
					continue
				}
				unmatched = slices.Delete(unmatched, i, i+1)
			}
			for _, p := range unmatched {
				t.Errorf("unexpected problem: %s", p)
			}
		})
	}
}

// The version and commit are read from every format's symbols: a build
// of jitssh for each platform has the stamped ones, and one expected
// with another version and commit is told apart.
func TestStampedVersionInEveryFormat(t *testing.T) {
	bins := binaries(t)
	for _, p := range testSpec.client {
		if errs := checkBinary(bins[p.String()+" jitssh"], "jitssh", p, testSpec); len(errs) > 0 {
			t.Errorf("%s: %v", p, errs)
		}
		other := testSpec
		other.version, other.commit = "1.2.4", strings.Repeat("f", 40)
		errs := checkBinary(bins[p.String()+" jitssh"], "jitssh", p, other)
		var msgs []string
		for _, err := range errs {
			msgs = append(msgs, err.Error())
		}
		want := []string{
			`example.com/rel/internal/buildinfo.version is "1.2.3+git4.gabc1234", want "1.2.4"`,
			`example.com/rel/internal/buildinfo.commit is "` + testCommit + `", want "ffff`,
		}
		if len(msgs) != 2 || !strings.Contains(msgs[0], want[0]) || !strings.Contains(msgs[1], want[1]) {
			t.Errorf("%s with another version and commit: %q, want %q", p, msgs, want)
		}
	}
}

// A Go build id is found in each format (scripts/release links with
// -buildid=: the id would hold a hash of the build's inputs).
func TestBuildIDInEveryFormat(t *testing.T) {
	bins := binaries(t)
	for _, p := range []platform{{"linux", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}} {
		errs := checkBinary(bins["buildid "+p.String()+" jitssh"], "jitssh", p, testSpec)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "has a Go build id") {
			t.Errorf("%s built with a build id: %v", p, errs)
		}
	}
}

// What `--version` prints is what relverify reads: the linux/amd64 test
// binary, run, prints the stamped version and commit.
func TestStampedVersionIsWhatTheBinaryPrints(t *testing.T) {
	here := platform{runtime.GOOS, runtime.GOARCH}
	bin, ok := binaries(t)[here.String()+" jitssh"]
	if !ok {
		t.Skipf("no test binary for %s, where this runs", here)
	}
	exe := filepath.Join(t.TempDir(), "jitssh")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := testVersion + " " + testCommit + "\n"; string(out) != want {
		t.Errorf("prints %q, want %q", out, want)
	}
}
