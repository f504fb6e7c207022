package imdssvc_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/jitssh/jitssh/internal/eickey"
	"github.com/jitssh/jitssh/internal/sandbox/imdssvc"
	"github.com/jitssh/jitssh/internal/sandbox/signer"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

const instanceID = "i-0123456789abcdef0"

func newKeyLine(t *testing.T) string {
	t.Helper()
	return testkeys.New(t).Line("alice")
}

type env struct {
	srv   *httptest.Server
	world *world.World
	sig   *signer.Signer
	clock *atomic.Int64 // unix seconds of the world's clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := &atomic.Int64{}
	clock.Store(time.Now().Unix())
	w, err := world.New(world.Config{
		Region:  "eu-west-3",
		Account: "123456789012",
		Now:     func() time.Time { return time.Unix(clock.Load(), 0) },
		Instances: []world.Instance{{
			ID: instanceID, State: "running", AZ: "eu-west-3b",
			PrivateIP: "10.0.3.7", PrivateDNS: "ip-10-0-3-7.eu-west-3.compute.internal",
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := signer.New("eu-west-3")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(imdssvc.New(w, instanceID, s))
	t.Cleanup(srv.Close)
	return &env{srv: srv, world: w, sig: s, clock: clock}
}

func (e *env) do(t *testing.T, method, path string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) token(t *testing.T, ttl string) string {
	t.Helper()
	code, hdr, body := e.do(t, http.MethodPut, "/latest/api/token", map[string]string{imdssvc.TokenTTLHeader: ttl})
	if code != http.StatusOK {
		t.Fatalf("PUT token: HTTP %d %s", code, body)
	}
	if got := hdr.Get(imdssvc.TokenTTLHeader); got != ttl {
		t.Errorf("token TTL header = %q, want %q", got, ttl)
	}
	return body
}

func (e *env) get(t *testing.T, tok, path string) (int, string) {
	t.Helper()
	code, _, body := e.do(t, http.MethodGet, "/latest/meta-data/"+path, map[string]string{imdssvc.TokenHeader: tok})
	return code, body
}

func TestToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no ttl", nil, http.StatusBadRequest},
		{"ttl zero", map[string]string{imdssvc.TokenTTLHeader: "0"}, http.StatusBadRequest},
		{"ttl too long", map[string]string{imdssvc.TokenTTLHeader: "21601"}, http.StatusBadRequest},
		{"ttl not a number", map[string]string{imdssvc.TokenTTLHeader: "5s"}, http.StatusBadRequest},
		{"through a proxy", map[string]string{imdssvc.TokenTTLHeader: "5", "X-Forwarded-For": "10.0.0.1"}, http.StatusForbidden},
		{"shortest", map[string]string{imdssvc.TokenTTLHeader: "1"}, http.StatusOK},
		{"longest", map[string]string{imdssvc.TokenTTLHeader: "21600"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := e.do(t, http.MethodPut, "/latest/api/token", tt.hdr)
			if code != tt.want {
				t.Errorf("PUT token: HTTP %d, want %d (%s)", code, tt.want, body)
			}
		})
	}
	if code, _, _ := e.do(t, http.MethodGet, "/latest/api/token", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET token: HTTP %d, want 405", code)
	}
}

func TestTokenRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token(t, "5")
	if code, body := e.get(t, tok, "instance-id"); code != http.StatusOK || body != instanceID {
		t.Fatalf("instance-id with token: HTTP %d %q", code, body)
	}
	if code, _ := e.get(t, "", "instance-id"); code != http.StatusUnauthorized {
		t.Errorf("no token (IMDSv1): HTTP %d, want 401", code)
	}
	forged := []byte(tok)
	forged[3] ^= 1
	if code, _ := e.get(t, string(forged), "instance-id"); code != http.StatusUnauthorized {
		t.Errorf("forged token: HTTP %d, want 401", code)
	}
	other := newEnv(t).token(t, "5")
	if code, _ := e.get(t, other, "instance-id"); code != http.StatusUnauthorized {
		t.Errorf("another instance's token: HTTP %d, want 401", code)
	}
	e.clock.Add(4)
	if code, _ := e.get(t, tok, "instance-id"); code != http.StatusOK {
		t.Errorf("token at 4s of 5s: HTTP %d, want 200", code)
	}
	e.clock.Add(1)
	if code, _ := e.get(t, tok, "instance-id"); code != http.StatusUnauthorized {
		t.Errorf("expired token: HTTP %d, want 401", code)
	}
	if code, _, _ := e.do(t, http.MethodPost, "/latest/meta-data/instance-id", map[string]string{imdssvc.TokenHeader: tok}); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: HTTP %d, want 405", code)
	}
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token(t, "60")
	for path, want := range map[string]string{
		"instance-id":                   instanceID,
		"instance-id/":                  instanceID,
		"placement/availability-zone/":  "eu-west-3b",
		"placement/region":              "eu-west-3",
		"services/domain/":              "amazonaws.com",
		"local-hostname":                "ip-10-0-3-7.eu-west-3.compute.internal",
		"local-ipv4":                    "10.0.3.7",
		"managed-ssh-keys/signer-cert/": string(e.sig.ChainPEM()),
		"placement/":                    "availability-zone\nregion",
		"managed-ssh-keys/":             "active-keys/\nsigner-cert/\nsigner-ocsp/",
	} {
		code, body := e.get(t, tok, path)
		if code != http.StatusOK || body != want {
			t.Errorf("GET %s: HTTP %d %q, want %q", path, code, body, want)
		}
	}
	for _, path := range []string{"nope", "placement/nope", "managed-ssh-keys/signer-ocsp/0000", "managed-ssh-keys/active-keys/bob/"} {
		if code, _ := e.get(t, tok, path); code != http.StatusNotFound {
			t.Errorf("GET %s: HTTP %d, want 404", path, code)
		}
	}

	// HEAD answers like GET, without a body.
	code, hdr, body := e.do(t, http.MethodHead, "/latest/meta-data/instance-id/", map[string]string{imdssvc.TokenHeader: tok})
	if code != http.StatusOK || body != "" || hdr.Get("Content-Length") != "19" {
		t.Errorf("HEAD instance-id: HTTP %d, body %q, Content-Length %q", code, body, hdr.Get("Content-Length"))
	}
	if code, _, _ := e.do(t, http.MethodHead, "/latest/meta-data/managed-ssh-keys/active-keys/bob/", map[string]string{imdssvc.TokenHeader: tok}); code != http.StatusNotFound {
		t.Errorf("HEAD active-keys with no keys: HTTP %d, want 404", code)
	}

	// OCSP staples: listed by uppercase SHA-1, served as base64 DER.
	code, list := e.get(t, tok, "managed-ssh-keys/signer-ocsp/")
	names := strings.Fields(list)
	if code != http.StatusOK || len(names) != 2 {
		t.Fatalf("signer-ocsp listing: HTTP %d %q", code, list)
	}
	pairs := map[string][2]any{
		signer.Fingerprint(e.sig.Leaf()):         {e.sig.Leaf(), e.sig.Intermediate()},
		signer.Fingerprint(e.sig.Intermediate()): {e.sig.Intermediate(), e.sig.Root()},
	}
	for _, n := range names {
		if _, ok := pairs[n]; !ok {
			t.Errorf("unexpected staple name %q", n)
		}
		code, b64 := e.get(t, tok, "managed-ssh-keys/signer-ocsp/"+n)
		der, err := base64.StdEncoding.DecodeString(b64)
		if code != http.StatusOK || err != nil {
			t.Fatalf("staple %s: HTTP %d, %v", n, code, err)
		}
		if _, err := ocsp.ParseResponse(der, nil); err != nil {
			t.Errorf("staple %s: %v", n, err)
		}
	}

	code, _, doc := e.do(t, http.MethodGet, "/latest/dynamic/instance-identity/document", map[string]string{imdssvc.TokenHeader: tok})
	var d struct{ InstanceID, Region, AccountID string }
	if err := json.Unmarshal([]byte(doc), &d); code != http.StatusOK || err != nil || d.InstanceID != instanceID || d.Region != "eu-west-3" || d.AccountID != "123456789012" {
		t.Errorf("identity document: HTTP %d %v %+v", code, err, d)
	}
}

func TestActiveKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token(t, "60")
	edKey := newKeyLine(t)
	if code, _ := e.get(t, tok, "managed-ssh-keys/active-keys/alice/"); code != http.StatusNotFound {
		t.Fatalf("no keys: HTTP %d, want 404", code)
	}
	pushed := e.world.PushKey(world.PushedKey{
		InstanceID: instanceID, OSUser: "alice", PublicKey: edKey + "\n",
		Caller: "arn:aws:sts::123456789012:assumed-role/Developer/alice", RequestID: "req-1",
	})
	e.world.PushKey(world.PushedKey{InstanceID: instanceID, OSUser: "bob", PublicKey: edKey, Caller: "x", RequestID: "req-2"})
	e.world.PushKey(world.PushedKey{InstanceID: "i-0fedcba9876543210", OSUser: "alice", PublicKey: edKey, Caller: "x", RequestID: "req-3"})

	for _, path := range []string{"managed-ssh-keys/active-keys/alice/", "managed-ssh-keys/active-keys/alice"} {
		code, body := e.get(t, tok, path)
		if code != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d", path, code)
		}
		entries, err := eickey.Parse([]byte(body))
		if err != nil || len(entries) != 1 {
			t.Fatalf("blob: %d entries, %v:\n%s", len(entries), err, body)
		}
		en := entries[0]
		if err := eickey.Verify(&en, eickey.Policy{Signer: e.sig.PublicKey(), Instance: instanceID, Now: e.world.Now()}); err != nil {
			t.Errorf("served entry does not verify: %v", err)
		}
		if en.KeyLine != edKey || en.Caller != pushed.Caller || en.Request != "req-1" || en.Timestamp.Unix() != pushed.Expires.Unix() {
			t.Errorf("served entry = %+v", en)
		}
	}
	// After the 60-second window the keys are gone.
	e.clock.Add(int64(world.KeyLifetime / time.Second))
	tok = e.token(t, "60")
	if code, _ := e.get(t, tok, "managed-ssh-keys/active-keys/alice/"); code != http.StatusNotFound {
		t.Errorf("expired keys: HTTP %d, want 404", code)
	}
}

// TestRoleCredentials: an instance with an instance profile role gets the
// role's temporary credentials, a session named after the instance that
// the world resolves (so the sandbox's APIs accept them); an instance
// without a role gets 404, as on EC2.
func TestRoleCredentials(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, "60")
	if code, _ := e.get(t, tok, "iam/security-credentials/"); code != http.StatusNotFound {
		t.Fatalf("no role: HTTP %d, want 404", code)
	}
	w, err := world.New(world.Config{Region: "eu-west-3", Account: "123456789012",
		Instances: []world.Instance{{ID: instanceID, State: "running", Role: "web"}},
		Roles:     []world.Role{{Name: "web"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = imdssvc.New(w, instanceID, e.sig)
	tok = e.token(t, "60")
	code, name := e.get(t, tok, "iam/security-credentials/")
	if code != 200 || name != "web" {
		t.Fatalf("role listing: HTTP %d %q", code, name)
	}
	code, body := e.get(t, tok, "iam/security-credentials/web")
	var doc struct{ Code, AccessKeyId, SecretAccessKey, Token, Expiration string }
	if code != 200 || json.Unmarshal([]byte(body), &doc) != nil || doc.Code != "Success" || !strings.HasPrefix(doc.AccessKeyId, "ASIA") || doc.Token == "" {
		t.Fatalf("credentials: HTTP %d %s", code, body)
	}
	id, ok := w.Identity(doc.AccessKeyId)
	if !ok || id.ARN != "arn:aws:sts::123456789012:assumed-role/web/"+instanceID || id.SessionToken != doc.Token {
		t.Errorf("the world resolves the key to %+v, %v", id, ok)
	}
	if _, again := e.get(t, tok, "iam/security-credentials/web"); !strings.Contains(again, doc.AccessKeyId) {
		t.Error("credentials not reused while valid")
	}
	if code, _ := e.get(t, tok, "iam/security-credentials/other"); code != http.StatusNotFound {
		t.Errorf("another role's name: HTTP %d, want 404", code)
	}
}
