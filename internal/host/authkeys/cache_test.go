package authkeys_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/authkeys"
)

// TestSignerCache: a second authorization with a cache skips the OCSP
// fetches; the leaf's CN is still checked on a cache hit; an expired entry
// is verified again.
func TestSignerCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, getSigner(t))
	var ocspGets atomic.Int64
	e.push(t, "alice")
	now := time.Now()
	e.cfg.Now = func() time.Time { return now }
	e.cfg.Signers = authkeys.NewSignerCache(30 * time.Second)
	// Count OCSP fetches through a proxy in front of IMDS.
	e.cfg.IMDSEndpoint = newCountingProxy(t, e.cfg.IMDSEndpoint, "/signer-ocsp/", &ocspGets)

	for i, wantOCSP := range []int64{2, 2} {
		keys, err := authkeys.Authorize(context.Background(), e.cfg, "alice", "")
		if err != nil || len(keys) != 1 {
			t.Fatalf("call %d: %d keys, %v", i, len(keys), err)
		}
		if got := ocspGets.Load(); got != wantOCSP {
			t.Errorf("after call %d: %d OCSP fetches, want %d", i, got, wantOCSP)
		}
	}
	if e.cfg.Signers.Len() != 1 {
		t.Errorf("cache holds %d entries, want 1", e.cfg.Signers.Len())
	}
	// A hit never skips the CN check: the same chain for another region.
	e.serve("placement/region", "us-west-2")
	if _, err := authkeys.Authorize(context.Background(), e.cfg, "alice", ""); authkeys.ReasonOf(err) != authkeys.ReasonSignerCNMismatch {
		t.Errorf("cached chain under another region: %v, want %s", err, authkeys.ReasonSignerCNMismatch)
	}
	e.override("placement/region", nil)
	// Past the TTL the chain is verified (and its OCSP fetched) again.
	now = now.Add(45 * time.Second)
	e.cfg.Now = func() time.Time { return now }
	if _, err := authkeys.Authorize(context.Background(), e.cfg, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if got := ocspGets.Load(); got != 4 {
		t.Errorf("after expiry: %d OCSP fetches, want 4", got)
	}
}

func newCountingProxy(t *testing.T, target, pathPart string, n *atomic.Int64) string {
	t.Helper()
	client := &http.Client{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, pathPart) {
			n.Add(1)
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.Path, nil)
		if err != nil {
			http.Error(rw, err.Error(), 500)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			rw.Header()[k] = v
		}
		rw.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			m, err := resp.Body.Read(buf)
			rw.Write(buf[:m])
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
