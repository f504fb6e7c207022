package spool

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func rec(id string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"time":"2026-12-02T15:00:00Z","event":"key-served","os_user":"alice"}`, id))
}

func readAll(t *testing.T, s *Spool) ([]string, Position) {
	t.Helper()
	if _, err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	recs, pos, err := s.Read(1_000_000, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	return ids, pos
}

func TestAppendReadCommit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	for i := range 5 {
		if err := Append(dir, rec(fmt.Sprint("e", i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	s := &Spool{Dir: dir}
	ids, pos := readAll(t, s)
	if strings.Join(ids, ",") != "e0,e1,e2,e3,e4" {
		t.Fatalf("read %v", ids)
	}
	// Not committed: read again (a restart ships them again).
	if again, _ := readAll(t, &Spool{Dir: dir}); len(again) != 5 {
		t.Fatalf("uncommitted records read again: %v", again)
	}
	if err := s.Commit(pos); err != nil {
		t.Fatal(err)
	}
	Append(dir, rec("e5"), 0)
	if ids, _ := readAll(t, &Spool{Dir: dir}); strings.Join(ids, ",") != "e5" {
		t.Fatalf("after commit read %v, want e5", ids)
	}
	// A partial read commits a position in the middle of a segment.
	for i := 6; i < 10; i++ {
		Append(dir, rec(fmt.Sprint("e", i)), 0)
	}
	s.Seal()
	recs, pos, err := s.Read(2, 1<<20)
	if err != nil || len(recs) != 2 || recs[0].ID != "e5" || recs[1].ID != "e6" {
		t.Fatalf("Read(2) = %v, %v", recs, err)
	}
	s.Commit(pos)
	if ids, _ := readAll(t, &Spool{Dir: dir}); strings.Join(ids, ",") != "e7,e8,e9" {
		t.Fatalf("after a partial commit read %v", ids)
	}
}

// TestConcurrentWriters checks that concurrent appends and seals neither
// lose nor split records.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if err := Append(dir, rec(fmt.Sprintf("w%d-%d", w, i)), MinMaxBytes*64); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	s := &Spool{Dir: dir, MaxBytes: MinMaxBytes * 64, Report: func(p Problem) { t.Errorf("problem: %s", p) }}
	seen := map[string]bool{}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		ids, pos := readAll(t, s)
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("%s read twice after commit", id)
			}
			seen[id] = true
		}
		if err := s.Commit(pos); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 1600 {
		t.Fatalf("%d records read, want 1600", len(seen))
	}
}

func TestCapDropsOldestCounted(t *testing.T) {
	dir := t.TempDir()
	var problems []Problem
	s := &Spool{Dir: dir, MaxBytes: MinMaxBytes, Report: func(p Problem) { problems = append(problems, p) }}
	n := 0
	for range 40 {
		for range 20 {
			if err := Append(dir, rec(fmt.Sprint("e", n)), MinMaxBytes); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if _, err := s.Seal(); err != nil {
			t.Fatal(err)
		}
	}
	ids, _ := readAll(t, s)
	dropped, _ := Dropped(dir)
	if dropped == 0 || len(ids)+dropped != n {
		t.Fatalf("%d kept + %d dropped, want %d in all, some dropped", len(ids), dropped, n)
	}
	if ids[len(ids)-1] != fmt.Sprint("e", n-1) {
		t.Errorf("the newest event was dropped: last kept %s", ids[len(ids)-1])
	}
	total := 0
	for _, p := range problems {
		total += p.Dropped
		if p.Dropped > 0 && !strings.Contains(p.String(), "dropped the") {
			t.Errorf("problem text %q", p)
		}
	}
	if total != dropped {
		t.Errorf("reported %d dropped, counted %d", total, dropped)
	}
	var size int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), segPrefix) {
			size += info.Size()
		}
	}
	if size > MinMaxBytes+int64(len(rec("e0"))+1)*20 {
		t.Errorf("spool holds %d bytes, cap %d", size, MinMaxBytes)
	}
	s.ClearDropped(dropped)
	if d, _ := Dropped(dir); d != 0 {
		t.Errorf("after ClearDropped: %d", d)
	}
}

// TestCorruptedSpool checks that a corrupted segment and cursor are
// reported line by line, never crash, and keep every good record.
func TestCorruptedSpool(t *testing.T) {
	dir := t.TempDir()
	var problems []string
	s := &Spool{Dir: dir, Report: func(p Problem) { problems = append(problems, p.String()) }}
	seg := filepath.Join(dir, segmentName(time.Now()))
	var b bytes.Buffer
	b.Write(rec("good1"))
	b.WriteString("\n\x00\x00garbage\n")
	b.WriteString(`{"id":"torn","time":"2026-12`) // a writer killed mid-record ...
	b.Write(rec("good2"))                         // ... then the next append
	b.WriteString("\n{\"time\":\"2026-12-02T15:00:00Z\"}\n")
	b.WriteString(strings.Repeat("y", MaxRecordBytes+10) + "\n")
	b.Write(rec("good3"))
	b.WriteString("\n")
	os.WriteFile(seg, b.Bytes(), 0o600)
	os.WriteFile(filepath.Join(dir, cursorName), []byte("{not json"), 0o600)
	ids, pos := readAll(t, s)
	if strings.Join(ids, ",") != "good1,good2,good3" {
		t.Fatalf("read %v, want the three good records", ids)
	}
	want := []string{"line 2 skipped: not a JSON object", "line 3 skipped: a torn record before the event good2", "line 4 skipped: no event id", "line 5 skipped: longer than the record limit", "cursor is corrupted"}
	for _, w := range want {
		found := false
		for _, p := range problems {
			found = found || strings.Contains(p, w)
		}
		if !found {
			t.Errorf("no problem reported containing %q in %q", w, problems)
		}
	}
	if err := s.Commit(pos); err != nil {
		t.Fatal(err)
	}
	if ids, _ := readAll(t, s); len(ids) != 0 {
		t.Errorf("after commit: %v", ids)
	}
}

// FuzzSpoolSegment writes arbitrary bytes as a segment: reading never
// panics, returns only records with an id and time, and a second read
// from the returned position returns nothing more.
func FuzzSpoolSegment(f *testing.F) {
	f.Add(append(rec("a"), '\n'))
	f.Add([]byte("{\"id\":\"x\",\"time\":\"2026-12-02T15:00:00Z\"}\n\n{\"id\":\"y\""))
	f.Add([]byte(`{"id":"t","time":"20{"id":"u","time":"2026-12-02T15:00:00Z"}`))
	f.Add([]byte("\xff\xfe\n{}\n[]\nnull\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, segmentName(time.Now())), data, 0o600)
		s := &Spool{Dir: dir}
		recs, pos, err := s.Read(1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.ID == "" || r.Time.IsZero() || len(r.Line) > MaxRecordBytes {
				t.Fatalf("bad record %+v", r)
			}
		}
		if err := s.Commit(pos); err != nil {
			t.Fatal(err)
		}
		if more, _, _ := s.Read(1000, 1<<20); len(more) != 0 && len(recs) < 1000 {
			t.Fatalf("%d records after the committed end", len(more))
		}
	})
}

func FuzzParseLine(f *testing.F) {
	f.Add(rec("a"))
	f.Add([]byte(`{"id":"","time":"2026-12-02T15:00:00Z"}`))
	f.Add([]byte(`xx{"id":"a","time":"2026-12-02T15:00:00Z"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		recs, why := ParseLine(line)
		if len(recs) > 1 || len(recs) == 0 && why == "" && len(bytes.TrimSpace(line)) > 0 {
			t.Fatalf("ParseLine(%q) = %v, %q", line, recs, why)
		}
		if strings.Contains(why, "\n") {
			t.Fatalf("multi-line reason %q", why)
		}
	})
}

func TestReaderLock(t *testing.T) {
	dir := t.TempDir()
	a, err := ReaderLock(dir)
	if err != nil || a == nil {
		t.Fatalf("first reader: %v, %v", a, err)
	}
	if b, err := ReaderLock(dir); b != nil || err != nil {
		t.Fatalf("second reader got the lock: %v, %v", b, err)
	}
	a.Close()
	if c, err := ReaderLock(dir); c == nil || err != nil {
		t.Fatalf("after release: %v, %v", c, err)
	} else {
		c.Close()
	}
}
