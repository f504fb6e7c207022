// Package imdsfixture is test support: one simulated instance as the
// instance-side code sees it. A sandbox world with the instance, the
// sandbox's EIC signer, and the sandbox's IMDSv2 for it on 127.0.0.1,
// with per-path answers a test can replace and a signer it can swap.
// Production code never imports it (internal/archtest).
package imdsfixture

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/imdssvc"
	"github.com/jitssh/jitssh/internal/sandbox/signer"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Account is the simulated instance's AWS account.
const Account = "123456789012"

var (
	signersMu sync.Mutex
	signers   = map[string]func() (*signer.Signer, error){}
)

// Shared is the signer for region shared by the tests of this process
// that do not change it (RSA key generation dominates test time).
func Shared(region string) (*signer.Signer, error) {
	signersMu.Lock()
	get, ok := signers[region]
	if !ok {
		get = sync.OnceValues(func() (*signer.Signer, error) { return signer.New(region) })
		signers[region] = get
	}
	signersMu.Unlock()
	return get()
}

// SharedSigner is Shared(region), failing t on an error.
func SharedSigner(t testing.TB, region string) *signer.Signer {
	t.Helper()
	s, err := Shared(region)
	if err != nil {
		t.Fatalf("signer for %s: %v", region, err)
	}
	return s
}

// Options describe the instance.
type Options struct {
	Region string
	// Instance is the instance's record; State defaults to "running" and
	// AZ to Region+"a".
	Instance world.Instance
	// Signer signs the instance's keys; SharedSigner(Region) when nil.
	Signer *signer.Signer
	// Now is the world's clock (time.Now when nil).
	Now func() time.Time
	// Intercept, when set, sees every request first (after Requests
	// counts it); returning true means it answered.
	Intercept func(rw http.ResponseWriter, r *http.Request) bool
}

// IMDS is the running fixture.
type IMDS struct {
	World    *world.World
	URL      string       // the IMDS endpoint, http://127.0.0.1:port
	Requests atomic.Int64 // requests served so far

	instance  string
	intercept func(http.ResponseWriter, *http.Request) bool

	mu        sync.Mutex
	signer    *signer.Signer
	inner     http.Handler
	overrides map[string]http.HandlerFunc // by path under /latest/meta-data/, or full path
}

// New starts the IMDS of a new world holding just the instance; it stops
// when t ends.
func New(t testing.TB, o Options) *IMDS {
	t.Helper()
	if o.Signer == nil {
		o.Signer = SharedSigner(t, o.Region)
	}
	if o.Instance.State == "" {
		o.Instance.State = "running"
	}
	if o.Instance.AZ == "" {
		o.Instance.AZ = o.Region + "a"
	}
	w, err := world.New(world.Config{Region: o.Region, Account: Account, Now: o.Now, Instances: []world.Instance{o.Instance}})
	if err != nil {
		t.Fatal(err)
	}
	m := &IMDS{World: w, instance: o.Instance.ID, intercept: o.Intercept, overrides: map[string]http.HandlerFunc{}}
	m.SetSigner(o.Signer)
	srv := httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(srv.Close)
	m.URL = srv.URL
	return m
}

func (m *IMDS) serve(rw http.ResponseWriter, r *http.Request) {
	m.Requests.Add(1)
	if m.intercept != nil && m.intercept(rw, r) {
		return
	}
	m.mu.Lock()
	var h http.Handler = m.inner
	if o := m.overrides[strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")]; o != nil {
		h = o
	}
	m.mu.Unlock()
	h.ServeHTTP(rw, r)
}

// Signer is the signer the IMDS signs with now.
func (m *IMDS) Signer() *signer.Signer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.signer
}

// SetSigner replaces the IMDS with a new one signing with s; the new one
// knows none of the tokens given out so far.
func (m *IMDS) SetSigner(s *signer.Signer) {
	m.SetHandler(imdssvc.New(m.World, m.instance, s))
	m.mu.Lock()
	m.signer = s
	m.mu.Unlock()
}

// Restart replaces the IMDS with a new one with the same signer, which
// knows none of the tokens given out so far.
func (m *IMDS) Restart() { m.SetSigner(m.Signer()) }

// Handler is what answers the paths not overridden.
func (m *IMDS) Handler() http.Handler {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inner
}

// SetHandler makes h answer the paths not overridden (a wrapper of
// Handler(), say).
func (m *IMDS) SetHandler(h http.Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inner = h
}

// Override makes h answer path: under /latest/meta-data/
// ("managed-ssh-keys/active-keys/alice/"), or a full path outside it
// ("/latest/api/token"); nil restores the IMDS's own answer.
func (m *IMDS) Override(path string, h http.HandlerFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h == nil {
		delete(m.overrides, path)
		return
	}
	m.overrides[path] = h
}

// Serve makes path answer body.
func (m *IMDS) Serve(path, body string) {
	m.Override(path, func(rw http.ResponseWriter, _ *http.Request) { rw.Write([]byte(body)) })
}

// NotFound makes path answer 404.
func (m *IMDS) NotFound(path string) { m.Override(path, http.NotFound) }

// WriteRoots writes the PEM of the signer's root, then of extra's, to
// path (0644) and returns path.
func (m *IMDS) WriteRoots(t testing.TB, path string, extra ...*signer.Signer) string {
	t.Helper()
	var pem []byte
	for _, s := range append([]*signer.Signer{m.Signer()}, extra...) {
		pem = append(pem, s.RootPEM()...)
	}
	if err := os.WriteFile(path, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
