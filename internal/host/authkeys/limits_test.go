package authkeys_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/eickey"
	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// TestAuthorizeFloodDoesNotLockOut: anyone allowed to push keys for a
// shared OS user pushes many (through the sandbox's SendSSHPublicKey state
// and its IMDS, signed by its signer) before and after the victim; the
// victim's key, asked for by fingerprint as sshd does (%f), is still served.
func TestAuthorizeFloodDoesNotLockOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	// The sandbox's IMDS signs every entry on every request: give it time.
	e.cfg.Timeout, e.cfg.RequestTimeout = 30*time.Second, 30*time.Second
	flood := func(n int) {
		for i := 0; i < n; i++ {
			e.push(t, "alice")
		}
	}
	flood(70)
	victim := e.world.PushKey(world.PushedKey{
		InstanceID: instanceID, OSUser: "alice", PublicKey: newKeyLine(t, "victim@laptop"),
		Caller: caller, RequestID: "req-victim",
	})
	flood(70)
	fp := fingerprint(t, victim.PublicKey)
	got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", fp)
	if err != nil || len(got) != 1 || got[0].KeyLine != victim.PublicKey {
		t.Fatalf("victim's key among 140 others: %+v, %v", got, err)
	}
	// Without %f every key is a candidate: the newest MaxVerify are served,
	// and the rest is recorded in one event, not 140.
	before := len(e.rec.all())
	got, err = authkeys.Authorize(context.Background(), e.cfg, "alice", "")
	if err != nil || len(got) != eickey.MaxVerify {
		t.Fatalf("no fingerprint: %d keys, %v", len(got), err)
	}
	evs := e.rec.all()[before:]
	last := evs[len(evs)-1]
	if len(evs) != eickey.MaxVerify+1 || last.Reason != authkeys.ReasonNotVerified || !strings.Contains(last.Detail, "109 older entries") {
		t.Errorf("audit: %d events, last %+v", len(evs), last)
	}
}

// TestAuthorizeManyBadEntriesBounded: entries the signer never made,
// published in bulk, cost at most MaxVerify signature checks and a bounded
// number of audit events, and do not hide a good entry.
func TestAuthorizeManyBadEntriesBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	good, d := e.signedBlob(t, nil)
	forged, fd := e.signedBlob(t, func(d *eickey.Draft) { d.Expires = d.Expires.Add(time.Second) })
	forged = strings.Replace(forged, "#Request=req-forged", "#Request=req-other", 1)
	e.serve(keysPath, strings.Repeat(forged, 500)+good)
	got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", fingerprint(t, d.KeyLine))
	if err != nil || len(got) != 1 || got[0].KeyLine != d.KeyLine {
		t.Fatalf("good key after 500 forged ones: %+v, %v", got, err)
	}
	// Asking for the forged key: all 500 refused, in at most 16+1 events.
	before := len(e.rec.all())
	_, err = authkeys.Authorize(context.Background(), e.cfg, "alice", fingerprint(t, fd.KeyLine))
	if authkeys.ReasonOf(err) != authkeys.ReasonNoValidKey {
		t.Fatalf("forged key: %v", err)
	}
	if n := len(e.rec.all()) - before; n > 16+2 {
		t.Errorf("%d audit events for one request", n)
	}
}

// TestAuthorizeOversizedBlobServesItsStart: a blob over eickey.MaxBodySize
// (but within what IMDS reading allows) still serves the keys at its start.
func TestAuthorizeOversizedBlobServesItsStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	good, d := e.signedBlob(t, nil)
	other, _ := e.signedBlob(t, nil)
	e.serve(keysPath, good+strings.Repeat(other, eickey.MaxBodySize/len(other)+100))
	got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", fingerprint(t, d.KeyLine))
	if err != nil || len(got) != 1 || got[0].KeyLine != d.KeyLine {
		t.Fatalf("key at the start of an oversized blob: %+v, %v", got, err)
	}
	evs := e.rec.all()
	if last := evs[len(evs)-1]; last.Reason != authkeys.ReasonNotVerified || !strings.Contains(last.Detail, "exceeds a limit") {
		t.Errorf("last audit event %+v", last)
	}
}

// TestAuthorizeTabSeparatedKey: a validly signed key line with tabs
// between its fields is served as it is (sshd reads it the same way).
func TestAuthorizeTabSeparatedKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	line := strings.ReplaceAll(newKeyLine(t, "tab@laptop"), " ", "\t")
	e.world.PushKey(world.PushedKey{InstanceID: instanceID, OSUser: "alice", PublicKey: line, Caller: caller, RequestID: "req-tab"})
	got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", fingerprint(t, strings.ReplaceAll(line, "\t", " ")))
	if err != nil || len(got) != 1 || got[0].KeyLine != line {
		t.Fatalf("tab-separated key: %+v, %v", got, err)
	}
}
