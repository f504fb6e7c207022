package signer_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/jitssh/jitssh/internal/eickey"
	"github.com/jitssh/jitssh/internal/sandbox/signer"
)

func TestSigner(t *testing.T) {
	t.Parallel()
	s, err := signer.New("eu-west-3")
	if err != nil {
		t.Fatal(err)
	}

	var chain []*x509.Certificate
	for rest := s.ChainPEM(); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	if len(chain) != 2 {
		t.Fatalf("ChainPEM holds %d certificates, want leaf and intermediate", len(chain))
	}
	if got, want := chain[0].Subject.CommonName, "managed-ssh-signer.eu-west-3.amazonaws.com"; got != want {
		t.Errorf("leaf CN = %q, want %q", got, want)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.RootPEM()) {
		t.Fatal("RootPEM holds no certificate")
	}
	inters := x509.NewCertPool()
	inters.AddCert(chain[1])
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("chain does not verify to the root: %v", err)
	}

	msg := []byte("#Timestamp=1\n#Instance=i-0123456789abcdef0\nssh-ed25519 AAAA\n")
	sig, err := s.SignEntry(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := eickey.VerifyPSS(s.PublicKey(), msg, sig); err != nil {
		t.Errorf("signature does not verify with the leaf key: %v", err)
	}

	check := func(want int) {
		t.Helper()
		resps, err := s.OCSP()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range [][2]*x509.Certificate{{s.Leaf(), s.Intermediate()}, {s.Intermediate(), s.Root()}} {
			der, ok := resps[signer.Fingerprint(p[0])]
			if !ok {
				t.Fatalf("no OCSP response for %s", p[0].Subject.CommonName)
			}
			r, err := ocsp.ParseResponseForCert(der, p[0], p[1])
			if err != nil {
				t.Fatalf("OCSP response for %s: %v", p[0].Subject.CommonName, err)
			}
			wantStatus := ocsp.Good
			if p[0] == s.Leaf() {
				wantStatus = want
			}
			if r.Status != wantStatus {
				t.Errorf("%s: OCSP status %d, want %d", p[0].Subject.CommonName, r.Status, wantStatus)
			}
			if time.Until(r.NextUpdate) < 30*time.Minute || time.Since(r.ThisUpdate) < 0 {
				t.Errorf("OCSP validity %v..%v", r.ThisUpdate, r.NextUpdate)
			}
		}
	}
	check(ocsp.Good)
	s.Revoke(s.Leaf())
	check(ocsp.Revoked)

	if n := len(signer.Fingerprint(s.Leaf())); n != 40 {
		t.Errorf("fingerprint has %d hex digits, want 40", n)
	}
}

func TestNewNeedsRegion(t *testing.T) {
	t.Parallel()
	if _, err := signer.New(""); err == nil {
		t.Error("New(\"\") succeeded")
	}
}
