// Package blocklist owns the runtime block list of login names
// (`jitssh-host users block|unblock NAME`, [block_file] in host.toml,
// default /etc/jitssh/blocked): a name on it gets no EC2 Instance Connect
// key from the AuthorizedKeysCommand (both the userdb service's
// io.jitssh.Keys and `jitssh-host authorized-keys`) and is never created as
// a just-in-time user.
//
// The file is one name per line; blank lines and lines starting with '#'
// are ignored. It decides who may log in, so it is read like the
// configuration: a regular file, root-owned, not writable by group or
// others (hostconfig.ReadSecureFile). A missing file is an empty list; a
// file that cannot be read or parsed blocks everybody (the callers fail
// closed on the error).
//
// Changes are made under an exclusive flock on a sibling ".lock" file and
// written atomically (temporary file in the same directory, fsync, rename,
// fsync of the directory), so a crash at any point leaves either the old
// or the new list; temporary files a crashed writer left are removed by
// the next change.
package blocklist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/jitssh/jitssh/internal/host/atomicfile"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
)

// MaxName is the longest name the list holds (the longest login name
// sshd and EC2 Instance Connect accept, with room to spare).
const MaxName = 256

// Parse reads the list's content. It refuses lines that cannot be a login
// name (control characters, ':', '/', white space inside a name).
func Parse(data []byte) (map[string]bool, error) {
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), hostconfig.MaxFileSize+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := checkName(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		names[line] = true
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return names, nil
}

// checkName accepts what a login name on the list may be: 1 to MaxName
// printable characters other than white space, ':', '/' and '#' first.
func checkName(name string) error {
	if name == "" || len(name) > MaxName {
		return fmt.Errorf("name must be 1 to %d bytes", MaxName)
	}
	if name[0] == '#' {
		return fmt.Errorf("name %q starts with '#'", name)
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || r == ':' || r == '/' || r > 0x7e {
			return fmt.Errorf("name %q: only printable ASCII without white space, ':' or '/'", clip(name))
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Read returns the names on the list at path; a missing file is empty.
func Read(path string) (map[string]bool, error) {
	data, err := hostconfig.ReadSecureFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("block list: %w", err)
	}
	names, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("block list %s: %w", path, err)
	}
	return names, nil
}

// Blocked reports whether name is on the list at path. An error means the
// list could not be read: callers must treat it as blocked.
func Blocked(path, name string) (bool, error) {
	if path == "" {
		return false, nil
	}
	names, err := Read(path)
	if err != nil {
		return true, err
	}
	return names[name], nil
}

// Add puts names on the list at path and returns those that were not on
// it already.
func Add(path string, names ...string) ([]string, error) {
	return change(path, names, true)
}

// Remove takes names off the list at path and returns those that were on
// it.
func Remove(path string, names ...string) ([]string, error) {
	return change(path, names, false)
}

func change(path string, names []string, add bool) ([]string, error) {
	for _, n := range names {
		if err := checkName(n); err != nil {
			return nil, fmt.Errorf("block list: %w", err)
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("block list: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("block list lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("block list lock: %w", err)
	}
	atomicfile.RemoveTemps(path)
	cur, err := Read(path)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, n := range names {
		if cur[n] != add {
			cur[n] = add
			changed = append(changed, n)
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString("# jitssh block list: these names get no EC2 Instance Connect key and are never\n# created as just-in-time users. Change it with jitssh-host users block|unblock.\n")
	var sorted []string
	for n, on := range cur {
		if on {
			sorted = append(sorted, n)
		}
	}
	slices.Sort(sorted)
	for _, n := range sorted {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	if err := atomicfile.Write(path, []byte(b.String()), 0o644); err != nil {
		return nil, fmt.Errorf("block list: %w", err)
	}
	return changed, nil
}
