package audit_test

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/audit"
)

var served = audit.Event{
	Time:        time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC),
	Event:       audit.EventKeyServed,
	Instance:    "i-0123456789abcdef0",
	OSUser:      "alice",
	Fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
	Caller:      "arn:aws:sts::123456789012:assumed-role/Developer/alice",
	RequestID:   "req-1",
	Expires:     time.Date(2026, 8, 1, 12, 1, 0, 0, time.UTC),
}

func TestFileAndSyslog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "log")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	file := filepath.Join(dir, "audit.jsonl")
	w, err := audit.Open(audit.Options{File: file, Syslog: true, SyslogSockets: []string{filepath.Join(dir, "absent"), sock}})
	if err != nil {
		t.Fatal(err)
	}
	refused := audit.Event{Event: audit.EventKeyRefused, OSUser: "alice", Fingerprint: served.Fingerprint, Reason: "expired", Detail: "bad\nline"}
	for _, e := range []audit.Event{served, refused} {
		if err := w.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, m)
	}
	if len(got) != 2 {
		t.Fatalf("audit file has %d lines, want 2", len(got))
	}
	want := map[string]any{
		"time": "2026-08-01T12:00:00Z", "event": "key-served", "instance": "i-0123456789abcdef0",
		"os_user": "alice", "fingerprint": served.Fingerprint, "caller": served.Caller,
		"request_id": "req-1", "expires": "2026-08-01T12:01:00Z",
	}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("served event %s = %v, want %v", k, got[0][k], v)
		}
	}
	if _, ok := got[1]["expires"]; ok {
		t.Errorf("refused event without expiry has an expires field: %v", got[1])
	}
	if got[1]["reason"] != "expired" || got[1]["time"] == "" {
		t.Errorf("refused event = %v", got[1])
	}

	buf := make([]byte, 4096)
	_ = l.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := l.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(buf[:n])
	if !strings.HasPrefix(msg, "<86>") || !strings.Contains(msg, "jitssh-host[") ||
		!strings.Contains(msg, "Providing ssh key from EC2 Instance Connect with fingerprint: "+served.Fingerprint+", request-id: req-1, for IAM principal: "+served.Caller) {
		t.Errorf("syslog served message = %q", msg)
	}
	n, err = l.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if msg := string(buf[:n]); !strings.HasPrefix(msg, "<84>") || strings.Contains(msg, "\n") || !strings.Contains(msg, "expired (bad?line)") {
		t.Errorf("syslog refused message = %q", msg)
	}
}

func TestNoSyslogDoesNotBlock(t *testing.T) {
	t.Parallel()
	w, err := audit.Open(audit.Options{Syslog: true, SyslogSockets: []string{filepath.Join(t.TempDir(), "absent")}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Record(served); err != nil {
		t.Errorf("Record without a syslog daemon: %v", err)
	}
}

func TestFileUnavailable(t *testing.T) {
	t.Parallel()
	w, err := audit.Open(audit.Options{File: filepath.Join(t.TempDir(), "missing-dir", "audit.jsonl")})
	if err == nil {
		t.Fatal("Open succeeded in a missing directory")
	}
	if w == nil {
		t.Fatal("Open returned no Writer for syslog-only recording")
	}
	if err := w.Record(served); err == nil {
		t.Error("Record succeeded though the file could not be opened")
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	if got := audit.Sanitize("a\x00b\x1bc\xffd", 100); got != "a?b?c?d" {
		t.Errorf("Sanitize = %q", got)
	}
	if got := audit.Sanitize(strings.Repeat("é", 10), 5); got != "éé..." {
		t.Errorf("Sanitize cut = %q", got)
	}
}
