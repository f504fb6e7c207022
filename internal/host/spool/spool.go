// Package spool is the bounded on-disk queue of instance events waiting
// to be shipped to CloudWatch Logs (docs/instance.md, "Shipping events to
// CloudWatch Logs"). Every process that records an audit event (the
// AuthorizedKeysCommand, the userdb service, `jitssh-host users`, the PAM
// session hook) appends one JSON line to the spool's active file under a
// shared lock: one write call, no network, so the login path stays fast.
// The shipper (one, in the userdb service) seals the active file into a
// segment under the exclusive lock, reads segments in order from its
// cursor, and commits the cursor only after CloudWatch Logs accepted the
// events: at-least-once delivery, across restarts. Each record carries a
// unique id (audit.Event.ID) so the reader of the log group can drop
// duplicates.
//
// The spool is bounded: when its files exceed MaxBytes the oldest segments
// are deleted and the events in them counted as dropped (a warning, and a
// "spool-dropped" event shipped in their place by the shipper). A line
// that is not a record (a torn write, a corrupted disk block) is skipped
// with a warning naming the segment and line; the records around it are
// kept.
package spool

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jitssh/jitssh/internal/host/atomicfile"
)

// File names inside the spool directory.
const (
	activeName = "active.jsonl"
	lockName   = "lock"
	cursorName = "cursor"
	segPrefix  = "seg-"
	segSuffix  = ".jsonl"
)

// Defaults.
const (
	DefaultMaxBytes = 64 << 20
	// MinMaxBytes is the smallest cap accepted.
	MinMaxBytes = 64 << 10
	// MaxRecordBytes bounds one record (a line); longer lines are skipped.
	MaxRecordBytes = 256 << 10
)

// sealAt is the active file's size at which a writer seals it into a
// segment, so that the cap can drop old events in pieces.
func sealAt(maxBytes int64) int64 { return max(maxBytes/8, 4096) }

// ErrRecordTooLarge is returned by Append for a record over MaxRecordBytes.
var ErrRecordTooLarge = errors.New("spool: record too large")

// Append adds one record (a JSON object without a newline) to the spool
// in dir, creating the directory (0700) if needed. The record is one
// write(2) on a file opened O_APPEND, under a shared lock, so that
// concurrent writers never interleave and a seal never splits a record.
// When the active file has grown past an eighth of maxBytes it is sealed
// and the cap enforced (see Spool.Enforce).
func Append(dir string, record []byte, maxBytes int64) error {
	if len(record) > MaxRecordBytes {
		return ErrRecordTooLarge
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("spool: create %s: %w", dir, err)
	}
	lk, err := lockFile(dir, false)
	if err != nil {
		return err
	}
	defer lk.Close() // and unlocks
	f, err := os.OpenFile(filepath.Join(dir, activeName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("spool: open: %w", err)
	}
	line := make([]byte, 0, len(record)+1)
	line = append(append(line, record...), '\n')
	_, werr := f.Write(line)
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	cerr := f.Close()
	lk.Close()
	if werr != nil {
		return fmt.Errorf("spool: append to %s: %w", dir, werr)
	}
	if cerr != nil {
		return fmt.Errorf("spool: append to %s: %w", dir, cerr)
	}
	if size >= sealAt(maxBytes) {
		s := &Spool{Dir: dir, MaxBytes: maxBytes}
		if _, err := s.Seal(); err != nil {
			return err
		}
	}
	return nil
}

// Record is one spooled event as the shipper reads it.
type Record struct {
	ID   string
	Time time.Time
	// Line is the record's JSON text as written.
	Line []byte
}

// Position is a place in the spool: a segment and a byte offset in it.
type Position struct {
	Segment string `json:"segment"`
	Offset  int64  `json:"offset"`
}

// Problem is something the reader skipped or dropped, for the caller to
// log.
type Problem struct {
	// Segment and Line locate a skipped line (Line counts from 1); Dropped
	// counts events deleted by the cap, Segment names their segment.
	Segment string
	Line    int
	Dropped int
	Why     string
}

func (p Problem) String() string {
	if p.Dropped > 0 {
		return fmt.Sprintf("spool over its size cap: dropped the %d oldest events (%s)", p.Dropped, p.Segment)
	}
	return fmt.Sprintf("spool %s line %d skipped: %s", p.Segment, p.Line, p.Why)
}

// Spool is the shipper's view of a spool directory: one reader at a time
// (the caller holds it; see Lock).
type Spool struct {
	Dir      string
	MaxBytes int64
	// Report receives each problem; nil discards them.
	Report func(Problem)
}

func (s *Spool) report(p Problem) {
	if s.Report != nil {
		s.Report(p)
	}
}

func (s *Spool) maxBytes() int64 {
	if s.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return s.MaxBytes
}

// withLock runs fn under the exclusive writers' lock.
func (s *Spool) withLock(fn func() error) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("spool: create %s: %w", s.Dir, err)
	}
	lk, err := lockFile(s.Dir, true)
	if err != nil {
		return err
	}
	defer lk.Close() // and unlocks
	return fn()
}

// ReaderLock takes the spool's reader lock without waiting: one shipper
// at a time (another would ship the same events again). It returns nil
// and no error when another process holds it; Close releases it.
func ReaderLock(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "reader.lock"), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: open reader lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("spool: lock %s: %w", dir, err)
	}
	return f, nil
}

// lockFile opens dir's lock file (never following a symlink) and takes a
// shared or exclusive flock on it, waiting; closing the file unlocks.
func lockFile(dir string, exclusive bool) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: open lock: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: lock %s: %w", dir, err)
	}
	return f, nil
}

// Seal turns a non-empty active file into the newest segment and enforces
// the cap; it reports whether it sealed one.
func (s *Spool) Seal() (bool, error) {
	sealed := false
	err := s.withLock(func() error {
		active := filepath.Join(s.Dir, activeName)
		st, err := os.Stat(active)
		if errors.Is(err, fs.ErrNotExist) || err == nil && st.Size() == 0 {
			return s.enforce()
		}
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		name := segmentName(time.Now())
		for {
			if _, err := os.Lstat(filepath.Join(s.Dir, name)); errors.Is(err, fs.ErrNotExist) {
				break
			}
			name = segmentName(time.Now().Add(time.Nanosecond))
		}
		if err := os.Rename(active, filepath.Join(s.Dir, name)); err != nil {
			return fmt.Errorf("spool: seal: %w", err)
		}
		sealed = true
		return s.enforce()
	})
	return sealed, err
}

func segmentName(t time.Time) string {
	return fmt.Sprintf("%s%020d%s", segPrefix, t.UnixNano(), segSuffix)
}

// segments lists the sealed segments, oldest first.
func (s *Spool) segments() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, segPrefix) && strings.HasSuffix(n, segSuffix) && e.Type().IsRegular() {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// enforce deletes the oldest segments while the spool's files exceed the
// cap, counting their events as dropped (the writers' lock held). The
// newest segment and the active file are never deleted.
func (s *Spool) enforce() error {
	segs, err := s.segments()
	if err != nil {
		return err
	}
	var total int64
	sizes := make([]int64, len(segs))
	for i, n := range segs {
		if st, err := os.Stat(filepath.Join(s.Dir, n)); err == nil {
			sizes[i] = st.Size()
			total += sizes[i]
		}
	}
	if st, err := os.Stat(filepath.Join(s.Dir, activeName)); err == nil {
		total += st.Size()
	}
	cur, _ := s.cursor()
	for i := 0; i+1 < len(segs) && total > s.maxBytes(); i++ {
		path := filepath.Join(s.Dir, segs[i])
		n := countLines(path, offsetIn(cur, segs[i]))
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("spool: drop %s: %w", segs[i], err)
		}
		total -= sizes[i]
		if n > 0 {
			s.report(Problem{Segment: segs[i], Dropped: n})
			if err := writeDropped(s.Dir, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// offsetIn is how much of seg the cursor has consumed.
func offsetIn(cur Position, seg string) int64 {
	switch {
	case cur.Segment == seg:
		return cur.Offset
	case cur.Segment > seg:
		return -1 // all of it
	}
	return 0
}

// countLines counts the non-empty lines of path after offset (-1: none).
func countLines(path string, offset int64) int {
	if offset < 0 {
		return 0
	}
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0
	}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), MaxRecordBytes+1)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	return n
}

// droppedName holds the count of events dropped by the cap and not yet
// reported in the log group.
const droppedName = "dropped"

func writeDropped(dir string, n int) error {
	prev, _ := Dropped(dir)
	return atomicfile.Write(filepath.Join(dir, droppedName), []byte(fmt.Sprint(prev+n)), 0o600)
}

// Dropped returns the count of events the cap dropped that the shipper has
// not yet reported (ClearDropped).
func Dropped(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, droppedName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	var n int
	if _, err := fmt.Sscan(string(b), &n); err != nil || n < 0 {
		return 0, nil // corrupted: nothing to report
	}
	return n, nil
}

// ClearDropped subtracts n reported drops from the count.
func (s *Spool) ClearDropped(n int) error {
	return s.withLock(func() error {
		prev, _ := Dropped(s.Dir)
		if prev <= n {
			err := os.Remove(filepath.Join(s.Dir, droppedName))
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		return atomicfile.Write(filepath.Join(s.Dir, droppedName), []byte(fmt.Sprint(prev-n)), 0o600)
	})
}

// cursor reads the committed position; a missing or corrupted cursor is
// the start of the oldest segment (at-least-once: events may be shipped
// again, never lost).
func (s *Spool) cursor() (Position, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, cursorName))
	if errors.Is(err, fs.ErrNotExist) {
		return Position{}, nil
	}
	if err != nil {
		return Position{}, fmt.Errorf("spool: read cursor: %w", err)
	}
	var p Position
	if json.Unmarshal(b, &p) != nil || p.Offset < 0 || !validSegment(p.Segment) {
		s.report(Problem{Segment: cursorName, Line: 1, Why: "the cursor is corrupted; shipping again from the oldest segment (duplicates are dropped by event id)"})
		return Position{}, nil
	}
	return p, nil
}

func validSegment(n string) bool {
	return strings.HasPrefix(n, segPrefix) && strings.HasSuffix(n, segSuffix) && !strings.ContainsAny(n, "/\\") && len(n) < 64
}

// Read returns up to maxRecords records after the committed cursor, in
// spool order, reading at most maxBytes of lines (at least one record),
// and the position after the last one returned (for Commit). It reads
// sealed segments only: call Seal first for the newest events.
func (s *Spool) Read(maxRecords int, maxBytes int) ([]Record, Position, error) {
	cur, err := s.cursor()
	if err != nil {
		return nil, cur, err
	}
	segs, err := s.segments()
	if err != nil {
		return nil, cur, err
	}
	var out []Record
	size := 0
	pos := cur
	for _, seg := range segs {
		if seg < cur.Segment {
			continue
		}
		off := int64(0)
		if seg == cur.Segment {
			off = cur.Offset
		}
		recs, end, full, err := s.readSegment(seg, off, maxRecords-len(out), maxBytes-size)
		if err != nil {
			return nil, cur, err
		}
		for _, r := range recs {
			size += len(r.Line)
		}
		out = append(out, recs...)
		pos = Position{Segment: seg, Offset: end}
		if full {
			break
		}
	}
	return out, pos, nil
}

// readSegment parses seg from offset; full reports that a limit stopped
// it before the segment's end.
func (s *Spool) readSegment(seg string, offset int64, maxRecords, maxBytes int) ([]Record, int64, bool, error) {
	f, err := os.Open(filepath.Join(s.Dir, seg))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, offset, false, nil // dropped meanwhile
	}
	if err != nil {
		return nil, offset, false, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, offset, false, fmt.Errorf("spool: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	var out []Record
	end, size := offset, 0
	lineNo := 0 // relative to offset; reported lines count from the cursor
	for {
		if len(out) >= maxRecords || len(out) > 0 && size >= maxBytes {
			return out, end, true, nil
		}
		line, n, err := readLine(br)
		if n == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return out, end, false, nil
			}
			return nil, offset, false, fmt.Errorf("spool: read %s: %w", seg, err)
		}
		lineNo++
		end += int64(n)
		recs, bad := ParseLine(line)
		if bad != "" {
			s.report(Problem{Segment: seg, Line: lineNo, Why: bad})
		}
		for _, r := range recs {
			out = append(out, r)
			size += len(r.Line)
		}
	}
}

// readLine returns the next line (its first MaxRecordBytes+1 bytes at
// most, so an overlong line never parses) and how many bytes it took in
// the file, newline included (the last line may lack one).
func readLine(br *bufio.Reader) ([]byte, int, error) {
	var line []byte
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if room := MaxRecordBytes + 1 - len(line); room > 0 {
			line = append(line, chunk[:min(room, len(chunk))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return line, n, err
	}
}

// ParseLine parses one spool line into records. A good line is one
// record. A line holding a torn record followed by a whole one (a writer
// killed mid-write, then the next append) yields the whole one and says
// why the rest was skipped; anything else unparsable yields nothing and
// the reason. Empty lines are ignored silently.
func ParseLine(line []byte) ([]Record, string) {
	line = bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, ""
	}
	if len(line) > MaxRecordBytes {
		return nil, "longer than the record limit"
	}
	if r, err := parseRecord(line); err == nil {
		return []Record{r}, ""
	} else if i := bytes.LastIndex(line, []byte(`{"id":"`)); i > 0 {
		if r, err2 := parseRecord(line[i:]); err2 == nil {
			return []Record{r}, "a torn record before the event " + r.ID
		}
		return nil, err.Error()
	} else {
		return nil, err.Error()
	}
}

func parseRecord(line []byte) (Record, error) {
	var head struct {
		ID   *string    `json:"id"`
		Time *time.Time `json:"time"`
	}
	if !json.Valid(line) || line[0] != '{' {
		return Record{}, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return Record{}, errors.New("bad id or time")
	}
	if head.ID == nil || *head.ID == "" || len(*head.ID) > 128 {
		return Record{}, errors.New("no event id")
	}
	if head.Time == nil || head.Time.IsZero() {
		return Record{}, errors.New("no event time")
	}
	return Record{ID: *head.ID, Time: *head.Time, Line: append([]byte(nil), line...)}, nil
}

// Commit records that everything before pos was shipped, and deletes the
// segments wholly before it.
func (s *Spool) Commit(pos Position) error {
	if pos.Segment == "" {
		return nil
	}
	b, _ := json.Marshal(pos)
	if err := atomicfile.Write(filepath.Join(s.Dir, cursorName), b, 0o600); err != nil {
		return fmt.Errorf("spool: commit: %w", err)
	}
	segs, err := s.segments()
	if err != nil {
		return err
	}
	for _, seg := range segs {
		if seg >= pos.Segment {
			break
		}
		if err := os.Remove(filepath.Join(s.Dir, seg)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("spool: remove shipped %s: %w", seg, err)
		}
	}
	// The cursor's own segment, once wholly shipped and not the newest.
	if st, err := os.Stat(filepath.Join(s.Dir, pos.Segment)); err == nil && st.Size() == pos.Offset && len(segs) > 0 && segs[len(segs)-1] != pos.Segment {
		os.Remove(filepath.Join(s.Dir, pos.Segment))
	}
	return nil
}

// Pending reports whether sealed events wait after the cursor or in the
// active file (for tests and the shipper's idle check).
func (s *Spool) Pending() (bool, error) {
	recs, _, err := s.Read(1, 1)
	if err != nil || len(recs) > 0 {
		return len(recs) > 0, err
	}
	st, err := os.Stat(filepath.Join(s.Dir, activeName))
	return err == nil && st.Size() > 0, nil
}
