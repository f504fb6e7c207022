// Package signer is the sandbox's stand-in for the EC2 Instance Connect key
// signer: a private certificate chain (root CA → intermediate CA → RSA-2048
// leaf named managed-ssh-signer.<region>.<domain>) whose leaf signs key
// entries exactly as AWS's signer does, plus the OCSP responses IMDS serves
// next to the chain (eic-spec.md §1.3, §1.4).
//
// The CAs use ECDSA P-256 keys to keep start-up fast; only the leaf must be
// RSA, because EIC signatures are RSASSA-PSS. Hosts trust the chain by being
// given RootPEM as their trusted roots; nothing here touches the system
// trust store. It is not meant for anything but the sandbox and tests.
package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // OCSP staple names are SHA-1 fingerprints, as on AWS
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/jitssh/jitssh/internal/eickey"
)

// Config describes a signer. Only Region is required.
type Config struct {
	// Region is the AWS region, e.g. "us-east-1". Required.
	Region string
	// Domain is the partition's domain; "" means "amazonaws.com".
	Domain string
	// CommonName overrides the leaf's subject CN; "" means
	// managed-ssh-signer.<Region>.<Domain>. Tests set it to impersonate a
	// wrong signer.
	CommonName string
	// Now returns the current time, used for certificate and OCSP validity;
	// nil means time.Now.
	Now func() time.Time
	// LeafLifetime is how long the leaf is valid from an hour before Now;
	// zero means a year.
	LeafLifetime time.Duration
}

// Signer holds the chain and the keys. It is safe for concurrent use.
type Signer struct {
	cfg Config

	root, inter, leaf *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
	leafKey           *rsa.PrivateKey
	chainPEM, rootPEM []byte

	mu      sync.Mutex
	revoked map[string]bool // uppercase SHA-1 fingerprint → revoked
}

// New returns a signer for region with a fresh chain.
func New(region string) (*Signer, error) {
	return NewFromConfig(Config{Region: region})
}

// NewFromConfig returns a signer with a fresh chain described by cfg.
func NewFromConfig(cfg Config) (*Signer, error) {
	if cfg.Region == "" {
		return nil, errors.New("signer: region is required")
	}
	if cfg.Domain == "" {
		cfg.Domain = "amazonaws.com"
	}
	if cfg.CommonName == "" {
		cfg.CommonName = CommonName(cfg.Region, cfg.Domain)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LeafLifetime == 0 {
		cfg.LeafLifetime = 365 * 24 * time.Hour
	}
	s := &Signer{cfg: cfg, revoked: map[string]bool{}}
	now := cfg.Now()
	var err error
	if s.rootKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, fmt.Errorf("signer: root key: %w", err)
	}
	if s.interKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, fmt.Errorf("signer: intermediate key: %w", err)
	}
	if s.leafKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, fmt.Errorf("signer: leaf key: %w", err)
	}
	ca := func(cn string, years int) *x509.Certificate {
		return &x509.Certificate{
			Subject:               pkix.Name{CommonName: cn, Organization: []string{"jitssh sandbox"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.AddDate(years, 0, 0),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
	}
	rootTmpl := ca("jitssh Sandbox Root CA 1", 20)
	if s.root, err = s.issue(rootTmpl, rootTmpl, &s.rootKey.PublicKey, s.rootKey); err != nil {
		return nil, fmt.Errorf("signer: root certificate: %w", err)
	}
	interTmpl := ca("jitssh Sandbox Signer CA 1A", 10)
	interTmpl.MaxPathLenZero = true
	if s.inter, err = s.issue(interTmpl, s.root, &s.interKey.PublicKey, s.rootKey); err != nil {
		return nil, fmt.Errorf("signer: intermediate certificate: %w", err)
	}
	leafTmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: cfg.CommonName, Organization: []string{"jitssh sandbox"}},
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(-time.Hour).Add(cfg.LeafLifetime),
		KeyUsage:  x509.KeyUsageDigitalSignature,
	}
	if s.leaf, err = s.issue(leafTmpl, s.inter, &s.leafKey.PublicKey, s.interKey); err != nil {
		return nil, fmt.Errorf("signer: leaf certificate: %w", err)
	}
	s.chainPEM = append(pemCert(s.leaf), pemCert(s.inter)...)
	s.rootPEM = pemCert(s.root)
	return s, nil
}

// CommonName is the subject CN hosts expect of the signer certificate:
// managed-ssh-signer.<region>.<domain>.
func CommonName(region, domain string) string {
	return "managed-ssh-signer." + region + "." + domain
}

func (s *Signer) issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Region returns the signer's region.
func (s *Signer) Region() string { return s.cfg.Region }

// Domain returns the signer's partition domain, e.g. "amazonaws.com".
func (s *Signer) Domain() string { return s.cfg.Domain }

// ChainPEM returns the leaf then the intermediate, PEM-encoded, as IMDS
// serves them at managed-ssh-keys/signer-cert/.
func (s *Signer) ChainPEM() []byte { return append([]byte(nil), s.chainPEM...) }

// RootPEM returns the root CA certificate, PEM-encoded: what a host must be
// given as its trusted roots.
func (s *Signer) RootPEM() []byte { return append([]byte(nil), s.rootPEM...) }

// Leaf returns the signer (leaf) certificate.
func (s *Signer) Leaf() *x509.Certificate { return s.leaf }

// Intermediate returns the intermediate CA certificate.
func (s *Signer) Intermediate() *x509.Certificate { return s.inter }

// Root returns the root CA certificate.
func (s *Signer) Root() *x509.Certificate { return s.root }

// PublicKey returns the leaf's RSA public key.
func (s *Signer) PublicKey() *rsa.PublicKey { return &s.leafKey.PublicKey }

// SignEntry signs the bytes of one key entry (see eickey.SignedBytes) with
// RSASSA-PSS, SHA-256, salt length 32. It is an eickey.SignFunc.
func (s *Signer) SignEntry(signed []byte) ([]byte, error) {
	sig, err := eickey.SignPSS(s.leafKey, signed)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return sig, nil
}

// Fingerprint returns the name IMDS gives a certificate's OCSP staple: the
// uppercase hex SHA-1 of its DER, without colons.
func Fingerprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw) //nolint:gosec // the name AWS uses
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// Revoke makes the OCSP responses for c (the leaf or the intermediate) say
// "revoked" from now on. It is a sandbox knob.
func (s *Signer) Revoke(c *x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[Fingerprint(c)] = true
}

// OCSP returns fresh DER OCSP responses for the leaf and the intermediate,
// keyed by [Fingerprint], each signed directly by the certificate's issuer,
// valid from a minute ago for one hour.
func (s *Signer) OCSP() (map[string][]byte, error) {
	now := s.cfg.Now()
	out := map[string][]byte{}
	for _, p := range []struct {
		cert, issuer *x509.Certificate
		key          crypto.Signer
	}{
		{s.leaf, s.inter, s.interKey},
		{s.inter, s.root, s.rootKey},
	} {
		name := Fingerprint(p.cert)
		s.mu.Lock()
		revoked := s.revoked[name]
		s.mu.Unlock()
		tmpl := ocsp.Response{
			Status:       ocsp.Good,
			SerialNumber: p.cert.SerialNumber,
			ThisUpdate:   now.Add(-time.Minute).UTC().Truncate(time.Second),
			NextUpdate:   now.Add(time.Hour).UTC().Truncate(time.Second),
		}
		if revoked {
			tmpl.Status = ocsp.Revoked
			tmpl.RevokedAt = tmpl.ThisUpdate
			tmpl.RevocationReason = ocsp.KeyCompromise
		}
		der, err := ocsp.CreateResponse(p.issuer, p.issuer, tmpl, p.key)
		if err != nil {
			return nil, fmt.Errorf("signer: OCSP response for %s: %w", p.cert.Subject.CommonName, err)
		}
		out[name] = der
	}
	return out, nil
}

// DelegatedOCSP returns a "good" OCSP response for c (the leaf or the
// intermediate) signed not by c's issuer but by a delegated responder: a
// fresh certificate the issuer signs, valid from notBefore to notAfter,
// with the id-kp-OCSPSigning extended key usage if ocspSigning, embedded
// in the response. It is for tests of what hosts accept.
func (s *Signer) DelegatedOCSP(c *x509.Certificate, notBefore, notAfter time.Time, ocspSigning bool) ([]byte, error) {
	var issuer *x509.Certificate
	var issuerKey crypto.Signer
	switch {
	case c.Equal(s.leaf):
		issuer, issuerKey = s.inter, s.interKey
	case c.Equal(s.inter):
		issuer, issuerKey = s.root, s.rootKey
	default:
		return nil, errors.New("signer: delegated OCSP: not a certificate of this chain")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("signer: responder key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "jitssh Sandbox OCSP Responder", Organization: []string{"jitssh sandbox"}},
		NotBefore: notBefore,
		NotAfter:  notAfter,
		KeyUsage:  x509.KeyUsageDigitalSignature,
	}
	if ocspSigning {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	}
	responder, err := s.issue(tmpl, issuer, &key.PublicKey, issuerKey)
	if err != nil {
		return nil, fmt.Errorf("signer: responder certificate: %w", err)
	}
	now := s.cfg.Now()
	der, err := ocsp.CreateResponse(issuer, responder, ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: c.SerialNumber,
		ThisUpdate:   now.Add(-time.Minute).UTC().Truncate(time.Second),
		NextUpdate:   now.Add(time.Hour).UTC().Truncate(time.Second),
		Certificate:  responder,
	}, key)
	if err != nil {
		return nil, fmt.Errorf("signer: delegated OCSP response for %s: %w", c.Subject.CommonName, err)
	}
	return der, nil
}
