package sshconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jitssh/jitssh/internal/openssh/privfile"
)

// span locates the managed block in a config file: the bytes from the start
// of the BEGIN line to the end of the END line (its newline included).
type span struct {
	start, end int
	found      bool
}

// findBlock finds the managed block. More than one block, a BEGIN without
// an END, or an END without a BEGIN are errors: the file is then left for
// the user to fix rather than guessed at.
func findBlock(data []byte) (span, error) {
	var sp span
	inBlock := false
	lineNo := 0
	for off := 0; off < len(data); {
		lineNo++
		next := bytes.IndexByte(data[off:], '\n')
		end := len(data)
		if next >= 0 {
			end = off + next + 1
		}
		line := strings.TrimRight(string(data[off:end]), "\r\n")
		trimmed := strings.TrimSpace(line)
		switch {
		case isBegin(trimmed):
			if inBlock {
				return span{}, fmt.Errorf("line %d: %q inside the managed block (a BEGIN marker without its END)", lineNo, trimmed)
			}
			if sp.found {
				return span{}, fmt.Errorf("line %d: a second managed block; remove one of them by hand", lineNo)
			}
			inBlock = true
			sp.start = off
		case trimmed == EndMarker:
			if !inBlock {
				return span{}, fmt.Errorf("line %d: %q without a BEGIN marker before it", lineNo, trimmed)
			}
			inBlock = false
			sp.end = end
			sp.found = true
		}
		off = end
	}
	if inBlock {
		return span{}, fmt.Errorf("%q has no matching %q", BeginMarker, EndMarker)
	}
	return sp, nil
}

// Apply returns config with block installed: replacing the existing managed
// block where it is (wherever the user may have moved it), or else inserted
// at the very top. Every byte outside the managed block is kept.
func Apply(config []byte, block string) ([]byte, error) {
	if err := checkBlock(block); err != nil {
		return nil, err
	}
	sp, err := findBlock(config)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if sp.found {
		out.Write(config[:sp.start])
		out.WriteString(block)
		out.Write(config[sp.end:])
	} else {
		out.WriteString(block)
		out.Write(config)
	}
	return out.Bytes(), nil
}

// Strip returns config without the managed block and whether there was one.
func Strip(config []byte) ([]byte, bool, error) {
	sp, err := findBlock(config)
	if err != nil {
		return nil, false, err
	}
	if !sp.found {
		return config, false, nil
	}
	out := append(append([]byte(nil), config[:sp.start]...), config[sp.end:]...)
	return out, true, nil
}

// isBegin reports whether a trimmed line is a BEGIN marker.
func isBegin(trimmed string) bool { return trimmed == BeginMarker || trimmed == beginLine }

func checkBlock(block string) error {
	first, _, _ := strings.Cut(block, "\n")
	if !isBegin(first) || !strings.HasSuffix(block, "\n"+EndMarker+"\n") {
		return errors.New("not a managed block: it must start with the BEGIN marker and end with the END marker line")
	}
	sp, err := findBlock([]byte(block))
	if err != nil || !sp.found || sp.start != 0 || sp.end != len(block) {
		return errors.New("not a managed block: markers inside it")
	}
	return nil
}

// Install writes block into the ssh_config file at configPath (normally
// ~/.ssh/config) with Apply. A missing file is created with mode 0600 (and
// a missing parent directory with 0700); an existing file keeps its mode.
// If configPath is a symlink (dotfile managers), the file it points to is
// updated and the link kept. The write is atomic. Installing the same block
// twice leaves the file byte-for-byte unchanged. A malformed existing block
// is an error and nothing is written.
func Install(configPath, block string) error {
	return update(configPath, func(old []byte) ([]byte, error) { return Apply(old, block) })
}

// Remove takes the managed block out of configPath, restoring the other
// bytes exactly. A missing file or a file without a block is not an error.
func Remove(configPath string) error {
	if _, err := os.Lstat(configPath); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return update(configPath, func(old []byte) ([]byte, error) {
		out, _, err := Strip(old)
		return out, err
	})
}

// Installed reports whether configPath holds a managed block, and returns
// the block.
func Installed(configPath string) (string, bool, error) {
	data, err := os.ReadFile(configPath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", configPath, err)
	}
	sp, err := findBlock(data)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", configPath, err)
	}
	if !sp.found {
		return "", false, nil
	}
	return string(data[sp.start:sp.end]), true, nil
}

func update(configPath string, change func([]byte) ([]byte, error)) error {
	target := configPath
	if fi, err := os.Lstat(configPath); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		resolved, err := filepath.EvalSymlinks(configPath)
		if err != nil {
			return fmt.Errorf("resolve symlink %s: %w", configPath, err)
		}
		target = resolved
	}
	perm := fs.FileMode(0o600)
	old, err := os.ReadFile(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(target), err)
		}
	case err != nil:
		return fmt.Errorf("read %s: %w", target, err)
	default:
		fi, err := os.Stat(target)
		if err != nil {
			return fmt.Errorf("stat %s: %w", target, err)
		}
		perm = fi.Mode().Perm()
	}
	updated, err := change(old)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	if old != nil && bytes.Equal(old, updated) {
		return nil
	}
	// ~/.ssh is the user's own directory; OpenSSH checks its permissions
	// itself, so privfile's stricter directory rule is not applied here.
	if err := privfile.WriteFile(target, updated, privfile.Options{Perm: perm, AllowUnsafeDir: true}); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	return nil
}
