package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// checkPayload checks that a package's files hold the commands' binaries
// in /usr/bin, mode 0755, verified as the archives' are and identical to
// those of the linux archive of the same architecture (bins).
func checkPayload(files map[string]file, a artifact, s spec, bins map[string][32]byte) []error {
	var errs []error
	for _, cmd := range a.cmds {
		n := "usr/bin/" + cmd
		f, ok := files[n]
		if !ok {
			errs = append(errs, fmt.Errorf("no /%s", n))
			continue
		}
		if !f.mode.IsRegular() || f.mode.Perm() != 0o755 {
			errs = append(errs, fmt.Errorf("/%s: mode %v, want a file with 0755", n, f.mode))
		}
		for _, err := range checkBinary(f.data, cmd, a.plat, s) {
			errs = append(errs, fmt.Errorf("/%s: %w", n, err))
		}
		if sum, ok := bins[binKey(a.plat, cmd)]; ok && sha256.Sum256(f.data) != sum {
			errs = append(errs, fmt.Errorf("/%s differs from the %s archive's %s", n, a.plat, cmd))
		}
	}
	return errs
}

// checkDeb checks a .deb: an ar archive of debian-binary (2.0),
// control.tar.gz (whose control file names the package, version and
// architecture) and data.tar.gz (checkPayload).
func checkDeb(name string, a artifact, s spec, bins map[string][32]byte) []error {
	data, err := os.ReadFile(name)
	if err != nil {
		return []error{err}
	}
	members, err := readAr(data)
	if err != nil {
		return []error{err}
	}
	if len(members) != 3 || members[0].name != "debian-binary" || members[1].name != "control.tar.gz" || members[2].name != "data.tar.gz" {
		var names []string
		for _, m := range members {
			names = append(names, m.name)
		}
		return []error{fmt.Errorf("ar members %q, want debian-binary, control.tar.gz, data.tar.gz", names)}
	}
	var errs []error
	if string(members[0].data) != "2.0\n" {
		errs = append(errs, fmt.Errorf("debian-binary %q, want 2.0", members[0].data))
	}
	control, err := readTar(bytes.NewReader(members[1].data), true)
	if err != nil {
		return append(errs, fmt.Errorf("control.tar.gz: %w", err))
	}
	fields := debFields(string(control["control"].data))
	for _, w := range [][2]string{{"Package", a.pkg}, {"Version", s.version}, {"Architecture", a.plat.arch}} {
		if fields[w[0]] != w[1] {
			errs = append(errs, fmt.Errorf("control: %s %q, want %q", w[0], fields[w[0]], w[1]))
		}
	}
	files, err := readTar(bytes.NewReader(members[2].data), true)
	if err != nil {
		return append(errs, fmt.Errorf("data.tar.gz: %w", err))
	}
	return append(errs, checkPayload(files, a, s, bins)...)
}

// arMember is one member of an ar archive.
type arMember struct {
	name string
	data []byte
}

// readAr splits an ar(5) archive (a .deb) into its members.
func readAr(b []byte) ([]arMember, error) {
	const magic = "!<arch>\n"
	if !bytes.HasPrefix(b, []byte(magic)) {
		return nil, errors.New("not an ar archive, as a .deb is")
	}
	var members []arMember
	for off := len(magic); off < len(b); {
		if len(b)-off < 60 || string(b[off+58:off+60]) != "`\n" {
			return nil, fmt.Errorf("ar: bad member header at byte %d", off)
		}
		h := b[off : off+60]
		size, err := strconv.ParseUint(strings.TrimSpace(string(h[48:58])), 10, 63)
		if err != nil || size > uint64(len(b)-off-60) {
			return nil, fmt.Errorf("ar: bad member size %q at byte %d", h[48:58], off)
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(h[:16])), "/")
		off += 60
		members = append(members, arMember{name: name, data: b[off : off+int(size)]})
		off += int(size) + int(size%2)
	}
	return members, nil
}

// debFields is a deb control file's fields (first lines only).
func debFields(control string) map[string]string {
	fields := map[string]string{}
	for _, line := range strings.Split(control, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

// The rpm header tags read here (rpmtag.h).
const (
	rpmTagName              = 1000
	rpmTagVersion           = 1001
	rpmTagRelease           = 1002
	rpmTagArch              = 1022
	rpmTagPayloadFormat     = 1124
	rpmTagPayloadCompressor = 1125
)

// checkRPM checks a .rpm: its header names the package, version, release
// 1 and architecture, and its payload, a gzip-compressed cpio archive,
// holds the binaries (checkPayload).
func checkRPM(name string, a artifact, s spec, bins map[string][32]byte) []error {
	data, err := os.ReadFile(name)
	if err != nil {
		return []error{err}
	}
	if len(data) < 96 || !bytes.HasPrefix(data, []byte{0xed, 0xab, 0xee, 0xdb}) {
		return []error{errors.New("no rpm lead")}
	}
	_, end, err := readRPMHeader(data, 96) // the signature
	if err != nil {
		return []error{fmt.Errorf("signature: %w", err)}
	}
	h, end, err := readRPMHeader(data, (end+7)/8*8)
	if err != nil {
		return []error{fmt.Errorf("header: %w", err)}
	}
	var errs []error
	for _, w := range []struct {
		tag  uint32
		name string
		want string
	}{
		{rpmTagName, "name", a.pkg}, {rpmTagVersion, "version", s.version}, {rpmTagRelease, "release", "1"},
		{rpmTagArch, "arch", rpmArch[a.plat.arch]}, {rpmTagPayloadFormat, "payload format", "cpio"}, {rpmTagPayloadCompressor, "payload compressor", "gzip"},
	} {
		if got := h.str(w.tag); got != w.want {
			errs = append(errs, fmt.Errorf("header: %s %q, want %q", w.name, got, w.want))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	z, err := gzip.NewReader(bytes.NewReader(data[end:]))
	if err != nil {
		return []error{fmt.Errorf("payload: %w", err)}
	}
	files, err := readCpio(z)
	if err != nil {
		return []error{fmt.Errorf("payload: %w", err)}
	}
	return checkPayload(files, a, s, bins)
}

// rpmHeader is an rpm header structure: its index and data store.
type rpmHeader struct {
	index map[uint32][2]uint32 // tag → type, offset
	store []byte
}

// readRPMHeader reads the header structure at b[off:] and returns where
// it ends.
func readRPMHeader(b []byte, off int) (rpmHeader, int, error) {
	if off+16 > len(b) || !bytes.HasPrefix(b[off:], []byte{0x8e, 0xad, 0xe8, 0x01}) {
		return rpmHeader{}, 0, fmt.Errorf("no header structure at byte %d", off)
	}
	n := int(binary.BigEndian.Uint32(b[off+8:]))
	size := int(binary.BigEndian.Uint32(b[off+12:]))
	idx := off + 16
	if n > 1<<16 || size > 1<<28 || idx+16*n+size > len(b) {
		return rpmHeader{}, 0, fmt.Errorf("header at byte %d: %d entries, %d bytes: past the end", off, n, size)
	}
	h := rpmHeader{index: map[uint32][2]uint32{}, store: b[idx+16*n : idx+16*n+size]}
	for i := range n {
		e := b[idx+16*i:]
		h.index[binary.BigEndian.Uint32(e)] = [2]uint32{binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:])}
	}
	return h, idx + 16*n + size, nil
}

// str is a STRING tag's value, "" if there is none.
func (h rpmHeader) str(tag uint32) string {
	e, ok := h.index[tag]
	if !ok || e[0] != 6 || int(e[1]) >= len(h.store) {
		return ""
	}
	s := h.store[e[1]:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		return string(s[:i])
	}
	return ""
}

// readCpio reads a cpio archive in the "new ASCII" format (rpm's
// payload) by name, without a leading "/" or "./".
func readCpio(r io.Reader) (map[string]file, error) {
	br := bufio.NewReader(r)
	files := map[string]file{}
	var off int64
	read := func(n int64) ([]byte, error) {
		b := make([]byte, n)
		_, err := io.ReadFull(br, b)
		off += n
		return b, err
	}
	pad := func() error { _, err := read((4 - off%4) % 4); return err }
	for {
		h, err := read(110)
		if err != nil || (string(h[:6]) != "070701" && string(h[:6]) != "070702") {
			return nil, fmt.Errorf("cpio: no header at byte %d", off-110)
		}
		field := func(i int) int64 { v, _ := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32); return int64(v) }
		mode, size, namesize := field(1), field(6), field(11)
		if size > 1<<31 || namesize < 1 || namesize > 4096 {
			return nil, fmt.Errorf("cpio: bad header at byte %d", off-110)
		}
		nb, err := read(namesize)
		if err == nil {
			err = pad()
		}
		var data []byte
		if err == nil {
			data, err = read(size)
		}
		if err == nil {
			err = pad()
		}
		if err != nil {
			return nil, fmt.Errorf("cpio: %w", err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(string(bytes.TrimRight(nb, "\x00")), "."), "/")
		if name == "TRAILER!!!" {
			return files, nil
		}
		files[name] = file{mode: cpioMode(mode), data: data}
	}
}

// cpioMode is a cpio header's mode as a FileMode.
func cpioMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & 0o170000 {
	case 0o100000:
	case 0o040000:
		mode |= fs.ModeDir
	default:
		mode |= fs.ModeIrregular
	}
	return mode
}
