package trail

import (
	"path/filepath"
	"testing"
	"time"
)

// TestLookupScale: 100,000 records; a lookup by attribute costs the
// records it returns, not the log (under a millisecond a page here, with
// a generous bound for a loaded machine), and a reopened log is indexed
// again.
func TestLookupScale(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 records")
	}
	path := filepath.Join(t.TempDir(), "cloudtrail.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	spec := GenerateSpec{Count: 100_000, Start: day, Region: "us-east-1", Account: "123456789012", Seed: 1}
	if _, err := l.WriteGenerated(spec); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Len() != 100_000 {
		t.Fatalf("reopened log indexes %d records, want 100000", l.Len())
	}
	q := Query{Scope: ScopeKey("123456789012", "us-east-1"), HasAttr: true, Attr: AttrUsername, Value: "user-0042", Start: day.Add(8 * time.Hour), End: day.Add(20 * time.Hour), Max: 50}
	begin := time.Now()
	pages, n := 0, 0
	for {
		found, next, err := l.Lookup(q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, f := range found {
			if f.Username != "user-0042" || f.Time.Before(q.Start) || f.Time.After(q.End) {
				t.Fatalf("record %s of %s at %v does not match", f.EventID, f.Username, f.Time)
			}
		}
		n += len(found)
		if next == "" {
			break
		}
		q.Token = next
	}
	per := time.Since(begin) / time.Duration(pages)
	if n < 50 || per > 20*time.Millisecond {
		t.Fatalf("%d records in %d pages, %v a page", n, pages, per)
	}
	other := Query{Scope: ScopeKey("123456789012", "us-west-2"), Max: 50}
	if found, _, _ := l.Lookup(other); len(found) != 0 {
		t.Fatalf("us-west-2 sees %d records of us-east-1", len(found))
	}
	t.Logf("%d records in %d pages, %v a page", n, pages, per)
}
