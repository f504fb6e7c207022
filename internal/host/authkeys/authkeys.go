// Package authkeys is the core of jitssh-host's AuthorizedKeysCommand: given
// an OS user (sshd's %u) and optionally the fingerprint of the offered key
// (%f), it fetches the user's EC2 Instance Connect keys from IMDSv2,
// establishes trust in the signer certificate and returns the keys that pass
// every check. The CLI prints them for sshd; the sandbox's embedded SSH
// server calls [Authorize] in-process.
//
// The checks follow AWS's eic_curl_authorized_keys and
// eic_parse_authorized_keys (eic-spec.md §1.2–§1.5), with these deliberate
// differences:
//   - the region comes from placement/region (falling back to the
//     availability zone), so Local Zones work;
//   - the user name is validated before it goes into a URL path;
//   - the chain is verified with crypto/x509 against the configured roots
//     (default: the system roots) and every certificate below the trust
//     anchor needs a good, current OCSP response from IMDS, checked with
//     golang.org/x/crypto/ocsp (thisUpdate/nextUpdate enforced, 5 minutes of
//     clock skew allowed; a delegated responder's certificate must carry
//     id-kp-OCSPSigning and be valid now);
//   - every entry is judged on its own, so one bad entry never hides a good
//     one (AWS's script refuses every key then), and the work is bounded
//     without refusing the blob as a whole: of the entries for the offered
//     key only the eickey.MaxVerify newest are verified, only the first
//     eickey.MaxBodySize bytes are parsed, at most 16 refusals are recorded
//     one by one (one summary event says what was left out);
//   - the user's key list is fetched first, and nothing else when there is
//     none (one request, or two with the token); the other IMDS requests
//     then run concurrently; all under one hard deadline (default 3 s),
//     each with a 1 s timeout.
//
// Fail closed: any error returns no keys. A [SignerCache] (optional)
// remembers a verified signer chain, keyed by the chain's bytes, until the
// earliest of its own lifetime, the OCSP nextUpdate and the certificates'
// expiry, so a long-lived caller (the userdb service) skips the OCSP fetches
// and the chain verification; the leaf's CN is still checked every call.
// This package does not check that the OS user exists, and does not decide
// exit codes: see internal/hostcli.
package authkeys

import (
	"context"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // IMDS names OCSP staples by SHA-1 fingerprint
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/jitssh/jitssh/internal/eickey"
	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/blocklist"
	"github.com/jitssh/jitssh/internal/imds"
)

// DefaultTimeout bounds one Authorize call when Config.Timeout is zero. It
// is well under AWS's 5-second budget and sshd's patience.
const DefaultTimeout = 3 * time.Second

// Config is what Authorize needs. The zero value talks to the real IMDS,
// trusts the system roots and records nothing.
type Config struct {
	// IMDSEndpoint is the IMDS base URL; "" means http://169.254.169.254.
	IMDSEndpoint string
	// Roots are the roots the signer chain must verify to; nil means the
	// system roots.
	Roots *x509.CertPool
	// Timeout bounds the whole call; zero means DefaultTimeout.
	Timeout time.Duration
	// RequestTimeout bounds each IMDS request; zero means 1 s.
	RequestTimeout time.Duration
	// Audit receives one event per key served or refused and per refused
	// request; nil records nothing. A failure to record a served key
	// refuses it.
	Audit audit.Recorder
	// Now returns the instance's time; nil means time.Now.
	Now func() time.Time
	// Signers caches verified signer chains between calls; nil caches
	// nothing. One cache must only be used with one Roots.
	Signers *SignerCache
	// IMDS, when set, is a long-lived client (NewSharedIMDS) shared between
	// calls: its keep-alive connections and its IMDSv2 token (for at most
	// SharedTokenReuse) are reused, and IMDSEndpoint and RequestTimeout
	// are ignored. nil makes a client, and a token, per call.
	IMDS *imds.Client
	// BlockFile is the runtime block list (internal/host/blocklist): a
	// user on it gets no key, and a list that cannot be read refuses
	// every user. "" means no list.
	BlockFile string
}

// SharedTokenReuse is the longest a shared client's IMDSv2 token is used;
// tokens are requested for SharedTokenTTL.
const (
	SharedTokenReuse = time.Minute
	SharedTokenTTL   = 3 * time.Minute
)

// MaxIMDSBody is the largest IMDS answer read. It is twice
// eickey.MaxBodySize so that a key blob someone filled past the parser's
// limit still has its first MaxBodySize bytes served; only a blob beyond
// this (thousands of keys pushed within one minute) refuses the request.
const MaxIMDSBody = 2 * eickey.MaxBodySize

// Bounds on one request's work and audit volume, whatever the blob holds.
const (
	// maxRefusalEvents is the most key-refused events one request records
	// one by one; the rest are counted in one more event.
	maxRefusalEvents = 16
)

// ReasonNotVerified is the key-refused reason of the summary event for
// entries left unchecked by the bounds (eickey.Newest, eickey.MaxBodySize)
// or whose refusals were not recorded one by one.
const ReasonNotVerified = "not-verified-over-limit"

// NewSharedIMDS returns a client for Config.IMDS from cfg's endpoint and
// request timeout. Close it when done.
func NewSharedIMDS(cfg Config) (*imds.Client, error) {
	return imds.New(imds.Options{Endpoint: cfg.IMDSEndpoint, RequestTimeout: cfg.RequestTimeout, TokenTTL: SharedTokenTTL, MaxBody: MaxIMDSBody})
}

// Accepted is a key that passed every check.
type Accepted struct {
	// KeyLine is the authorized_keys line to give sshd, comment included.
	KeyLine string
	// Fingerprint is the key's SHA256 fingerprint, as sshd logs it.
	Fingerprint string
	// Caller is the IAM principal ARN that pushed the key (#Caller).
	Caller string
	// RequestID is the SendSSHPublicKey request id (#Request).
	RequestID string
	// Expires is when the key stops being valid (#Timestamp).
	Expires time.Time
}

// Reason is a stable code for why a request was refused. Per-key reasons
// are eickey.Reason values.
type Reason string

// Request-level refusal reasons.
const (
	ReasonBadUser          Reason = "bad-user"
	ReasonBadFingerprint   Reason = "bad-fingerprint"
	ReasonIMDSUnavailable  Reason = "imds-unavailable"
	ReasonBadInstanceID    Reason = "bad-instance-id"
	ReasonBadRegion        Reason = "bad-region"
	ReasonBadDomain        Reason = "bad-domain"
	ReasonNoSigner         Reason = "no-signer"
	ReasonSignerCNMismatch Reason = "signer-cn-mismatch"
	ReasonUntrustedSigner  Reason = "untrusted-signer"
	ReasonRevoked          Reason = "signer-revoked"
	ReasonOCSPFailed       Reason = "ocsp-failed"
	ReasonBadBlob          Reason = "bad-key-blob"
	ReasonTimeout          Reason = "timeout"
	ReasonAuditFailed      Reason = "audit-failed"
	// ReasonNoValidKey: keys were published for the user but every one was
	// refused; each refusal has its own key-refused audit event.
	ReasonNoValidKey Reason = "no-valid-key"
	// ReasonBlocked: the user is on the block list (or the list cannot be
	// read).
	ReasonBlocked Reason = "blocked"
)

// Error is the error Authorize returns; Reason says what kind of refusal.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Reason, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// BlockedError: the user is on the block list (the Err of an *Error with
// ReasonBlocked).
type BlockedError struct {
	// User is the login name; File the block list naming it.
	User, File string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%s is on the block list %s", e.User, e.File)
}

// ReasonOf returns the Reason of an *Error in err's chain, or "".
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func refuse(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Err: fmt.Errorf(format, args...)}
}

// allowedDomains are the partitions whose signer AWS's script accepts.
var allowedDomains = map[string]bool{
	"amazonaws.com":    true,
	"amazonaws.com.cn": true,
	"c2s.ic.gov":       true,
	"sc2s.sgov.gov":    true,
}

var (
	// Bounded repetitions ({8,32}) compile to one instruction per repeat,
	// which costs the AuthorizedKeysCommand's start-up; lengths are checked
	// in code instead.
	instanceIDRE = regexp.MustCompile(`^i-[0-9a-f]+$`) // and 8 to 32 hex digits
	regionRE     = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)*-[0-9]+$`)
	azRegionRE   = regexp.MustCompile(`^(?:[a-z]+-)+[0-9]+`)
	sha256FPRE   = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]+$`)                  // and 43 characters
	md5FPRE      = regexp.MustCompile(`^MD5:[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2})+$`) // and 16 bytes
)

// MaxUserLength is the longest OS user name accepted, as EIC's API.
const MaxUserLength = 32

// ValidUser reports whether user may be used in an IMDS path. It accepts
// exactly the names EIC's SendSSHPublicKey accepts (1–32 characters of
// letters, digits, "@", ".", "_", "-", starting with a letter, digit or
// "_", optionally ending in "$"), so no key can exist for anything else.
func ValidUser(user string) error {
	if user == "" || len(user) > MaxUserLength {
		return fmt.Errorf("user name must be 1 to %d characters", MaxUserLength)
	}
	if strings.Contains(user, "..") {
		return fmt.Errorf("user name %q contains \"..\"", user)
	}
	for i, c := range []byte(user) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '@' || c == '.' || c == '-') && i > 0:
		case c == '$' && i > 0 && i == len(user)-1:
		default:
			return fmt.Errorf("user name %q contains %q at offset %d", audit.Sanitize(user, 64), c, i)
		}
	}
	return nil
}

// validFingerprint accepts "" or an sshd %f value in SHA256 or MD5 form.
func validFingerprint(fp string) bool {
	return fp == "" || (len(fp) == len("SHA256:")+43 && sha256FPRE.MatchString(fp)) ||
		(len(fp) == len("MD5:")+16*3-1 && md5FPRE.MatchString(fp))
}

// Authorize returns the keys sshd may accept for user. fingerprint, when
// not empty, is sshd's %f: only entries for that key are considered, and
// entries for other keys are skipped silently (not refusals).
//
// It returns no keys and a nil error when no key is published for the user
// (or none for that fingerprint); a nil slice and an *Error when anything
// fails or every published key was refused. Every key served and every
// refusal is recorded to cfg.Audit before Authorize returns.
func Authorize(ctx context.Context, cfg Config, user, fingerprint string) ([]Accepted, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	r := &run{cfg: cfg, user: user, fp: fingerprint, now: cfg.Now()}
	var accepted []Accepted
	var err error
	if blocked, berr := blocklist.Blocked(cfg.BlockFile, user); berr != nil {
		err = &Error{Reason: ReasonBlocked, Err: fmt.Errorf("every key is refused while the block list cannot be read: %w", berr)}
	} else if blocked {
		err = &Error{Reason: ReasonBlocked, Err: &BlockedError{User: user, File: cfg.BlockFile}}
	} else {
		accepted, err = r.authorize(ctx)
	}
	// A dial or read deadline can fire a hair before ctx's own timer.
	deadline, _ := ctx.Deadline()
	if err != nil && (ctx.Err() != nil || !time.Now().Before(deadline)) && ReasonOf(err) != ReasonNoValidKey {
		err = &Error{Reason: ReasonTimeout, Err: fmt.Errorf("gave up after %s: %w", cfg.Timeout, err)}
	}
	if err != nil && ReasonOf(err) == "" {
		err = &Error{Reason: ReasonIMDSUnavailable, Err: err}
	}
	if err != nil && ReasonOf(err) != ReasonNoValidKey {
		ev := refusalEvent(user, fingerprint, err)
		ev.Time, ev.Instance = r.now, r.instance
		r.events = append(r.events, ev)
	}
	if cfg.Audit != nil {
		for _, ev := range r.events {
			if aerr := cfg.Audit.Record(ev); aerr != nil && ev.Event == audit.EventKeyServed {
				return nil, &Error{Reason: ReasonAuditFailed, Err: fmt.Errorf("record key %s for %s: %w", ev.Fingerprint, user, aerr)}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return accepted, nil
}

// run is the state of one Authorize call.
type run struct {
	cfg      Config
	user, fp string
	now      time.Time
	instance string
	events   []audit.Event
}

// fetched holds the concurrent IMDS answers.
type fetched struct {
	instanceID, region, domain string
	chainPEM, keys             []byte
	keysMissing                bool
	staples                    map[string][]byte // by uppercase SHA-1 hex; nil value = absent
}

func (r *run) authorize(ctx context.Context) ([]Accepted, error) {
	if err := ValidUser(r.user); err != nil {
		return nil, &Error{Reason: ReasonBadUser, Err: err}
	}
	if !validFingerprint(r.fp) {
		return nil, refuse(ReasonBadFingerprint, "fingerprint %q is not an sshd %%f value", audit.Sanitize(r.fp, 80))
	}
	client := r.cfg.IMDS
	if client == nil {
		c, err := imds.New(imds.Options{
			Endpoint:       r.cfg.IMDSEndpoint,
			RequestTimeout: r.cfg.RequestTimeout,
			TokenTTL:       r.cfg.Timeout + time.Second,
			MaxBody:        MaxIMDSBody,
		})
		if err != nil {
			return nil, &Error{Reason: ReasonIMDSUnavailable, Err: err}
		}
		defer c.Close()
		client = c
	}
	var (
		sess   *imds.Session
		cached bool
		err    error
	)
	if r.cfg.IMDS != nil {
		sess, cached, err = client.CachedSession(ctx, SharedTokenReuse)
	} else {
		sess, err = client.Session(ctx)
	}
	if err != nil {
		return nil, &Error{Reason: ReasonIMDSUnavailable, Err: err}
	}
	f, err := r.fetch(ctx, sess)
	var se *imds.StatusError
	if err != nil && cached && errors.As(err, &se) && se.Code == 401 {
		// The shared token is no longer accepted (IMDS restarted, or the
		// instance was stopped and started): once more with a new one.
		client.Forget(sess)
		if sess, _, err = client.CachedSession(ctx, SharedTokenReuse); err != nil {
			return nil, &Error{Reason: ReasonIMDSUnavailable, Err: err}
		}
		f, err = r.fetch(ctx, sess)
	}
	if err != nil {
		return nil, err
	}
	r.instance = f.instanceID
	if f.keysMissing {
		return nil, nil
	}
	signerKey, err := r.verifySigner(f)
	if err != nil {
		return nil, err
	}
	return r.judge(f, signerKey)
}

// fetch gets the user's key list first, and only when there is one
// everything else, in two concurrent rounds: the metadata and chain, and,
// as soon as the chain is in, the OCSP staples of its certificates. A name
// without keys (the common case for a lookup of a name that is no
// just-in-time user, and what a flood of made-up names causes) costs one
// request.
func (r *run) fetch(ctx context.Context, sess *imds.Session) (*fetched, error) {
	f := &fetched{staples: map[string][]byte{}}
	b, err := sess.Get(ctx, "managed-ssh-keys/active-keys/"+r.user+"/")
	switch {
	case errors.Is(err, imds.ErrNotFound):
		f.keysMissing = true
		return f, nil
	case errors.Is(err, imds.ErrTooLarge):
		return nil, &Error{Reason: ReasonBadBlob, Err: err}
	case err != nil:
		return nil, &Error{Reason: ReasonIMDSUnavailable, Err: err}
	}
	f.keys = b
	var (
		wg    sync.WaitGroup
		first firstError
	)
	get := func(path string, dst *string) {
		defer wg.Done()
		v, err := sess.GetString(ctx, path)
		if err != nil {
			first.set(&Error{Reason: ReasonIMDSUnavailable, Err: err})
			return
		}
		*dst = v
	}
	wg.Add(4)
	go get("instance-id", &f.instanceID)
	go get("services/domain", &f.domain)
	go func() {
		defer wg.Done()
		r.fetchRegion(ctx, sess, f, &first)
	}()
	go func() {
		defer wg.Done()
		r.fetchSigner(ctx, sess, f, &first)
	}()
	wg.Wait()
	if first.err != nil {
		return nil, first.err
	}
	if err := checkFacts(f); err != nil {
		return nil, err
	}
	return f, nil
}

// firstError keeps the first error of concurrent requests; its mutex
// also guards what they write to a shared map.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (e *firstError) set(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}

// fetchRegion gets the instance's region, from its AZ on an older IMDS
// (as AWS's script does).
func (r *run) fetchRegion(ctx context.Context, sess *imds.Session, f *fetched, first *firstError) {
	region, err := sess.GetString(ctx, "placement/region")
	if errors.Is(err, imds.ErrNotFound) {
		var az string
		if az, err = sess.GetString(ctx, "placement/availability-zone"); err == nil {
			region = azRegionRE.FindString(az)
		}
	}
	if err != nil {
		first.set(&Error{Reason: ReasonIMDSUnavailable, Err: err})
		return
	}
	f.region = region
}

// fetchSigner gets the signer chain and, unless it was verified before,
// the OCSP staples of its certificates, concurrently.
func (r *run) fetchSigner(ctx context.Context, sess *imds.Session, f *fetched, first *firstError) {
	b, err := sess.Get(ctx, "managed-ssh-keys/signer-cert/")
	if errors.Is(err, imds.ErrNotFound) {
		first.set(refuse(ReasonNoSigner, "IMDS has no signer certificate"))
		return
	}
	if err != nil {
		first.set(&Error{Reason: ReasonIMDSUnavailable, Err: err})
		return
	}
	f.chainPEM = b
	if _, ok := r.cfg.Signers.get(b, r.now); ok {
		return // verified before: no OCSP needed
	}
	certs, err := parseChain(b)
	if err != nil {
		return // reported by verifySigner
	}
	var wg sync.WaitGroup
	for _, c := range certs {
		name := sha1Name(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := sess.Get(ctx, "managed-ssh-keys/signer-ocsp/"+name)
			if err != nil && !errors.Is(err, imds.ErrNotFound) {
				first.set(&Error{Reason: ReasonIMDSUnavailable, Err: err})
				return
			}
			first.mu.Lock()
			f.staples[name] = b
			first.mu.Unlock()
		}()
	}
	wg.Wait()
}

// checkFacts refuses an instance id, domain or region from IMDS that is
// not one AWS would give.
func checkFacts(f *fetched) error {
	if n := len(f.instanceID) - 2; n < 8 || n > 32 || !instanceIDRE.MatchString(f.instanceID) {
		return refuse(ReasonBadInstanceID, "IMDS instance id %q is not an EC2 instance id", audit.Sanitize(f.instanceID, 64))
	}
	if !allowedDomains[f.domain] {
		return refuse(ReasonBadDomain, "IMDS domain %q is not an AWS partition", audit.Sanitize(f.domain, 64))
	}
	if len(f.region) > 32 || !regionRE.MatchString(f.region) {
		return refuse(ReasonBadRegion, "IMDS region %q is not a region name", audit.Sanitize(f.region, 64))
	}
	return nil
}

// maxChain is the most certificates accepted in the signer chain.
const maxChain = 8

// parseChain decodes the PEM chain from IMDS, leaf first.
func parseChain(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			if strings.TrimSpace(string(rest)) != "" {
				return nil, errors.New("signer-cert: trailing data after the last certificate")
			}
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("signer-cert: unexpected PEM block %q", blk.Type)
		}
		if len(certs) == maxChain {
			return nil, fmt.Errorf("signer-cert: more than %d certificates", maxChain)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signer-cert: certificate %d: %w", len(certs), err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("signer-cert: no certificate")
	}
	return certs, nil
}

func sha1Name(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw) //nolint:gosec // the name IMDS uses
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// ocspSkew is the clock skew tolerated on OCSP thisUpdate/nextUpdate, as
// OpenSSL's default.
const ocspSkew = 5 * time.Minute

// ocspMaxAge bounds the age of a response that has no nextUpdate.
const ocspMaxAge = 7 * 24 * time.Hour

// verifySigner checks the signer chain and returns the leaf's key.
func (r *run) verifySigner(f *fetched) (*rsa.PublicKey, error) {
	certs, err := parseChain(f.chainPEM)
	if err != nil {
		return nil, &Error{Reason: ReasonNoSigner, Err: err}
	}
	leaf := certs[0]
	wantCN := "managed-ssh-signer." + f.region + "." + f.domain
	if leaf.Subject.CommonName != wantCN {
		return nil, refuse(ReasonSignerCNMismatch, "signer certificate is for %q, want %q", audit.Sanitize(leaf.Subject.CommonName, 128), wantCN)
	}
	if pub, ok := r.cfg.Signers.get(f.chainPEM, r.now); ok {
		return pub, nil
	}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < 2048 {
		return nil, refuse(ReasonUntrustedSigner, "signer certificate %q does not hold an RSA key of at least 2048 bits", wantCN)
	}
	inters := x509.NewCertPool()
	for _, c := range certs[1:] {
		inters.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         r.cfg.Roots,
		Intermediates: inters,
		CurrentTime:   r.now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, &Error{Reason: ReasonUntrustedSigner, Err: fmt.Errorf("signer certificate %q: %w", wantCN, err)}
	}
	// Every certificate below the trust anchor needs a good OCSP staple.
	// Any one chain that passes is enough.
	var ocspErr *Error
	for _, chain := range chains {
		var until time.Time
		if until, ocspErr = r.checkOCSP(chain, f.staples); ocspErr == nil {
			r.cfg.Signers.put(f.chainPEM, pub, until, r.now)
			return pub, nil
		}
	}
	return nil, ocspErr
}

// checkOCSP checks the staples of chain and returns until when the chain's
// verification holds: the earliest certificate expiry and OCSP nextUpdate.
func (r *run) checkOCSP(chain []*x509.Certificate, staples map[string][]byte) (time.Time, *Error) {
	until := chain[0].NotAfter
	for _, c := range chain[1:] {
		if c.NotAfter.Before(until) {
			until = c.NotAfter
		}
	}
	for i := 0; i < len(chain)-1; i++ {
		cert, issuer := chain[i], chain[i+1]
		name := sha1Name(cert)
		cn := audit.Sanitize(cert.Subject.CommonName, 128)
		b64 := staples[name]
		if len(b64) == 0 {
			return time.Time{}, refuse(ReasonOCSPFailed, "no OCSP response for %q (signer-ocsp/%s)", cn, name)
		}
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b64)), ""))
		if err != nil {
			return time.Time{}, refuse(ReasonOCSPFailed, "OCSP response for %q is not base64: %v", cn, err)
		}
		resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
		if err != nil {
			return time.Time{}, refuse(ReasonOCSPFailed, "OCSP response for %q: %v", cn, err)
		}
		// A delegated responder (RFC 6960 §4.2.2.2): ParseResponseForCert
		// checked that the issuer signed its certificate; it must also be
		// meant for OCSP and valid now.
		if rc := resp.Certificate; rc != nil {
			if !hasOCSPSigning(rc) {
				return time.Time{}, refuse(ReasonOCSPFailed, "OCSP response for %q is signed by a certificate not authorized for OCSP", cn)
			}
			if r.now.Before(rc.NotBefore) || r.now.After(rc.NotAfter) {
				return time.Time{}, refuse(ReasonOCSPFailed, "OCSP response for %q is signed by a responder certificate valid only from %s to %s", cn,
					rc.NotBefore.UTC().Format(time.RFC3339), rc.NotAfter.UTC().Format(time.RFC3339))
			}
			if rc.NotAfter.Before(until) {
				until = rc.NotAfter
			}
		}
		switch resp.Status {
		case ocsp.Good:
		case ocsp.Revoked:
			return time.Time{}, refuse(ReasonRevoked, "signer certificate %q was revoked at %s", cn, resp.RevokedAt.UTC().Format(time.RFC3339))
		default:
			return time.Time{}, refuse(ReasonOCSPFailed, "OCSP status of %q is unknown", cn)
		}
		if resp.ThisUpdate.After(r.now.Add(ocspSkew)) {
			return time.Time{}, refuse(ReasonOCSPFailed, "OCSP response for %q is from the future (%s)", cn, resp.ThisUpdate.UTC().Format(time.RFC3339))
		}
		if !resp.NextUpdate.IsZero() && resp.NextUpdate.Before(r.now.Add(-ocspSkew)) {
			return time.Time{}, refuse(ReasonOCSPFailed, "OCSP response for %q went stale at %s", cn, resp.NextUpdate.UTC().Format(time.RFC3339))
		}
		if resp.NextUpdate.IsZero() && resp.ThisUpdate.Before(r.now.Add(-ocspMaxAge)) {
			return time.Time{}, refuse(ReasonOCSPFailed, "OCSP response for %q is older than %s", cn, ocspMaxAge)
		}
		next := resp.NextUpdate
		if next.IsZero() {
			next = resp.ThisUpdate.Add(ocspMaxAge)
		}
		if next.Before(until) {
			until = next
		}
	}
	return until, nil
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func hasOCSPSigning(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageOCSPSigning {
			return true
		}
	}
	return false
}

// judge verifies each entry on its own, within bounds: of the well-formed
// entries for the offered key (sshd's %f), only the eickey.MaxVerify newest
// have their signature checked, and only the first eickey.MaxBodySize
// bytes of the blob are read. What is left out is recorded in one audit
// event; it never makes the valid keys within the bounds refused.
func (r *run) judge(f *fetched, signerKey *rsa.PublicKey) ([]Accepted, error) {
	entries, perr := eickey.Parse(f.keys)
	if perr != nil && !errors.Is(perr, eickey.ErrLimit) {
		return nil, &Error{Reason: ReasonBadBlob, Err: perr}
	}
	policy := eickey.Policy{Signer: signerKey, Instance: f.instanceID, Fingerprint: r.fp, Now: r.now}
	chosen, skipped := eickey.Newest(entries, r.fp, eickey.MaxVerify)
	var (
		accepted []Accepted
		refused  = map[string]int{}
		unlogged int
	)
	for _, e := range chosen {
		err := eickey.Verify(e, policy)
		reason := eickey.ReasonOf(err)
		if reason == eickey.ReasonFingerprintMismatch {
			continue // an entry for another key: not this request's business
		}
		if err != nil {
			if reason == "" {
				reason = eickey.ReasonMalformed
			}
			refused[string(reason)]++
			if sum(refused) > maxRefusalEvents {
				unlogged++
				continue
			}
			ev := audit.Event{
				Time: r.now, Event: audit.EventKeyRefused, Instance: f.instanceID, OSUser: r.user,
				Fingerprint: e.Fingerprint, Reason: string(reason), Detail: err.Error(),
			}
			// Claims are only recorded when the signer made them.
			if reason == eickey.ReasonWrongInstance || reason == eickey.ReasonExpired {
				ev.Caller, ev.RequestID, ev.Expires = e.Caller, e.Request, e.Timestamp
			}
			r.events = append(r.events, ev)
			continue
		}
		accepted = append(accepted, Accepted{
			KeyLine: e.KeyLine, Fingerprint: e.Fingerprint, Caller: e.Caller,
			RequestID: e.Request, Expires: e.Timestamp,
		})
		r.events = append(r.events, audit.Event{
			Time: r.now, Event: audit.EventKeyServed, Instance: f.instanceID, OSUser: r.user,
			Fingerprint: e.Fingerprint, Caller: e.Caller, RequestID: e.Request, Expires: e.Timestamp,
		})
	}
	if skipped > 0 || unlogged > 0 || perr != nil {
		var why []string
		if skipped > 0 {
			why = append(why, fmt.Sprintf("%d older entries for the key not verified (at most %d are)", skipped, eickey.MaxVerify))
		}
		if unlogged > 0 {
			why = append(why, fmt.Sprintf("%d more refusals not recorded one by one", unlogged))
		}
		if perr != nil {
			why = append(why, perr.Error())
		}
		r.events = append(r.events, audit.Event{
			Time: r.now, Event: audit.EventKeyRefused, Instance: f.instanceID, OSUser: r.user,
			Fingerprint: r.fp, Reason: ReasonNotVerified, Detail: strings.Join(why, "; "),
		})
		if skipped > 0 {
			refused[ReasonNotVerified] += skipped
		}
		if perr != nil {
			refused[ReasonNotVerified]++ // the entries past the limit, whatever they were
		}
	}
	if len(accepted) == 0 && len(refused) > 0 {
		parts := make([]string, 0, len(refused))
		for reason, n := range refused {
			parts = append(parts, fmt.Sprintf("%d %s", n, reason))
		}
		sort.Strings(parts)
		return nil, refuse(ReasonNoValidKey, "every key published for %s was refused (%s)", r.user, strings.Join(parts, ", "))
	}
	return accepted, nil
}
