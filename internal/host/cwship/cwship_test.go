package cwship_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/cwship"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/cwlogs"
	"github.com/jitssh/jitssh/internal/sandbox/imdssvc"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/signer"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

const (
	instanceID = "i-0cafe0000000000001"
	group      = "/jitssh/instances"
)

// syncBuf is a log the shipper writes while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// shipEnv is the sandbox's CloudWatch Logs and an instance's IMDS with an
// instance role, on 127.0.0.1, and a host configuration shipping to them.
type shipEnv struct {
	store *cwlogs.Store
	knobs *knobs.Table
	hc    hostconfig.Config
	log   *syncBuf
}

func newShipEnv(t *testing.T, grant bool) *shipEnv {
	t.Helper()
	var pols []policy.Document
	if grant {
		pols = []policy.Document{policy.InstanceLogs(policy.Options{LogGroup: group})}
	}
	w, err := world.New(world.Config{Region: "eu-west-3", Account: "123456789012",
		Instances: []world.Instance{{ID: instanceID, State: "running", PrivateIP: "10.0.0.9", Role: "web"}},
		Roles:     []world.Role{{Name: "web", Policies: pols}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.New("eu-west-3")
	if err != nil {
		t.Fatal(err)
	}
	e := &shipEnv{store: cwlogs.New("eu-west-3", "123456789012", nil), knobs: &knobs.Table{}, log: &syncBuf{}}
	e.store.CreateGroup(group)
	api := httptest.NewServer(apis.NewHandler(w, apis.Options{Logs: e.store, Knobs: e.knobs}))
	t.Cleanup(api.Close)
	md := httptest.NewServer(imdssvc.New(w, instanceID, sig))
	t.Cleanup(md.Close)
	e.hc = hostconfig.Default()
	e.hc.IMDSEndpoint = md.URL
	e.hc.AuditFile = filepath.Join(t.TempDir(), "audit.jsonl")
	e.hc.Syslog = false
	e.hc.CloudWatch.LogGroup = group
	e.hc.CloudWatch.Endpoint = api.URL
	e.hc.CloudWatch.SpoolDir = filepath.Join(t.TempDir(), "spool")
	e.hc.CloudWatch.FlushInterval = 50 * time.Millisecond
	return e
}

// record writes n events through the audit writer, as the userdb
// service and the AuthorizedKeysCommand do, and returns their ids.
func (e *shipEnv) record(t *testing.T, n int, detail string) []string {
	t.Helper()
	w, err := audit.Open(audit.Options{File: e.hc.AuditFile, Spool: e.hc.CloudWatch.SpoolDir, SpoolMax: e.hc.CloudWatch.SpoolMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var ids []string
	for i := range n {
		id := audit.NewID(time.Now())
		if err := w.Record(audit.Event{ID: id, Event: audit.EventKeyServed, OSUser: "alice", Detail: fmt.Sprint(detail, i)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// run starts the shipper as the userdb service does; stop ends it.
func (e *shipEnv) run(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	log := slog.New(slog.NewTextHandler(e.log, nil))
	go func() {
		defer close(done)
		if err := cwship.Run(ctx, e.hc, log); err != nil {
			t.Errorf("cwship.Run: %v", err)
		}
	}()
	return func() { cancel(); <-done }
}

// shippedIDs returns how many times each event id is in the log group.
func (e *shipEnv) shippedIDs(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, ev := range e.store.Events(group) {
		if ev.Stream != instanceID {
			t.Fatalf("event in stream %s, want the instance id", ev.Stream)
		}
		var m struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(ev.Message), &m); err != nil || m.ID == "" {
			t.Fatalf("shipped message %q is not an event with an id", ev.Message)
		}
		out[m.ID]++
	}
	return out
}

// waitAll waits until every id was shipped and returns how many
// duplicates there were.
func (e *shipEnv) waitAll(t *testing.T, ids []string, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := e.shippedIDs(t)
		missing := 0
		for _, id := range ids {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			dups := 0
			for _, n := range got {
				dups += n - 1
			}
			return dups
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events not shipped after %v; log:\n%s", missing, len(ids), within, e.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestShipsEvents(t *testing.T) {
	e := newShipEnv(t, true)
	ids := e.record(t, 30, "before")
	stop := e.run(t)
	defer stop()
	if dups := e.waitAll(t, ids, 10*time.Second); dups != 0 {
		t.Errorf("%d duplicates without faults", dups)
	}
	more := e.record(t, 5, "after")
	e.waitAll(t, append(ids, more...), 10*time.Second)
	if !strings.Contains(e.log.String(), "cloudwatch: shipping audit events") || !strings.Contains(e.log.String(), "stream="+instanceID) {
		t.Errorf("log lacks the start line:\n%s", e.log.String())
	}
}

// TestShipperSurvivesFaults is the fault acceptance, scaled down for the
// default suite (JITSSH_CW_OUTAGE=2m runs it at full length: bench/):
// CloudWatch Logs throttles, then fails with 5xx, for the outage while
// events keep coming, and the shipper is restarted once in the middle;
// afterwards every event is in the log group, exactly once after
// deduplication by event id.
func TestShipperSurvivesFaults(t *testing.T) {
	outage := 10 * time.Second
	if s := os.Getenv("JITSSH_CW_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("JITSSH_CW_OUTAGE=%q: %v", s, err)
		}
		outage = d
	}
	e := newShipEnv(t, true)
	e.hc.CloudWatch.FlushInterval = 20 * time.Millisecond
	stop := e.run(t)
	ids := e.record(t, 20, "calm")
	e.waitAll(t, ids, 10*time.Second)

	half := (outage / 2).String()
	if err := e.knobs.SetThrottle(map[string]string{"logs:*": "for:" + half}); err != nil {
		t.Fatal(err)
	}
	if err := e.knobs.SetFail(map[string]string{"logs:*": "for:" + outage.String()}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for time.Since(start) < outage {
		ids = append(ids, e.record(t, 7, "outage")...)
		if time.Since(start) > outage/2 && stop != nil {
			stop() // the daemon restarts mid-outage
			stop = nil
			ids = append(ids, e.record(t, 3, "while down")...)
			stop = e.run(t)
		}
		time.Sleep(outage / 20)
	}
	defer func() { stop() }()
	dups := e.waitAll(t, ids, outage+60*time.Second) // the backoff tops at 30 s
	log := e.log.String()
	if !strings.Contains(log, "ThrottlingException") || !strings.Contains(log, "ServiceUnavailableException") {
		t.Errorf("the log does not show the throttling and the 5xx faults:\n%s", log)
	}
	t.Logf("%d events shipped through a %v outage and a restart, %d duplicates (dropped by id)", len(ids), outage, dups)
}

// TestShipperWithoutPermission: without logs:PutLogEvents the shipper
// says so and keeps the events; granted afterwards (a new role session
// from IMDS), they all arrive.
func TestShipperWithoutPermission(t *testing.T) {
	e := newShipEnv(t, false)
	ids := e.record(t, 3, "denied")
	stop := e.run(t)
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.log.String(), "AccessDeniedException") {
		if time.Now().After(deadline) {
			t.Fatalf("no AccessDenied in the log:\n%s", e.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(e.store.Events(group)) != 0 {
		t.Fatal("events shipped without permission")
	}
	if !strings.Contains(e.log.String(), "logs:CreateLogStream") {
		t.Errorf("the log should name the action denied:\n%s", e.log.String())
	}
	_ = ids
}

// TestShipperBatches: more events than one PutLogEvents call may carry
// (count and size) go in several batches within the limits, none refused.
func TestShipperBatches(t *testing.T) {
	e := newShipEnv(t, true)
	e.hc.CloudWatch.SpoolMaxBytes = 256 << 20
	w, err := audit.Open(audit.Options{Spool: e.hc.CloudWatch.SpoolDir, SpoolMax: e.hc.CloudWatch.SpoolMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	big := strings.Repeat("d", 100_000)
	for i := range 12_000 {
		d := "small"
		if i%1000 == 0 {
			d = big
		}
		id := audit.NewID(time.Now())
		if err := w.Record(audit.Event{ID: id, Event: audit.EventKeyServed, OSUser: "bob", Detail: d}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	w.Close()
	stop := e.run(t)
	defer stop()
	if dups := e.waitAll(t, ids, 60*time.Second); dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
	if strings.Contains(e.log.String(), "InvalidParameterException") {
		t.Errorf("a batch broke PutLogEvents' rules:\n%s", e.log.String())
	}
}

// TestShipperCorruptedSpool: a corrupted spool segment is a clear log line
// naming it; its good records are shipped.
func TestShipperCorruptedSpool(t *testing.T) {
	e := newShipEnv(t, true)
	ids := e.record(t, 2, "good")
	// Corrupt the active file between two good records.
	f, err := os.OpenFile(filepath.Join(e.hc.CloudWatch.SpoolDir, "active.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("\x00\x01 not an event\n"))
	f.Close()
	ids = append(ids, e.record(t, 2, "good")...)
	stop := e.run(t)
	defer stop()
	e.waitAll(t, ids, 10*time.Second)
	if !strings.Contains(e.log.String(), "line 3 skipped: not a JSON object") {
		t.Errorf("no clear line about the corrupted record:\n%s", e.log.String())
	}
}

// TestShipperReportsSpoolDrops: events recorded while nothing ships
// overflow the spool's cap; the oldest are dropped, the warning counts
// them, and a spool-dropped event in the log group says how many, so the
// newest events plus the count account for every event.
func TestShipperReportsSpoolDrops(t *testing.T) {
	e := newShipEnv(t, true)
	e.hc.CloudWatch.SpoolMaxBytes = hostconfig.MinSpoolMaxBytes
	ids := e.record(t, 2000, strings.Repeat("x", 100)) // ~400 KiB, cap 64 KiB
	stop := e.run(t)
	defer stop()
	newest := ids[len(ids)-50:]
	e.waitAll(t, newest, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var dropped int
		shipped := 0
		for _, ev := range e.store.Events(group) {
			var m struct{ Event, Detail string }
			json.Unmarshal([]byte(ev.Message), &m)
			if m.Event == audit.EventSpoolDropped {
				if _, err := fmt.Sscanf(m.Detail, "%d events dropped", &dropped); err != nil {
					t.Fatalf("spool-dropped detail %q", m.Detail)
				}
			} else {
				shipped++
			}
		}
		if dropped > 0 && shipped+dropped == len(ids) {
			if !strings.Contains(e.log.String(), "spool over its size cap: dropped the") {
				t.Errorf("no warning counting the dropped events:\n%s", e.log.String())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d shipped + %d reported dropped, want %d in all (some dropped); log:\n%s", shipped, dropped, len(ids), e.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
