package authkeys_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/eickey"
	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/sandbox/signer"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/imdsfixture"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

const (
	region     = "eu-west-3"
	instanceID = "i-0123456789abcdef0"
	otherID    = "i-0fedcba9876543210"
	caller     = "arn:aws:sts::123456789012:assumed-role/Developer/alice"
	keysPath   = "managed-ssh-keys/active-keys/alice/"
)

// getSigner is the signer of tests that do not change it; RSA key
// generation dominates test time.
func getSigner(t *testing.T) *signer.Signer {
	t.Helper()
	return imdsfixture.SharedSigner(t, region)
}

// recorder is an in-memory audit.Recorder.
type recorder struct {
	mu     sync.Mutex
	events []audit.Event
	err    error
}

func (r *recorder) Record(e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return r.err
}

func (r *recorder) all() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.events...)
}

// env is one instance: world, signer, IMDS on 127.0.0.1 with overridable
// paths, and an Authorize config pointed at it.
type env struct {
	world    *world.World
	signer   *signer.Signer
	rec      *recorder
	cfg      authkeys.Config
	requests *atomic.Int64
	imds     *imdsfixture.IMDS
}

// restartIMDS replaces the IMDS with a new one, which knows none of the
// tokens given out so far.
func (e *env) restartIMDS() { e.imds.Restart() }

func newEnv(t *testing.T, s *signer.Signer) *env {
	t.Helper()
	m := imdsfixture.New(t, imdsfixture.Options{
		Region: region, Signer: s,
		Instance: world.Instance{ID: instanceID, AZ: region + "b", PrivateIP: "10.0.3.7"},
	})
	e := &env{world: m.World, signer: s, rec: &recorder{}, requests: &m.Requests, imds: m}
	roots := x509.NewCertPool()
	roots.AddCert(s.Root())
	e.cfg = authkeys.Config{IMDSEndpoint: m.URL, Roots: roots, Audit: e.rec}
	return e
}

func (e *env) override(path string, h http.HandlerFunc) { e.imds.Override(path, h) }

func (e *env) serve(path, body string) { e.imds.Serve(path, body) }

func (e *env) notFound(path string) { e.imds.NotFound(path) }

func newKeyLine(t *testing.T, comment string) string {
	t.Helper()
	return testkeys.New(t).Line(comment)
}

func fingerprint(t *testing.T, line string) string {
	t.Helper()
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return ssh.FingerprintSHA256(pk)
}

func (e *env) push(t *testing.T, user string) world.PushedKey {
	t.Helper()
	return e.world.PushKey(world.PushedKey{
		InstanceID: instanceID, OSUser: user, PublicKey: newKeyLine(t, user+"@laptop"),
		Caller: caller, RequestID: "req-" + user,
	})
}

// signedBlob signs one entry as the signer would, with edits.
func (e *env) signedBlob(t *testing.T, edit func(*eickey.Draft)) (string, eickey.Draft) {
	t.Helper()
	d := eickey.Draft{
		Expires: e.world.Now().Add(time.Minute), Instance: instanceID,
		Caller: caller, Request: "req-forged", KeyLine: newKeyLine(t, "x"),
	}
	if edit != nil {
		edit(&d)
	}
	en, err := eickey.Sign(d, e.signer.SignEntry)
	if err != nil {
		t.Fatal(err)
	}
	return string(eickey.Format([]eickey.Entry{en})), d
}

func TestAuthorizeAccepts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	k1 := e.push(t, "alice")
	k2 := e.push(t, "alice")
	e.push(t, "bob")

	start := time.Now()
	got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", "")
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Authorize took %v", d)
	}
	if len(got) != 2 || got[0].KeyLine != k1.PublicKey || got[1].KeyLine != k2.PublicKey {
		t.Fatalf("accepted %+v, want alice's two keys", got)
	}
	a := got[0]
	if a.Fingerprint != fingerprint(t, k1.PublicKey) || a.Caller != caller || a.RequestID != "req-alice" || a.Expires.Unix() != k1.Expires.Unix() {
		t.Errorf("accepted = %+v", a)
	}
	events := e.rec.all()
	if len(events) != 2 {
		t.Fatalf("audit events = %+v, want 2 key-served", events)
	}
	ev := events[0]
	if ev.Event != audit.EventKeyServed || ev.Instance != instanceID || ev.OSUser != "alice" || ev.Fingerprint != a.Fingerprint ||
		ev.Caller != caller || ev.RequestID != "req-alice" || !ev.Expires.Equal(a.Expires) || ev.Time.IsZero() {
		t.Errorf("audit event = %+v", ev)
	}

	// With sshd's %f only the offered key is returned.
	got, err = authkeys.Authorize(context.Background(), e.cfg, "alice", fingerprint(t, k2.PublicKey))
	if err != nil || len(got) != 1 || got[0].KeyLine != k2.PublicKey {
		t.Errorf("Authorize with %%f = %+v, %v; want only the second key", got, err)
	}
}

// A shared client reuses its token (one request fewer per call) and, when
// IMDS no longer accepts it, gets a new one within the same call.
func TestAuthorizeSharedIMDS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	k := e.push(t, "alice")
	c, err := authkeys.NewSharedIMDS(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e.cfg.IMDS = c
	e.cfg.IMDSEndpoint = "http://127.0.0.1:1" // ignored with IMDS set
	var counts []int64
	for i := 0; i < 3; i++ {
		if i == 2 {
			e.restartIMDS()
		}
		before := e.requests.Load()
		got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", "")
		if err != nil || len(got) != 1 || got[0].KeyLine != k.PublicKey {
			t.Fatalf("call %d: %+v, %v", i, got, err)
		}
		counts = append(counts, e.requests.Load()-before)
	}
	// 1st: token, keys, 4 facts, 2 OCSP; 2nd: the same without the token;
	// 3rd: keys refused (401), a new token, then as the 2nd.
	if counts[1] != counts[0]-1 || counts[2] != counts[1]+2 {
		t.Errorf("IMDS requests per call = %v", counts)
	}
}

// A name without keys costs one IMDS request (with the shared client's
// token): its key list, nothing else. A flood of lookups of made-up names
// is no more than that (issue 10).
func TestAuthorizeNoKeysOneRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	e.push(t, "alice")
	c, err := authkeys.NewSharedIMDS(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e.cfg.IMDS = c
	if _, err := authkeys.Authorize(context.Background(), e.cfg, "alice", ""); err != nil { // the token
		t.Fatal(err)
	}
	for _, user := range []string{"carol", "dave", "erin"} {
		before := e.requests.Load()
		got, err := authkeys.Authorize(context.Background(), e.cfg, user, "")
		if err != nil || len(got) != 0 {
			t.Fatalf("Authorize(%s) = %+v, %v", user, got, err)
		}
		if n := e.requests.Load() - before; n != 1 {
			t.Errorf("Authorize(%s) without keys made %d IMDS requests, want 1 (managed-ssh-keys/active-keys/%s/)", user, n, user)
		}
	}
}

func TestAuthorizeNothingToServe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	e.push(t, "alice")
	for _, tt := range []struct{ name, user, fp string }{
		{"no keys for the user", "carol", ""},
		{"no key with that fingerprint", "alice", "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"},
	} {
		got, err := authkeys.Authorize(context.Background(), e.cfg, tt.user, tt.fp)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: Authorize = %+v, %v; want nothing and no error", tt.name, got, err)
		}
	}
	if ev := e.rec.all(); len(ev) != 0 {
		t.Errorf("audit events %+v, want none when nothing was judged", ev)
	}
}

func TestAuthorizeRefuses(t *testing.T) {
	t.Parallel()
	otherSigner, err := signer.New(region)
	if err != nil {
		t.Fatal(err)
	}
	usEast, err := signer.New("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	wrongCN, err := signer.NewFromConfig(signer.Config{Region: region, CommonName: "managed-ssh-signer." + region + ".amazonaws.com.evil.example"})
	if err != nil {
		t.Fatal(err)
	}
	expiredLeaf, err := signer.NewFromConfig(signer.Config{Region: region, LeafLifetime: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	staleOCSP, err := signer.NewFromConfig(signer.Config{Region: region, Now: func() time.Time { return time.Now().Add(-3 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := signer.NewFromConfig(signer.Config{Region: region})
	if err != nil {
		t.Fatal(err)
	}
	revoked.Revoke(revoked.Leaf())
	revokedInter, err := signer.NewFromConfig(signer.Config{Region: region})
	if err != nil {
		t.Fatal(err)
	}
	revokedInter.Revoke(revokedInter.Intermediate())

	tests := []struct {
		name   string
		signer *signer.Signer
		user   string
		fp     string
		setup  func(t *testing.T, e *env)
		want   string // request Reason, or eickey Reason in the key-refused event
		perKey bool   // want is a per-key reason (Authorize says no-valid-key)
	}{
		{name: "expired", setup: func(t *testing.T, e *env) {
			k := e.push(t, "alice")
			e.cfg.Now = func() time.Time { return k.Expires }
		}, want: "expired", perKey: true},
		{name: "wrong instance", setup: func(t *testing.T, e *env) {
			blob, _ := e.signedBlob(t, func(d *eickey.Draft) { d.Instance = otherID })
			e.serve(keysPath, blob)
		}, want: "wrong-instance", perKey: true},
		{name: "tampered key", setup: func(t *testing.T, e *env) {
			blob, d := e.signedBlob(t, nil)
			e.serve(keysPath, strings.Replace(blob, d.KeyLine, newKeyLine(t, "x"), 1))
		}, want: "bad-signature", perKey: true},
		{name: "tampered metadata", setup: func(t *testing.T, e *env) {
			blob, _ := e.signedBlob(t, nil)
			e.serve(keysPath, strings.Replace(blob, "Developer/alice", "Admin/alice", 1))
		}, want: "bad-signature", perKey: true},
		{name: "signed by an untrusted key", setup: func(t *testing.T, e *env) {
			d := eickey.Draft{Expires: time.Now().Add(time.Minute), Instance: instanceID, KeyLine: newKeyLine(t, "x")}
			en, err := eickey.Sign(d, otherSigner.SignEntry)
			if err != nil {
				t.Fatal(err)
			}
			e.serve(keysPath, string(eickey.Format([]eickey.Entry{en})))
		}, want: "bad-signature", perKey: true},
		{name: "truncated blob", setup: func(t *testing.T, e *env) {
			blob, _ := e.signedBlob(t, nil)
			e.serve(keysPath, blob[:len(blob)-60])
		}, want: "malformed", perKey: true},
		{name: "signature cut at a line", setup: func(t *testing.T, e *env) {
			blob, _ := e.signedBlob(t, nil)
			lines := strings.Split(strings.TrimSuffix(blob, "\n\n"), "\n")
			e.serve(keysPath, strings.Join(lines[:len(lines)-1], "\n")+"\n")
		}, want: "bad-signature", perKey: true},
		{name: "garbage blob", setup: func(t *testing.T, e *env) {
			e.serve(keysPath, "hello\nworld\n")
		}, want: "malformed", perKey: true},
		{name: "ecdsa key", setup: func(t *testing.T, e *env) {
			blob, _ := e.signedBlob(t, func(d *eickey.Draft) {
				d.KeyLine = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="
			})
			e.serve(keysPath, blob)
		}, want: "unsupported-key-type", perKey: true},
		{name: "oversized IMDS answer", setup: func(t *testing.T, e *env) {
			e.serve(keysPath, strings.Repeat("#\n", authkeys.MaxIMDSBody/2+1))
		}, want: "bad-key-blob"},
		{name: "signer for another region", signer: usEast, setup: func(t *testing.T, e *env) { e.push(t, "alice") }, want: "signer-cn-mismatch"},
		{name: "signer with a look-alike CN", signer: wrongCN, setup: func(t *testing.T, e *env) { e.push(t, "alice") }, want: "signer-cn-mismatch"},
		{name: "untrusted root", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			e.cfg.Roots = x509.NewCertPool()
			e.cfg.Roots.AddCert(otherSigner.Root())
		}, want: "untrusted-signer"},
		{name: "system roots do not trust the sandbox", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			e.cfg.Roots = nil
		}, want: "untrusted-signer"},
		{name: "intermediate missing", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			leafOnly := e.signer.ChainPEM()
			e.serve("managed-ssh-keys/signer-cert/", string(leafOnly[:bytes.Index(leafOnly, []byte("-----END CERTIFICATE-----"))+26]))
		}, want: "untrusted-signer"},
		{name: "expired signer certificate", signer: expiredLeaf, setup: func(t *testing.T, e *env) { e.push(t, "alice") }, want: "untrusted-signer"},
		{name: "garbage signer certificate", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			e.serve("managed-ssh-keys/signer-cert/", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
		}, want: "no-signer"},
		{name: "no signer certificate", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			e.notFound("managed-ssh-keys/signer-cert/")
		}, want: "no-signer"},
		{name: "revoked signer", signer: revoked, setup: func(t *testing.T, e *env) { e.push(t, "alice") }, want: "signer-revoked"},
		{name: "revoked intermediate", signer: revokedInter, setup: func(t *testing.T, e *env) { e.push(t, "alice") }, want: "signer-revoked"},
		{name: "stale OCSP", signer: staleOCSP, setup: func(t *testing.T, e *env) { e.push(t, "alice") }, want: "ocsp-failed"},
		{name: "missing OCSP", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			e.notFound("managed-ssh-keys/signer-ocsp/" + signer.Fingerprint(e.signer.Leaf()))
		}, want: "ocsp-failed"},
		{name: "OCSP of another certificate", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			resps, err := e.signer.OCSP()
			if err != nil {
				t.Fatal(err)
			}
			other := base64.StdEncoding.EncodeToString(resps[signer.Fingerprint(e.signer.Intermediate())])
			e.serve("managed-ssh-keys/signer-ocsp/"+signer.Fingerprint(e.signer.Leaf()), other)
		}, want: "ocsp-failed"},
		{name: "domain not allowed", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			e.serve("services/domain", "example.com")
		}, want: "bad-domain"},
		{name: "bad instance id", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			e.serve("instance-id", "i-NOTHEX")
		}, want: "bad-instance-id"},
		{name: "bad region", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			e.serve("placement/region", "eu-west-3.evil")
		}, want: "bad-region"},
		{name: "bad fingerprint", fp: "SHA256:short", setup: func(t *testing.T, e *env) { e.push(t, "alice") }, want: "bad-fingerprint"},
		{name: "audit failure", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			e.rec.err = errors.New("disk full")
		}, want: "audit-failed"},
		{name: "IMDSv1 only", setup: func(t *testing.T, e *env) {
			e.push(t, "alice")
			e.override("/latest/api/token", http.NotFound)
		}, want: "imds-unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.signer
			if s == nil {
				s = getSigner(t)
			}
			e := newEnv(t, s)
			tt.setup(t, e)
			user := tt.user
			if user == "" {
				user = "alice"
			}
			got, err := authkeys.Authorize(context.Background(), e.cfg, user, tt.fp)
			if err == nil || len(got) != 0 {
				t.Fatalf("Authorize = %+v, %v; want a refusal", got, err)
			}
			events := e.rec.all()
			if tt.perKey {
				if r := authkeys.ReasonOf(err); r != authkeys.ReasonNoValidKey {
					t.Errorf("reason = %q (%v), want no-valid-key", r, err)
				}
				if len(events) != 1 || events[0].Event != audit.EventKeyRefused || events[0].Reason != tt.want {
					t.Errorf("audit events = %+v, want one key-refused %s", events, tt.want)
				}
				if len(events) == 1 && tt.want == "bad-signature" && (events[0].Caller != "" || events[0].RequestID != "") {
					t.Errorf("unverified claims recorded: %+v", events[0])
				}
				return
			}
			if r := authkeys.ReasonOf(err); string(r) != tt.want {
				t.Errorf("reason = %q (%v), want %q", r, err, tt.want)
			}
			if tt.want == "audit-failed" {
				return
			}
			if len(events) != 1 || events[0].Event != audit.EventRequestRefused || events[0].Reason != tt.want || events[0].OSUser != user {
				t.Errorf("audit events = %+v, want one request-refused %s", events, tt.want)
			}
		})
	}
}

func TestAuthorizeRejectsBadUsersWithoutAsking(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	for _, user := range []string{"", "../alice", "alice/..", "a/b", "..", ".", "-alice", "alice\n", "al\x00ice", "al ice", "alice%2f", strings.Repeat("a", 33), "a$b", "ålice"} {
		got, err := authkeys.Authorize(context.Background(), e.cfg, user, "")
		if authkeys.ReasonOf(err) != authkeys.ReasonBadUser || got != nil {
			t.Errorf("Authorize(%q) = %v, %v; want bad-user", user, got, err)
		}
	}
	if n := e.requests.Load(); n != 0 {
		t.Errorf("IMDS saw %d requests for invalid user names, want 0", n)
	}
	for _, user := range []string{"alice", "marcus.young", "ec2-user", "_svc", "a", "123abc", "user@corp", "machine$", strings.Repeat("a", 32)} {
		if err := authkeys.ValidUser(user); err != nil {
			t.Errorf("ValidUser(%q) = %v, want ok", user, err)
		}
	}
}

func TestAuthorizeOneBadEntryDoesNotHideGoodOnes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	good, d := e.signedBlob(t, nil)
	bad, _ := e.signedBlob(t, func(d *eickey.Draft) { d.Instance = otherID })
	tampered, td := e.signedBlob(t, nil)
	tampered = strings.Replace(tampered, td.KeyLine, newKeyLine(t, "evil"), 1)
	e.serve(keysPath, bad+tampered+good)
	got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", "")
	if err != nil || len(got) != 1 || got[0].KeyLine != d.KeyLine {
		t.Fatalf("Authorize = %+v, %v; want only the good key", got, err)
	}
	var reasons []string
	for _, ev := range e.rec.all() {
		reasons = append(reasons, ev.Event+":"+ev.Reason)
	}
	want := "key-refused:wrong-instance key-refused:bad-signature key-served:"
	if strings.Join(reasons, " ") != want {
		t.Errorf("audit = %q, want %q", strings.Join(reasons, " "), want)
	}
}

func TestAuthorizeRegionFallback(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, az, region string }{
		{"availability zone", "eu-west-3b", region},
		{"local zone", "us-west-2-lax-1a", "us-west-2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := getSigner(t)
			if tt.region != region {
				var err error
				if s, err = signer.New(tt.region); err != nil {
					t.Fatal(err)
				}
			}
			e := newEnv(t, s)
			k := e.push(t, "alice")
			e.notFound("placement/region")
			e.serve("placement/availability-zone", tt.az)
			got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", "")
			if err != nil || len(got) != 1 || got[0].KeyLine != k.PublicKey {
				t.Errorf("Authorize = %+v, %v", got, err)
			}
		})
	}
}

func TestAuthorizeDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	e.push(t, "alice")
	e.override(keysPath, func(rw http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	e.cfg.Timeout = 300 * time.Millisecond
	start := time.Now()
	got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", "")
	if got != nil || authkeys.ReasonOf(err) != authkeys.ReasonTimeout {
		t.Errorf("Authorize = %v, %v; want a timeout", got, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Authorize took %v with a 300ms deadline", d)
	}

	// IMDS not listening at all.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := e.cfg
	cfg.IMDSEndpoint = "http://" + addr
	if _, err := authkeys.Authorize(context.Background(), cfg, "alice", ""); authkeys.ReasonOf(err) != authkeys.ReasonIMDSUnavailable {
		t.Errorf("IMDS down: err = %v, want imds-unavailable", err)
	}
}

// TestAuthorizeBlockList: a user on the block list gets no key (audited,
// reason blocked) without IMDS being asked; a list that cannot be trusted
// refuses everyone; others are served.
func TestAuthorizeBlockList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	e.push(t, "alice")
	e.push(t, "bob")
	e.cfg.BlockFile = filepath.Join(t.TempDir(), "blocked")
	if err := os.WriteFile(e.cfg.BlockFile, []byte("# test\nalice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := e.requests.Load()
	got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", "")
	if authkeys.ReasonOf(err) != authkeys.ReasonBlocked || got != nil {
		t.Errorf("blocked alice: %+v, %v", got, err)
	}
	// A typed error naming no command: jitssh-host adds the advice.
	if be := (*authkeys.BlockedError)(nil); !errors.As(err, &be) || be.User != "alice" || be.File != e.cfg.BlockFile || strings.Contains(err.Error(), "jitssh-host") {
		t.Errorf("blocked alice: %v", err)
	}
	if n := e.requests.Load(); n != before {
		t.Errorf("%d IMDS requests for a blocked user", n-before)
	}
	if ev := e.rec.all(); len(ev) != 1 || ev[0].Event != audit.EventRequestRefused || ev[0].Reason != string(authkeys.ReasonBlocked) || ev[0].OSUser != "alice" {
		t.Errorf("audit = %+v", ev)
	}
	if got, err := authkeys.Authorize(context.Background(), e.cfg, "bob", ""); err != nil || len(got) != 1 {
		t.Errorf("bob: %+v, %v", got, err)
	}
	os.Chmod(e.cfg.BlockFile, 0o666)
	if _, err := authkeys.Authorize(context.Background(), e.cfg, "bob", ""); authkeys.ReasonOf(err) != authkeys.ReasonBlocked {
		t.Errorf("bob with a world-writable block list: %v", err)
	}
}
