package authkeys_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/sandbox/signer"
)

// TestAuthorizeDelegatedOCSPResponder: an OCSP response signed by a
// delegated responder (a certificate the issuer signed) counts only while
// that certificate is valid and carries id-kp-OCSPSigning (RFC 6960
// §4.2.2.2). The responses are made by the sandbox's signer, for the leaf
// and for the intermediate.
func TestAuthorizeDelegatedOCSPResponder(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, tt := range []struct {
		name      string
		from, to  time.Time
		eku       bool
		wantError string // "" = accepted
	}{
		{"valid responder", now.Add(-time.Hour), now.Add(time.Hour), true, ""},
		{"expired responder", now.Add(-2 * time.Hour), now.Add(-time.Hour), true, "responder certificate"},
		{"responder not yet valid", now.Add(time.Hour), now.Add(2 * time.Hour), true, "responder certificate"},
		{"responder without OCSPSigning", now.Add(-time.Hour), now.Add(time.Hour), false, "not authorized for OCSP"},
	} {
		for _, which := range []string{"leaf", "intermediate"} {
			t.Run(tt.name+"/"+which, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, getSigner(t))
				k := e.push(t, "alice")
				c := e.signer.Leaf()
				if which == "intermediate" {
					c = e.signer.Intermediate()
				}
				der, err := e.signer.DelegatedOCSP(c, tt.from, tt.to, tt.eku)
				if err != nil {
					t.Fatal(err)
				}
				e.serve("managed-ssh-keys/signer-ocsp/"+signer.Fingerprint(c), base64.StdEncoding.EncodeToString(der))
				got, err := authkeys.Authorize(context.Background(), e.cfg, "alice", "")
				if tt.wantError == "" {
					if err != nil || len(got) != 1 || got[0].KeyLine != k.PublicKey {
						t.Fatalf("Authorize = %+v, %v; want alice's key", got, err)
					}
					return
				}
				if err == nil || authkeys.ReasonOf(err) != authkeys.ReasonOCSPFailed || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("Authorize = %+v, %v; want ocsp-failed mentioning %q", got, err, tt.wantError)
				}
			})
		}
	}
}
