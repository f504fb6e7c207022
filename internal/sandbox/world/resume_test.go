package world

import (
	"testing"
	"time"
)

// TestUseResumeToken: a resumed data channel needs a ResumeSession token
// of its own session, once; the StartSession token does not resume.
func TestUseResumeToken(t *testing.T) {
	w, err := New(Config{Region: "us-east-1", Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	s := w.StartSession(Session{Target: "i-1"}, "alice")
	other := w.StartSession(Session{Target: "i-2"}, "alice")
	if w.UseResumeToken(s.ID, s.Token) {
		t.Error("the StartSession token resumed the data channel")
	}
	tok, ok := w.ResumeSession(s.ID)
	if !ok {
		t.Fatal("ResumeSession refused a live session")
	}
	if w.UseResumeToken(other.ID, tok) {
		t.Error("a token of another session resumed")
	}
	if !w.UseResumeToken(s.ID, tok) {
		t.Fatal("a fresh ResumeSession token did not resume")
	}
	if w.UseResumeToken(s.ID, tok) {
		t.Error("a ResumeSession token resumed twice")
	}
	if !w.ValidSessionToken(s.ID, tok) || !w.ValidSessionToken(s.ID, s.Token) {
		t.Error("ValidSessionToken forgot the session's tokens")
	}
	if w.UseResumeToken(s.ID, "") {
		t.Error("an empty token resumed")
	}
}

// TestCredentialLifetimeCap: the cap shortens credentials issued after it
// is set, never lengthens them, and refuses nonsense.
func TestCredentialLifetimeCap(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	w, err := New(Config{Region: "us-east-1", Account: "123456789012", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{ARN: "arn:aws:sts::123456789012:assumed-role/R/s"}
	if c := w.IssueSession(id, time.Hour); !c.Expiration.Equal(now.Add(time.Hour)) {
		t.Errorf("no cap: expires %s", c.Expiration)
	}
	if err := w.SetCredentialLifetime(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	if c := w.IssueSession(id, time.Hour); !c.Expiration.Equal(now.Add(3 * time.Second)) {
		t.Errorf("3s cap: expires %s, want %s", c.Expiration, now.Add(3*time.Second))
	}
	if err := w.SetCredentialLifetime(2 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if c := w.IssueSession(id, time.Hour); !c.Expiration.Equal(now.Add(time.Hour)) {
		t.Errorf("a cap above the asked duration changed it: expires %s", c.Expiration)
	}
	for _, bad := range []time.Duration{-time.Second, time.Millisecond, 13 * time.Hour} {
		if err := w.SetCredentialLifetime(bad); err == nil {
			t.Errorf("SetCredentialLifetime(%s) accepted", bad)
		}
	}
	if got := w.CredentialLifetime(); got != 2*time.Hour {
		t.Errorf("a refused value changed the cap to %s", got)
	}
	if err := w.SetCredentialLifetime(0); err != nil || w.CredentialLifetime() != 0 {
		t.Errorf("0 did not remove the cap: %v", err)
	}
}
