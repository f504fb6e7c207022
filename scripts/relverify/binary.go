package main

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// versioned is the commands with --version, which print what
// scripts/release stamps into internal/buildinfo (jitssh-authkeys, sshd's
// AuthorizedKeysCommand, has no flags and does not link it).
var versioned = map[string]bool{"jitssh": true, "jitssh-host": true}

// checkBinary returns what is wrong with data as the binary of cmd for p:
// its executable format and architecture, its Go build info, its build
// id (none) and, for a versioned command, the version (and commit)
// stamped in it.
func checkBinary(data []byte, cmd string, p platform, s spec) []error {
	img, err := openExecutable(data, p, s.module+"/internal/buildinfo.")
	if err != nil {
		return []error{err}
	}
	var errs []error
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		errs = append(errs, fmt.Errorf("no Go build info: %w", err))
	} else {
		errs = append(errs, checkBuildInfo(bi, cmd, p, s)...)
	}
	if img.buildID {
		errs = append(errs, errors.New("has a Go build id: not built with -ldflags -buildid="))
	}
	var want [][2]string
	if versioned[cmd] {
		want = append(want, [2]string{"version", s.version})
		if s.commit != "" {
			want = append(want, [2]string{"commit", s.commit})
		}
	}
	for _, w := range want {
		name := s.module + "/internal/buildinfo." + w[0]
		got, err := img.stringVar(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		} else if got != w[1] {
			errs = append(errs, fmt.Errorf("%s is %q, want %q (stamped with -ldflags -X)", name, got, w[1]))
		}
	}
	return errs
}

// checkBuildInfo checks that bi records a build of cmd for p as
// scripts/release builds: -trimpath and no cgo. (With -trimpath the
// toolchain records no -ldflags: checkBinary reads what they did.)
func checkBuildInfo(bi *debug.BuildInfo, cmd string, p platform, s spec) []error {
	var errs []error
	if want := s.module + "/cmd/" + cmd; bi.Path != want {
		errs = append(errs, fmt.Errorf("built from %q, not %s", bi.Path, want))
	}
	settings := map[string]string{}
	for _, st := range bi.Settings {
		settings[st.Key] = st.Value
	}
	for _, w := range [][2]string{{"GOOS", p.os}, {"GOARCH", p.arch}, {"-trimpath", "true"}, {"CGO_ENABLED", "0"}} {
		if got, ok := settings[w[0]]; !ok || got != w[1] {
			errs = append(errs, fmt.Errorf("built with %s=%q, want %q", w[0], got, w[1]))
		}
	}
	return errs
}

// image is what checkBinary reads of an executable beyond its headers:
// the bytes at its virtual addresses and the addresses of some symbols.
type image struct {
	sections []section
	symbols  map[string]uint64 // the symbols asked for, by name
	buildID  bool              // whether the linker recorded a Go build id
}

// section is a part of an image with bytes in the file.
type section struct {
	addr, size uint64
	r          io.ReaderAt
}

// read returns n bytes at virtual address addr.
func (img *image) read(addr, n uint64) ([]byte, error) {
	for _, s := range img.sections {
		if addr >= s.addr && addr-s.addr <= s.size && n <= s.size-(addr-s.addr) {
			b := make([]byte, n)
			if _, err := s.r.ReadAt(b, int64(addr-s.addr)); err != nil {
				return nil, fmt.Errorf("read %d bytes at %#x: %w", n, addr, err)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("no bytes in the file at %#x", addr)
}

// stringVar is the value of the Go string variable name: its header
// (pointer, length; 64-bit little-endian on every platform released)
// and the bytes it points to. A variable that was never set is in a
// section without bytes in the file: that is an error.
func (img *image) stringVar(name string) (string, error) {
	addr, ok := img.symbols[name]
	if !ok {
		return "", errors.New("no such symbol")
	}
	h, err := img.read(addr, 16)
	if err != nil {
		return "", fmt.Errorf("not set (%w)", err)
	}
	ptr, n := binary.LittleEndian.Uint64(h), binary.LittleEndian.Uint64(h[8:])
	if n == 0 {
		return "", nil
	}
	if n > 1<<12 {
		return "", fmt.Errorf("a string of %d bytes", n)
	}
	b, err := img.read(ptr, n)
	return string(b), err
}

// openExecutable checks that data is an executable (not an object file
// or library) for p's OS and architecture, and reads its sections and
// the symbols named with prefix.
func openExecutable(data []byte, p platform, prefix string) (*image, error) {
	r := bytes.NewReader(data)
	switch p.os {
	case "linux":
		return openELF(r, p, prefix)
	case "darwin":
		return openMachO(r, p, prefix)
	case "windows":
		return openPE(r, p, prefix)
	}
	return nil, fmt.Errorf("no executable format known for %s", p)
}

// errNoSymbols is the error for an executable without a symbol table.
var errNoSymbols = errors.New("no symbol table (built with -ldflags -s?): the stamped version cannot be read")

func openELF(r *bytes.Reader, p platform, prefix string) (*image, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("not an ELF file, as a %s binary is: %w", p, err)
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.arch]
	if f.Machine != want || f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("ELF for %v (%v), not %s", f.Machine, f.Class, p)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, fmt.Errorf("ELF %v, not an executable", f.Type)
	}
	img := &image{symbols: map[string]uint64{}, buildID: f.Section(".note.go.buildid") != nil}
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Type != elf.SHT_NOBITS {
			img.sections = append(img.sections, section{s.Addr, s.Size, s})
		}
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, errNoSymbols
	}
	for _, s := range syms {
		if strings.HasPrefix(s.Name, prefix) {
			img.symbols[s.Name] = s.Value
		}
	}
	return img, nil
}

func openMachO(r *bytes.Reader, p platform, prefix string) (*image, error) {
	f, err := macho.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("not a Mach-O file, as a %s binary is: %w", p, err)
	}
	want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[p.arch]
	if f.Cpu != want {
		return nil, fmt.Errorf("Mach-O for %v, not %s", f.Cpu, p)
	}
	if f.Type != macho.TypeExec {
		return nil, fmt.Errorf("Mach-O %v, not an executable", f.Type)
	}
	img := &image{symbols: map[string]uint64{}, buildID: hasBuildIDText(r)}
	for _, s := range f.Sections {
		// S_ZEROFILL (bss) and its kin have no bytes in the file.
		if s.Flags&0xff != 0x1 && s.Flags&0xff != 0xc && s.Flags&0xff != 0x12 {
			img.sections = append(img.sections, section{s.Addr, s.Size, s})
		}
	}
	if f.Symtab == nil {
		return nil, errNoSymbols
	}
	for _, s := range f.Symtab.Syms {
		if n := strings.TrimPrefix(s.Name, "_"); strings.HasPrefix(n, prefix) {
			img.symbols[n] = s.Value
		}
	}
	return img, nil
}

// openPE is openExecutable for Windows: a console program.
func openPE(r *bytes.Reader, p platform, prefix string) (*image, error) {
	f, err := pe.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("not a PE file, as a %s binary is: %w", p, err)
	}
	want := map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64}[p.arch]
	if f.Machine != want {
		return nil, fmt.Errorf("PE for machine %#x, not %s (%#x)", f.Machine, p, want)
	}
	c := f.Characteristics
	if c&pe.IMAGE_FILE_EXECUTABLE_IMAGE == 0 || c&pe.IMAGE_FILE_DLL != 0 {
		return nil, fmt.Errorf("PE characteristics %#x: not an executable", c)
	}
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if !ok {
		return nil, fmt.Errorf("PE without a 64-bit optional header, not %s", p)
	}
	if oh.Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_CUI {
		return nil, fmt.Errorf("PE subsystem %d, not a console program (%d)", oh.Subsystem, pe.IMAGE_SUBSYSTEM_WINDOWS_CUI)
	}
	img := &image{symbols: map[string]uint64{}, buildID: hasBuildIDText(r)}
	for _, s := range f.Sections {
		if n := min(s.VirtualSize, s.Size); n > 0 {
			img.sections = append(img.sections, section{oh.ImageBase + uint64(s.VirtualAddress), uint64(n), s})
		}
	}
	if len(f.Symbols) == 0 {
		return nil, errNoSymbols
	}
	for _, s := range f.Symbols {
		if strings.HasPrefix(s.Name, prefix) && s.SectionNumber > 0 && int(s.SectionNumber) <= len(f.Sections) {
			img.symbols[s.Name] = oh.ImageBase + uint64(f.Sections[s.SectionNumber-1].VirtualAddress) + uint64(s.Value)
		}
	}
	return img, nil
}

// hasBuildIDText reports whether a Mach-O or PE binary holds a Go build
// id: the linker writes it at the start of the text as
// "\xff Go build ID: \"…\"\n \xff" (an ELF binary has a note instead).
func hasBuildIDText(r *bytes.Reader) bool {
	b := make([]byte, min(r.Size(), 64<<10))
	n, _ := r.ReadAt(b, 0)
	return bytes.Contains(b[:n], []byte("\xff Go build ID: \""))
}
