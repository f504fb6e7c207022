package eickey

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Reason is a stable code saying why an entry was rejected. Audit events
// carry it verbatim.
type Reason string

// Rejection reasons, in the order [Verify] checks them.
const (
	// ReasonFingerprintMismatch: the entry is for another key than the one
	// sshd asked about (%f). This is the normal way entries are skipped.
	ReasonFingerprintMismatch Reason = "fingerprint-mismatch"
	// ReasonMalformed: the entry could not be parsed (missing #Timestamp or
	// #Instance, bad key line, bad base64, control characters, ...).
	ReasonMalformed Reason = "malformed"
	// ReasonUnsupportedKey: the key is not ssh-ed25519 or ssh-rsa (>= 2048 bits).
	ReasonUnsupportedKey Reason = "unsupported-key-type"
	// ReasonBadSignature: the signature does not verify with the signer key,
	// so the entry was not made, or was altered after, by the signer.
	ReasonBadSignature Reason = "bad-signature"
	// ReasonWrongInstance: the entry is validly signed for another instance.
	ReasonWrongInstance Reason = "wrong-instance"
	// ReasonExpired: the entry is validly signed but its #Timestamp is not in
	// the future.
	ReasonExpired Reason = "expired"
)

// Rejection is the error [Verify] returns for an entry that must not be
// served.
type Rejection struct {
	Reason Reason
	Detail string
}

func (r *Rejection) Error() string {
	if r.Detail == "" {
		return "eickey: " + string(r.Reason)
	}
	return "eickey: " + string(r.Reason) + ": " + r.Detail
}

// ReasonOf returns the Reason of a *Rejection in err's chain, or "" if there
// is none.
func ReasonOf(err error) Reason {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// Policy is what an entry is judged against.
type Policy struct {
	// Signer is the public key of the verified signer certificate. Required.
	Signer *rsa.PublicKey
	// Instance is this instance's id; entries for any other id are rejected.
	// Required.
	Instance string
	// Fingerprint, when not empty, is sshd's %f: the fingerprint of the key
	// being offered ("SHA256:<base64>" or, with FingerprintHash md5,
	// "MD5:<hex pairs>"). Entries for other keys are rejected with
	// ReasonFingerprintMismatch.
	Fingerprint string
	// Now is the instance's current time. Required.
	Now time.Time
}

// Verify reports whether e may be served under p: nil means accept. A
// rejected entry gets a *Rejection; a Policy missing a required field gets a
// plain error (and must also be treated as a rejection).
//
// The checks run in this order: fingerprint, parse errors, signature,
// instance, expiry. The signature is checked before the claims it covers so
// that a forged entry is reported as bad-signature rather than by whatever
// claim the forger got wrong.
func Verify(e *Entry, p Policy) error {
	if p.Signer == nil || p.Instance == "" || p.Now.IsZero() {
		return errors.New("eickey: verify: policy needs a signer key, an instance id and the time")
	}
	if p.Fingerprint != "" && e.Key != nil && !fingerprintMatches(e.Key, p.Fingerprint) {
		return &Rejection{Reason: ReasonFingerprintMismatch, Detail: fmt.Sprintf("entry at line %d is for %s, not %s", e.Line, e.Fingerprint, p.Fingerprint)}
	}
	if e.Err != nil {
		return e.Err
	}
	if e.Key == nil || e.Timestamp.IsZero() || e.Instance == "" || len(e.Signature) == 0 {
		return &Rejection{Reason: ReasonMalformed, Detail: fmt.Sprintf("entry at line %d is incomplete", e.Line)}
	}
	// Recompute the signed bytes instead of trusting e.Signed, so that a
	// caller that edited the parsed fields cannot get them accepted.
	if err := VerifyPSS(p.Signer, SignedBytes(e.Metadata, e.KeyLine), e.Signature); err != nil {
		return &Rejection{Reason: ReasonBadSignature, Detail: fmt.Sprintf("entry at line %d for %s: %v", e.Line, e.Fingerprint, err)}
	}
	if e.Instance != p.Instance {
		return &Rejection{Reason: ReasonWrongInstance, Detail: fmt.Sprintf("entry at line %d is for instance %q, this is %q", e.Line, e.Instance, p.Instance)}
	}
	// Whole seconds, strictly greater, as AWS's `#Timestamp > $(date +%s)`.
	if e.Timestamp.Unix() <= p.Now.Unix() {
		return &Rejection{Reason: ReasonExpired, Detail: fmt.Sprintf("entry at line %d expired at %s", e.Line, e.Timestamp.Format(time.RFC3339))}
	}
	return nil
}

// fingerprintMatches compares key with an sshd %f value.
func fingerprintMatches(key ssh.PublicKey, fp string) bool {
	switch {
	case strings.HasPrefix(fp, "SHA256:"):
		return ssh.FingerprintSHA256(key) == fp
	case strings.HasPrefix(fp, "MD5:"):
		return ssh.FingerprintLegacyMD5(key) == strings.ToLower(fp[len("MD5:"):])
	default:
		return false
	}
}

// pssOptions returns the RSASSA-PSS parameters of EIC signatures:
// `openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32`
// (MGF1 uses the same SHA-256).
func pssOptions() *rsa.PSSOptions { return &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256} }

// VerifyPSS checks an EIC signature over signed.
func VerifyPSS(pub *rsa.PublicKey, signed, sig []byte) error {
	h := sha256.Sum256(signed)
	return rsa.VerifyPSS(pub, crypto.SHA256, h[:], sig, pssOptions())
}

// SignPSS signs as the EIC signer does. It is for the sandbox and tests.
func SignPSS(key *rsa.PrivateKey, signed []byte) ([]byte, error) {
	h := sha256.Sum256(signed)
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, h[:], pssOptions())
	if err != nil {
		return nil, fmt.Errorf("eickey: sign: %w", err)
	}
	return sig, nil
}

// Newest bounds what one request verifies: of entries, the well-formed ones
// for the key with fingerprint (sshd's %f; "" means any key), at most n of
// them, those with the latest #Timestamp (ties: later in the blob), and
// every malformed entry that may be for that key (they
// cost no signature check), all in blob order. skipped counts the
// well-formed entries for the key left out. Entries for other keys are left
// out silently, as [Verify] would reject them. The result points into
// entries.
func Newest(entries []Entry, fingerprint string, n int) (chosen []*Entry, skipped int) {
	var good, bad []*Entry
	for i := range entries {
		e := &entries[i]
		if fingerprint != "" && e.Key != nil && !fingerprintMatches(e.Key, fingerprint) {
			continue
		}
		if e.Err != nil {
			bad = append(bad, e)
			continue
		}
		good = append(good, e)
	}
	sort.SliceStable(good, func(i, j int) bool {
		if !good[i].Timestamp.Equal(good[j].Timestamp) {
			return good[i].Timestamp.After(good[j].Timestamp)
		}
		return good[i].Line > good[j].Line
	})
	if len(good) > n {
		skipped = len(good) - n
		good = good[:n]
	}
	chosen = append(good, bad...)
	sort.Slice(chosen, func(i, j int) bool { return chosen[i].Line < chosen[j].Line })
	return chosen, skipped
}
