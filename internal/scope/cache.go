package scope

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/filelock"
)

// Cache remembers where instances were found: instance id → Location,
// each entry good for TTL. It only saves a search: a location read from
// it is where the caller looks first, with the normal lookup (which AWS
// authorizes and answers), never a fact taken on trust. The file is one
// entry a line ("v1 ID PROFILE ACCOUNT REGION UNIX-SECONDS", tab-
// separated, "-" for an empty field); a line that does not parse, a
// foreign version or an expired entry is ignored, and the next Put
// rewrites the file without it. Writes are atomic (temporary file,
// rename) under a lock beside the file, the file 0600 in a 0700 directory.
type Cache struct {
	Path string
	TTL  time.Duration // 0: DefaultTTL
	Now  func() time.Time
}

// DefaultTTL is how long a cached location is used: instances rarely
// move between accounts (they cannot), but they are terminated and ids
// are not reused, so a day costs at most one stale first look.
const DefaultTTL = 24 * time.Hour

// maxEntries bounds the file: the oldest entries go first.
const maxEntries = 200000

const cacheVersion = "v1"

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cache) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultTTL
}

// Get returns where id was found, if the cache says so and the entry has
// not expired. Any problem reading the file is a miss.
func (c *Cache) Get(id string) (Location, bool) {
	if c == nil || c.Path == "" || id == "" {
		return Location{}, false
	}
	data, err := os.ReadFile(c.Path)
	if err != nil {
		return Location{}, false
	}
	prefix := []byte(cacheVersion + "\t" + id + "\t")
	now := c.now()
	for len(data) > 0 {
		i := bytes.Index(data, prefix)
		if i < 0 {
			return Location{}, false
		}
		if i > 0 && data[i-1] != '\n' {
			data = data[i+len(prefix):]
			continue
		}
		line := data[i:]
		if nl := bytes.IndexByte(line, '\n'); nl >= 0 {
			line = line[:nl]
		}
		data = data[i+len(line):]
		if e, ok := parseLine(string(line)); ok && e.fresh(now, c.ttl()) {
			return e.loc, true
		}
	}
	return Location{}, false
}

type cacheEntry struct {
	id  string
	loc Location
	at  time.Time
}

func (e cacheEntry) fresh(now time.Time, ttl time.Duration) bool {
	return !e.at.After(now.Add(time.Minute)) && now.Sub(e.at) < ttl
}

func parseLine(line string) (cacheEntry, bool) {
	f := strings.Split(line, "\t")
	if len(f) != 6 || f[0] != cacheVersion {
		return cacheEntry{}, false
	}
	sec, err := strconv.ParseInt(f[5], 10, 64)
	if err != nil {
		return cacheEntry{}, false
	}
	un := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	e := cacheEntry{id: f[1], loc: Location{Profile: un(f[2]), Account: un(f[3]), Region: f[4]}, at: time.Unix(sec, 0)}
	if !validField(e.id) || !validField(f[2]) || !validField(f[3]) || !validField(e.loc.Region) {
		return cacheEntry{}, false
	}
	return e, true
}

// validField: non-empty printable ASCII without spaces, at most 256.
func validField(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func (e cacheEntry) line() string {
	d := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return strings.Join([]string{cacheVersion, e.id, d(e.loc.Profile), d(e.loc.Account), e.loc.Region, strconv.FormatInt(e.at.Unix(), 10)}, "\t")
}

// Put records where each id was found (now), and Forget drops ids; both
// keep the other fresh entries and drop expired or bad lines. An entry
// with a field that cannot be written (empty region, a space) is skipped.
func (c *Cache) Put(found map[string]Location) error { return c.update(found, nil) }

// Forget drops ids from the cache (a location that no longer has them).
func (c *Cache) Forget(ids ...string) error { return c.update(nil, ids) }

func (c *Cache) update(found map[string]Location, forget []string) error {
	if c == nil || c.Path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
		return fmt.Errorf("location cache: %w", err)
	}
	lock, err := filelock.Open(c.Path+".lock", true)
	if err != nil {
		return fmt.Errorf("location cache: %w", err)
	}
	defer lock.Close()
	if err := filelock.Lock(lock, true, true); err != nil {
		return fmt.Errorf("location cache: %w", err)
	}
	defer filelock.Unlock(lock)
	now := c.now()
	entries := c.read(now)
	for _, id := range forget {
		delete(entries, id)
	}
	for id, l := range found {
		e := cacheEntry{id: id, loc: l, at: now}
		if _, ok := parseLine(e.line()); ok {
			entries[id] = e
		}
	}
	return c.write(entries)
}

// read returns the fresh, well-formed entries of the file (none if it
// cannot be read).
func (c *Cache) read(now time.Time) map[string]cacheEntry {
	out := map[string]cacheEntry{}
	f, err := os.Open(c.Path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	for sc.Scan() {
		if e, ok := parseLine(sc.Text()); ok && e.fresh(now, c.ttl()) {
			out[e.id] = e
		}
	}
	return out
}

func (c *Cache) write(entries map[string]cacheEntry) error {
	list := make([]cacheEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	if len(list) > maxEntries { // newest first, then cut
		sortEntries(list, func(a, b cacheEntry) bool { return a.at.After(b.at) })
		list = list[:maxEntries]
	}
	sortEntries(list, func(a, b cacheEntry) bool { return a.id < b.id })
	var b strings.Builder
	for _, e := range list {
		b.WriteString(e.line())
		b.WriteByte('\n')
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.Path), ".locations-*")
	if err != nil {
		return fmt.Errorf("location cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("location cache: %w", err)
	}
	_, err = tmp.WriteString(b.String())
	if err2 := tmp.Close(); err == nil {
		err = err2
	}
	if err != nil {
		return fmt.Errorf("location cache: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), c.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("location cache: %w", err)
	}
	return nil
}

func sortEntries(l []cacheEntry, less func(a, b cacheEntry) bool) {
	sort.Slice(l, func(i, j int) bool { return less(l[i], l[j]) })
}

// Accounts returns the accounts of the cache's fresh entries, sorted.
func (c *Cache) Accounts() []string {
	if c == nil || c.Path == "" {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range c.read(c.now()) {
		if a := e.loc.Account; a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}
