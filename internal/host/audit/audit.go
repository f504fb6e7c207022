// Package audit owns jitssh-host's audit trail: one typed event per EC2
// Instance Connect key served or refused, written as a JSON line to an
// append-only file and, when enabled, to syslog (facility authpriv) so that
// sshd's "Accepted publickey for X ... SHA256:..." joins to the IAM caller
// and request id recorded in CloudTrail.
//
// The file is the record of truth: a write error is returned, and the
// caller refuses to serve a key it could not record. Syslog is best effort:
// it is written with a short deadline and any failure is ignored, so a dead
// or slow syslog daemon never blocks a login. Served-key syslog lines begin
// with the text AWS's scripts log ("Providing ssh key from EC2 Instance
// Connect with fingerprint: ..."), so existing log searches keep working.
//
// Events are not log lines: daemons log with log/slog separately.
package audit

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/host/spool"
)

// Event names.
const (
	// EventKeyServed: a key passed every check and was handed to sshd.
	EventKeyServed = "key-served"
	// EventKeyRefused: one key entry was refused; Reason says why.
	EventKeyRefused = "key-refused"
	// EventRequestRefused: no key could be judged at all (bad user, IMDS
	// unreachable, untrusted signer, ...); Reason says why.
	EventRequestRefused = "request-refused"
	// EventUserCreated: the userdb service created a just-in-time user,
	// because of the verified key named by Fingerprint, Caller, RequestID.
	EventUserCreated = "user-created"
	// EventUserRemoved: a just-in-time user was removed; Reason says why
	// (expired, removed by an administrator).
	EventUserRemoved = "user-removed"
	// EventSessionsKilled: a user's processes were killed (Detail: how many).
	EventSessionsKilled = "sessions-killed"
	// EventUserBlocked and EventUserUnblocked: a name was put on or taken
	// off the block list (jitssh-host users block|unblock).
	EventUserBlocked   = "user-blocked"
	EventUserUnblocked = "user-unblocked"
	// EventUserRefused: the userdb service refused to create a user whose
	// name is on the block list (Reason "blocked").
	EventUserRefused = "user-refused"
	// EventSessionOpened and EventSessionClosed: sshd opened or closed a
	// login session (the PAM session hook, `jitssh-host session-event`);
	// Detail holds the remote host, TTY and sshd's process id.
	EventSessionOpened = "session-opened"
	EventSessionClosed = "session-closed"
	// EventSpoolDropped: the CloudWatch Logs spool dropped events over its
	// size cap (Detail: how many).
	EventSpoolDropped = "spool-dropped"
)

// Event is one audit record. Caller and RequestID are only filled from
// entries whose signature verified, so they are never attacker-chosen.
type Event struct {
	// ID is unique per event (Record fills it in): CloudWatch Logs'
	// readers drop the duplicates at-least-once shipping may make by it.
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
	// Source is who recorded the event: "" for the AuthorizedKeysCommand,
	// "userdb" for the just-in-time user service, "cli" for jitssh-host users.
	Source      string    `json:"source,omitempty"`
	UID         uint32    `json:"uid,omitempty"`
	Instance    string    `json:"instance,omitempty"`
	OSUser      string    `json:"os_user"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Caller      string    `json:"caller,omitempty"`
	RequestID   string    `json:"request_id,omitempty"`
	Expires     time.Time `json:"expires,omitzero"`
	Reason      string    `json:"reason,omitempty"`
	Detail      string    `json:"detail,omitempty"`
}

// Recorder receives audit events.
type Recorder interface {
	// Record stores e. An error means e was not durably recorded.
	Record(e Event) error
}

// Options configure a Writer.
type Options struct {
	// File is the JSON-lines file, created 0640 if missing (its directory
	// must exist); "" writes no file.
	File string
	// Syslog also sends each event to syslog, facility authpriv.
	Syslog bool
	// SyslogSockets are the unix datagram sockets tried in order; nil means
	// /dev/log, /var/run/syslog, /var/run/log.
	SyslogSockets []string
	// SyslogTimeout bounds each syslog write; zero means 200 ms.
	SyslogTimeout time.Duration
	// Tag is the syslog tag; "" means "jitssh-host".
	Tag string
	// Spool, when set, is the directory of the spool of events shipped to
	// CloudWatch Logs (package spool); every event is appended to it too,
	// and a failed append is a failed Record, as the file's is. SpoolMax
	// is its size cap (0: spool.DefaultMaxBytes).
	Spool    string
	SpoolMax int64
}

// Writer writes events to a file and syslog. It is safe for concurrent use.
type Writer struct {
	opts Options

	mu         sync.Mutex
	file       *os.File
	sys        net.Conn
	sysFailed  bool
	pid        int
	syslogOnly bool
}

// Open opens the audit file. If the file cannot be opened it returns the
// error together with a Writer that still writes to syslog (if enabled), so
// that the refusal this causes can itself be recorded.
func Open(o Options) (*Writer, error) {
	if o.SyslogSockets == nil {
		o.SyslogSockets = []string{"/dev/log", "/var/run/syslog", "/var/run/log"}
	}
	if o.SyslogTimeout <= 0 {
		o.SyslogTimeout = 200 * time.Millisecond
	}
	if o.Tag == "" {
		o.Tag = "jitssh-host"
	}
	w := &Writer{opts: o, pid: os.Getpid()}
	if o.File != "" {
		f, err := os.OpenFile(o.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			w.syslogOnly = true
			return w, fmt.Errorf("audit: open %w", err)
		}
		w.file = f
	}
	return w, nil
}

// Record writes e as one JSON line to the file (one write call, so that
// concurrent writers never interleave) and, if enabled, to syslog. It
// returns an error only when the file write fails, or when the file was
// configured but could not be opened.
func (w *Writer) Record(e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.ID == "" {
		e.ID = NewID(e.Time)
	}
	e.Time = e.Time.UTC()
	if !e.Expires.IsZero() {
		e.Expires = e.Expires.UTC()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.opts.Syslog {
		w.syslog(e)
	}
	if w.syslogOnly {
		return errors.New("audit: the audit file could not be opened")
	}
	if w.file == nil && w.opts.Spool == "" {
		return nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: encode event: %w", err)
	}
	if w.opts.Spool != "" {
		if err := spool.Append(w.opts.Spool, line, w.opts.SpoolMax); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	if w.file == nil {
		return nil
	}
	if _, err := w.file.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("audit: write %s: %w", w.opts.File, err)
	}
	return nil
}

// NewID returns a fresh event id: the time in hex (ids sort roughly by
// time) and 64 random bits.
func NewID(t time.Time) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return fmt.Sprintf("%016x-%x", t.UnixNano(), b)
}

// Close closes the file and the syslog connection.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sys != nil {
		_ = w.sys.Close()
		w.sys = nil
	}
	if w.file != nil {
		err := w.file.Close()
		w.file = nil
		return err
	}
	return nil
}

// Syslog priorities: facility authpriv (10), severity info (6) or warning (4).
const (
	prioInfo    = 10<<3 | 6
	prioWarning = 10<<3 | 4
)

// syslog sends e to the local syslog socket, giving up quietly (for the
// rest of this Writer's life) if none answers in time.
func (w *Writer) syslog(e Event) {
	if w.sysFailed {
		return
	}
	if w.sys == nil {
		for _, path := range w.opts.SyslogSockets {
			d := net.Dialer{Timeout: w.opts.SyslogTimeout}
			if c, err := d.Dial("unixgram", path); err == nil {
				w.sys = c
				break
			}
		}
		if w.sys == nil {
			w.sysFailed = true
			return
		}
	}
	prio := prioWarning
	if e.Event == EventKeyServed {
		prio = prioInfo
	}
	msg := fmt.Sprintf("<%d>%s %s[%d]: %s", prio, e.Time.Local().Format(time.Stamp), w.opts.Tag, w.pid, Message(e))
	_ = w.sys.SetWriteDeadline(time.Now().Add(w.opts.SyslogTimeout))
	if _, err := w.sys.Write([]byte(msg)); err != nil {
		_ = w.sys.Close()
		w.sys = nil
		w.sysFailed = true
	}
}

// Message renders e as a one-line human message, with control characters
// replaced and long values cut, for syslog and for stderr.
func Message(e Event) string {
	var b strings.Builder
	switch e.Event {
	case EventKeyServed:
		// AWS's eic_parse_authorized_keys text, then our fields.
		fmt.Fprintf(&b, "Providing ssh key from EC2 Instance Connect with fingerprint: %s", e.Fingerprint)
		if e.RequestID != "" {
			fmt.Fprintf(&b, ", request-id: %s", e.RequestID)
		}
		if e.Caller != "" {
			fmt.Fprintf(&b, ", for IAM principal: %s", e.Caller)
		}
		fmt.Fprintf(&b, ", os user: %s, instance: %s, expires: %s", e.OSUser, e.Instance, e.Expires.UTC().Format(time.RFC3339))
	case EventKeyRefused:
		fmt.Fprintf(&b, "Refusing EC2 Instance Connect key with fingerprint: %s for os user %s: %s", orNone(e.Fingerprint), e.OSUser, e.Reason)
		if e.RequestID != "" {
			fmt.Fprintf(&b, ", request-id: %s", e.RequestID)
		}
		if e.Caller != "" {
			fmt.Fprintf(&b, ", for IAM principal: %s", e.Caller)
		}
		if e.Detail != "" {
			fmt.Fprintf(&b, " (%s)", e.Detail)
		}
	case EventUserCreated:
		fmt.Fprintf(&b, "Created just-in-time user %s (uid %d) for EC2 Instance Connect key with fingerprint: %s", e.OSUser, e.UID, e.Fingerprint)
		if e.RequestID != "" {
			fmt.Fprintf(&b, ", request-id: %s", e.RequestID)
		}
		if e.Caller != "" {
			fmt.Fprintf(&b, ", for IAM principal: %s", e.Caller)
		}
		if e.Detail != "" {
			fmt.Fprintf(&b, " (%s)", e.Detail)
		}
	case EventUserRemoved, EventSessionsKilled:
		verb := "Removed just-in-time user"
		if e.Event == EventSessionsKilled {
			verb = "Killed the processes of user"
		}
		fmt.Fprintf(&b, "%s %s (uid %d): %s", verb, e.OSUser, e.UID, e.Reason)
		if e.Detail != "" {
			fmt.Fprintf(&b, " (%s)", e.Detail)
		}
	default:
		if e.Source == "userdb" {
			fmt.Fprintf(&b, "Not creating just-in-time user %s: %s", e.OSUser, e.Reason)
			if e.Detail != "" {
				fmt.Fprintf(&b, " (%s)", e.Detail)
			}
			break
		}
		fmt.Fprintf(&b, "Refusing EC2 Instance Connect keys for os user %s: %s", e.OSUser, e.Reason)
		if e.Detail != "" {
			fmt.Fprintf(&b, " (%s)", e.Detail)
		}
	}
	return Sanitize(b.String(), 2048)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Sanitize replaces control characters with '?' and cuts s to max bytes.
func Sanitize(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return s
}
