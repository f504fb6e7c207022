package eickey_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/eickey"

	"github.com/jitssh/jitssh/internal/testtool"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

const instanceID = "i-0123456789abcdef0"

var now = time.Unix(1_800_000_000, 0)

// signerKey is generated once: RSA key generation dominates the test time.
var signerKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var otherSignerKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func sign(key *rsa.PrivateKey) eickey.SignFunc {
	return func(b []byte) ([]byte, error) { return eickey.SignPSS(key, b) }
}

func ed25519Line(t testing.TB, comment string) string {
	t.Helper()
	return testkeys.New(t).Line(comment)
}

func authorizedLine(t testing.TB, pub any, comment string) string {
	t.Helper()
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
	if comment != "" {
		line += " " + comment
	}
	return line
}

func draft(keyLine string) eickey.Draft {
	return eickey.Draft{
		Expires:  now.Add(60 * time.Second),
		Instance: instanceID,
		Caller:   "arn:aws:sts::123456789012:assumed-role/Developer/alice",
		Request:  "0b1f5c2e-1234-4abc-9def-0123456789ab",
		KeyLine:  keyLine,
	}
}

func mustSign(t testing.TB, d eickey.Draft) eickey.Entry {
	t.Helper()
	e, err := eickey.Sign(d, sign(signerKey()))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func policy() eickey.Policy {
	return eickey.Policy{Signer: &signerKey().PublicKey, Instance: instanceID, Now: now}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		ed25519Line(t, "alice@laptop"),
		authorizedLine(t, &rsaKey.PublicKey, ""),
	}
	var entries []eickey.Entry
	for _, l := range lines {
		entries = append(entries, mustSign(t, draft(l)))
	}
	blob := eickey.Format(entries)
	got, err := eickey.Parse(blob)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(got) != len(lines) {
		t.Fatalf("Parse returned %d entries, want %d", len(got), len(lines))
	}
	for i, e := range got {
		if err := eickey.Verify(&e, policy()); err != nil {
			t.Errorf("entry %d rejected: %v", i, err)
		}
		if e.KeyLine != lines[i] {
			t.Errorf("entry %d key line = %q, want %q", i, e.KeyLine, lines[i])
		}
		if e.Instance != instanceID || e.Caller != draft("").Caller || e.Request != draft("").Request {
			t.Errorf("entry %d metadata = %q %q %q", i, e.Instance, e.Caller, e.Request)
		}
		if !e.Timestamp.Equal(now.Add(60 * time.Second)) {
			t.Errorf("entry %d timestamp = %v", i, e.Timestamp)
		}
		wantSigned := strings.Join(draft(lines[i]).Metadata(), "\n") + "\n" + lines[i] + "\n"
		if string(e.Signed) != wantSigned {
			t.Errorf("entry %d signed bytes = %q, want %q", i, e.Signed, wantSigned)
		}
		pk, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(lines[i]))
		if e.Fingerprint != ssh.FingerprintSHA256(pk) {
			t.Errorf("entry %d fingerprint = %s", i, e.Fingerprint)
		}
	}
	if !bytes.Equal(eickey.Format(got), blob) {
		t.Errorf("Format(Parse(blob)) differs from blob")
	}
}

// TestFormatLayout pins the text layout IMDS serves: metadata, key line,
// signature wrapped at 76 columns, a blank line after each entry.
func TestFormatLayout(t *testing.T) {
	t.Parallel()
	line := ed25519Line(t, "")
	e := mustSign(t, draft(line))
	blob := string(eickey.Format([]eickey.Entry{e, e}))
	sig := base64.StdEncoding.EncodeToString(e.Signature)
	if len(sig) != 344 {
		t.Fatalf("2048-bit signature encodes to %d chars", len(sig))
	}
	want := strings.Join(draft(line).Metadata(), "\n") + "\n" + line + "\n" +
		sig[:76] + "\n" + sig[76:152] + "\n" + sig[152:228] + "\n" + sig[228:304] + "\n" + sig[304:] + "\n\n"
	if blob != want+want {
		t.Errorf("Format =\n%s\nwant\n%s", blob, want+want)
	}
	// Same wrapping as coreutils base64, which AWS's signer pipes through.
	cmd := exec.Command(testtool.Need(t, "base64", "apt-get install coreutils"))
	cmd.Stdin = bytes.NewReader(e.Signature)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	if !strings.Contains(blob, string(out)) {
		t.Errorf("signature is not wrapped like coreutils base64:\n%s", out)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	line := ed25519Line(t, "alice")
	good := mustSign(t, draft(line))
	ecdsaKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	other := draft(line)
	other.Instance = "i-0fedcba9876543210"
	expired := draft(line)
	expired.Expires = now
	otherKey, err := eickey.Sign(draft(line), sign(otherSignerKey()))
	if err != nil {
		t.Fatal(err)
	}
	sha := good.Fingerprint
	pk, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(line))
	md5 := "MD5:" + ssh.FingerprintLegacyMD5(pk)

	// tamper rewrites one line of the formatted good entry.
	tamper := func(from, to string) []byte {
		return bytes.Replace(eickey.Format([]eickey.Entry{good}), []byte(from), []byte(to), 1)
	}
	withEntries := func(es ...eickey.Entry) []byte { return eickey.Format(es) }

	tests := []struct {
		name string
		blob []byte
		fp   string
		now  time.Time
		want eickey.Reason // "" means accepted
	}{
		{name: "valid", blob: withEntries(good)},
		{name: "valid with matching SHA256 fingerprint", blob: withEntries(good), fp: sha},
		{name: "valid with matching MD5 fingerprint", blob: withEntries(good), fp: md5},
		{name: "one second before expiry", blob: withEntries(good), now: now.Add(59 * time.Second)},
		{name: "at expiry", blob: withEntries(good), now: now.Add(60 * time.Second), want: eickey.ReasonExpired},
		{name: "expired", blob: withEntries(mustSign(t, expired)), want: eickey.ReasonExpired},
		{name: "wrong instance", blob: withEntries(mustSign(t, other)), want: eickey.ReasonWrongInstance},
		{name: "other fingerprint", blob: withEntries(good), fp: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", want: eickey.ReasonFingerprintMismatch},
		{name: "fingerprint in unknown format", blob: withEntries(good), fp: strings.TrimPrefix(sha, "SHA256:"), want: eickey.ReasonFingerprintMismatch},
		{name: "signed by another key", blob: withEntries(otherKey), want: eickey.ReasonBadSignature},
		{name: "tampered key comment", blob: tamper(" alice\n", " mallory\n"), want: eickey.ReasonBadSignature},
		{name: "tampered key", blob: tamper(line, ed25519Line(t, "alice")), want: eickey.ReasonBadSignature},
		{name: "tampered caller", blob: tamper("Developer/alice", "Developer/admin"), want: eickey.ReasonBadSignature},
		{name: "tampered instance", blob: tamper(instanceID, "i-0fedcba9876543210"), want: eickey.ReasonBadSignature},
		{name: "tampered timestamp", blob: tamper("#Timestamp=1800000060", "#Timestamp=1900000060"), want: eickey.ReasonBadSignature},
		{name: "metadata line added", blob: tamper("#Instance=", "#Note=x\n#Instance="), want: eickey.ReasonBadSignature},
		{name: "metadata line dropped", blob: tamper("#Request="+draft("").Request+"\n", ""), want: eickey.ReasonBadSignature},
		{name: "signature truncated at a line", blob: dropLastSigLine(withEntries(good)), want: eickey.ReasonBadSignature},
		{name: "signature truncated mid-line", blob: withEntries(good)[:len(withEntries(good))-11], want: eickey.ReasonMalformed},
		{name: "unsupported ecdsa key", blob: withEntries(mustSign(t, draft(authorizedLine(t, &ecdsaKey.PublicKey, "")))), want: eickey.ReasonUnsupportedKey},
		{name: "rsa 1024 key", blob: withEntries(mustSign(t, draft(authorizedLine(t, &smallRSA.PublicKey, "")))), want: eickey.ReasonUnsupportedKey},
		{name: "key line with options", blob: withEntries(mustSign(t, draft(`command="sh" `+line))), want: eickey.ReasonMalformed},
		{name: "garbage key line", blob: withEntries(mustSign(t, draft("ssh-ed25519 AAAAnotakey"))), want: eickey.ReasonMalformed},
		{name: "no timestamp", blob: tamper("#Timestamp=1800000060\n", ""), want: eickey.ReasonMalformed},
		{name: "no instance", blob: tamper("#Instance="+instanceID+"\n", ""), want: eickey.ReasonMalformed},
		{name: "timestamp not a number", blob: tamper("#Timestamp=1800000060", "#Timestamp=soon"), want: eickey.ReasonMalformed},
		{name: "negative timestamp", blob: tamper("#Timestamp=1800000060", "#Timestamp=-1"), want: eickey.ReasonMalformed},
		{name: "duplicate instance", blob: tamper("#Instance=", "#Instance="+instanceID+"\n#Instance="), want: eickey.ReasonMalformed},
		{name: "carriage return", blob: tamper(" alice\n", " alice\r\n"), want: eickey.ReasonMalformed},
		{name: "no signature", blob: []byte(strings.Join(draft(line).Metadata(), "\n") + "\n" + line + "\n"), want: eickey.ReasonMalformed},
		{name: "no key line", blob: []byte(strings.Join(draft(line).Metadata(), "\n") + "\n"), want: eickey.ReasonMalformed},
		{name: "bad base64", blob: []byte(strings.Join(draft(line).Metadata(), "\n") + "\n" + line + "\nthis is not a valid signature\n"), want: eickey.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			entries, err := eickey.Parse(tt.blob)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(entries) != 1 {
				t.Fatalf("Parse returned %d entries, want 1:\n%s", len(entries), tt.blob)
			}
			p := policy()
			p.Fingerprint = tt.fp
			if !tt.now.IsZero() {
				p.Now = tt.now
			}
			err = eickey.Verify(&entries[0], p)
			if got := eickey.ReasonOf(err); got != tt.want {
				t.Errorf("Verify reason = %q (%v), want %q", got, err, tt.want)
			}
			if tt.want != "" && err == nil {
				t.Errorf("Verify accepted, want %s", tt.want)
			}
		})
	}
}

// dropLastSigLine removes the last signature line of a one-entry blob.
func dropLastSigLine(blob []byte) []byte {
	lines := strings.Split(strings.TrimSuffix(string(blob), "\n\n"), "\n")
	return []byte(strings.Join(lines[:len(lines)-1], "\n") + "\n\n")
}

// TestOneBadEntryDoesNotHideOthers is the regression test for AWS's script,
// where one tampered entry makes `set -e` abort and refuse every key.
func TestOneBadEntryDoesNotHideOthers(t *testing.T) {
	t.Parallel()
	good := mustSign(t, draft(ed25519Line(t, "good")))
	bad := mustSign(t, draft(ed25519Line(t, "bad")))
	bad.KeyLine = ed25519Line(t, "bad") // swapped key: signature no longer matches
	blob := eickey.Format([]eickey.Entry{bad, good})
	blob = append(blob, "#garbage\nnot a key\n\n"...)
	entries, err := eickey.Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	var accepted []string
	var reasons []eickey.Reason
	for i := range entries {
		if err := eickey.Verify(&entries[i], policy()); err != nil {
			reasons = append(reasons, eickey.ReasonOf(err))
			continue
		}
		accepted = append(accepted, entries[i].KeyLine)
	}
	if len(accepted) != 1 || accepted[0] != good.KeyLine {
		t.Errorf("accepted %q, want only %q", accepted, good.KeyLine)
	}
	want := []eickey.Reason{eickey.ReasonBadSignature, eickey.ReasonMalformed}
	if len(reasons) != 2 || reasons[0] != want[0] || reasons[1] != want[1] {
		t.Errorf("reasons = %v, want %v", reasons, want)
	}
}

func TestParseTolerates(t *testing.T) {
	t.Parallel()
	e := mustSign(t, eickey.Draft{
		Expires:  now.Add(time.Minute),
		Instance: instanceID,
		KeyLine:  ed25519Line(t, ""),
		Extra:    []string{"#Future=field", "#no equals sign"},
	})
	blob := string(eickey.Format([]eickey.Entry{e}))
	// Blanks around lines are dropped (AWS reads with `read -r`), extra
	// blank lines between and around entries are ignored.
	messy := "\n \n" + strings.ReplaceAll(blob, "\n", " \t\n") + "\n\n\n" + blob
	entries, err := eickey.Parse([]byte(messy))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("got %d entries, want 2", len(entries))
	}
	for i := range entries {
		if err := eickey.Verify(&entries[i], policy()); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
		if entries[i].Caller != "" || entries[i].Request != "" {
			t.Errorf("entry %d: caller/request = %q/%q, want empty", i, entries[i].Caller, entries[i].Request)
		}
	}
	if entries[0].Line != 3 {
		t.Errorf("first entry starts at line %d, want 3", entries[0].Line)
	}
	if got, _ := eickey.Parse(nil); len(got) != 0 {
		t.Errorf("empty blob gave %d entries", len(got))
	}
}

// TestParseLimitsNeverHideGoodEntries: what is over a limit is dropped,
// entry by entry, and the valid entries around it are still returned.
func TestParseLimitsNeverHideGoodEntries(t *testing.T) {
	t.Parallel()
	e := mustSign(t, draft(ed25519Line(t, "")))
	one := eickey.Format([]eickey.Entry{e})
	p := policy()
	valid := func(es []eickey.Entry) int {
		n := 0
		for i := range es {
			if eickey.Verify(&es[i], p) == nil {
				n++
			}
		}
		return n
	}
	// Many entries: all returned (it used to refuse them all past 128).
	if es, err := eickey.Parse(bytes.Repeat(one, 500)); err != nil || valid(es) != 500 {
		t.Errorf("500 entries: %d valid, %v", valid(es), err)
	}
	// An over-long line spoils its own entry only.
	long := []byte("#Timestamp=1\n" + strings.Repeat("A", eickey.MaxLineLength+1) + "\nmore\n\n")
	es, err := eickey.Parse(append(append(append([]byte(nil), one...), long...), one...))
	if err != nil || len(es) != 3 || valid(es) != 2 || eickey.ReasonOf(es[1].Err) != eickey.ReasonMalformed || es[2].Line <= es[1].Line {
		t.Errorf("over-long line: %d entries, %d valid, %v; %+v", len(es), valid(es), err, es)
	}
	// A body over MaxBodySize: the entries within the limit are returned
	// with an ErrLimit error; none is cut in half.
	big := bytes.Repeat(one, eickey.MaxBodySize/len(one)+10)
	es, err = eickey.Parse(big)
	if !errors.Is(err, eickey.ErrLimit) || valid(es) != eickey.MaxBodySize/len(one) || len(es) != valid(es) {
		t.Errorf("oversized body: %d entries, %d valid, %v", len(es), valid(es), err)
	}
	if es, err := eickey.Parse(bytes.Repeat([]byte("#\n"), eickey.MaxBodySize/2+1)); !errors.Is(err, eickey.ErrLimit) || len(es) != 0 {
		t.Errorf("oversized body without blank line: %d entries, %v", len(es), err)
	}
}

// TestTabSeparatedKeyLine: sshd accepts tabs between the fields of a key
// line, so a validly signed one is served; an options prefix is still
// refused whatever blanks it uses.
func TestTabSeparatedKeyLine(t *testing.T) {
	t.Parallel()
	line := strings.Replace(ed25519Line(t, "ana@laptop"), " ", "\t", -1)
	e := mustSign(t, draft(line))
	es, err := eickey.Parse(eickey.Format([]eickey.Entry{e}))
	if err != nil || len(es) != 1 {
		t.Fatalf("Parse: %d, %v", len(es), err)
	}
	if err := eickey.Verify(&es[0], policy()); err != nil {
		t.Fatalf("tab-separated key line refused: %v", err)
	}
	if es[0].KeyLine != line {
		t.Errorf("KeyLine = %q, want %q", es[0].KeyLine, line)
	}
	for _, opt := range []string{"command=\"id\"\t", "no-pty\t", "restrict ", "from=\"*\"\t\t"} {
		e := mustSign(t, draft(opt+ed25519Line(t, "")))
		es, _ := eickey.Parse(eickey.Format([]eickey.Entry{e}))
		if len(es) != 1 || eickey.Verify(&es[0], policy()) == nil {
			t.Errorf("key line with options %q accepted", opt)
		}
	}
	// Other control characters stay refused.
	blob := strings.Replace(string(eickey.Format([]eickey.Entry{mustSign(t, draft(ed25519Line(t, "")))})), "ssh-ed25519 ", "ssh-ed25519\v", 1)
	if es, _ := eickey.Parse([]byte(blob)); len(es) != 1 || eickey.ReasonOf(eickey.Verify(&es[0], policy())) != eickey.ReasonMalformed {
		t.Error("vertical tab not refused as malformed")
	}
}

// TestNewestBoundsVerification: at most n well-formed entries for the key
// are picked, the newest first, whatever else the blob holds.
func TestNewestBoundsVerification(t *testing.T) {
	t.Parallel()
	victim := ed25519Line(t, "victim")
	var all []eickey.Entry
	for i := 0; i < 40; i++ {
		d := draft(victim)
		d.Expires = now.Add(time.Duration(i+1) * time.Second)
		all = append(all, mustSign(t, d))
		all = append(all, mustSign(t, draft(ed25519Line(t, "other"))))
	}
	es, err := eickey.Parse(eickey.Format(all))
	if err != nil {
		t.Fatal(err)
	}
	es = append(es, eickey.Entry{Line: 9999, Err: &eickey.Rejection{Reason: eickey.ReasonMalformed}})
	fp := es[0].Fingerprint
	chosen, skipped := eickey.Newest(es, fp, 5)
	if len(chosen) != 6 || skipped != 35 {
		t.Fatalf("chosen %d, skipped %d", len(chosen), skipped)
	}
	for i, e := range chosen[:5] {
		if e.Fingerprint != fp || !e.Timestamp.Equal(now.Add(time.Duration(36+i)*time.Second)) {
			t.Errorf("chosen[%d] = %s at %s", i, e.Fingerprint, e.Timestamp)
		}
	}
	if chosen[5].Line != 9999 {
		t.Errorf("malformed entry not last (blob order): %+v", chosen[5])
	}
	if all, skipped := eickey.Newest(es, "", 100); len(all) != 81 || skipped != 0 {
		t.Errorf("no fingerprint: %d chosen, %d skipped", len(all), skipped)
	}
}

func TestVerifyNeedsPolicy(t *testing.T) {
	t.Parallel()
	e := mustSign(t, draft(ed25519Line(t, "")))
	for _, p := range []eickey.Policy{
		{Instance: instanceID, Now: now},
		{Signer: &signerKey().PublicKey, Now: now},
		{Signer: &signerKey().PublicKey, Instance: instanceID},
	} {
		if err := eickey.Verify(&e, p); err == nil {
			t.Errorf("Verify with incomplete policy %+v accepted", p)
		}
	}
}

func TestVerifyIgnoresEditedFields(t *testing.T) {
	t.Parallel()
	e := mustSign(t, draft(ed25519Line(t, "")))
	e.Instance = "i-0fedcba9876543210"
	e.Metadata[1] = "#Instance=i-0fedcba9876543210"
	p := policy()
	p.Instance = "i-0fedcba9876543210"
	if got := eickey.ReasonOf(eickey.Verify(&e, p)); got != eickey.ReasonBadSignature {
		t.Errorf("edited entry: reason %q, want bad-signature", got)
	}
}

func TestSignRejectsBadDrafts(t *testing.T) {
	t.Parallel()
	line := ed25519Line(t, "")
	tests := []struct {
		name string
		edit func(*eickey.Draft)
	}{
		{"no expiry", func(d *eickey.Draft) { d.Expires = time.Time{} }},
		{"no instance", func(d *eickey.Draft) { d.Instance = "" }},
		{"no key", func(d *eickey.Draft) { d.KeyLine = " " }},
		{"newline in caller", func(d *eickey.Draft) { d.Caller = "a\n#Instance=x" }},
		{"newline in key", func(d *eickey.Draft) { d.KeyLine = line + "\n" + line }},
		{"extra without #", func(d *eickey.Draft) { d.Extra = []string{"x=y"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := draft(line)
			tt.edit(&d)
			if _, err := eickey.Sign(d, sign(signerKey())); err == nil {
				t.Errorf("Sign accepted %+v", d)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	line := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl c"
	e, err := eickey.Sign(draft(line), sign(signerKey()))
	if err != nil {
		f.Fatal(err)
	}
	blob := eickey.Format([]eickey.Entry{e, e})
	f.Add(blob)
	f.Add(blob[:len(blob)/2])
	f.Add([]byte("#Timestamp=1\n#Instance=i-1\nssh-rsa AAAA\nAAAA\n"))
	f.Add([]byte("\n\n#\n\n"))
	f.Add([]byte{})
	f.Add([]byte(strings.ReplaceAll(string(blob), " ", "\t")))
	f.Add([]byte("#Timestamp=1\n#Instance=i-1\nno-pty\tssh-ed25519 AAAA\nAAAA\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		entries, err := eickey.Parse(body)
		if err != nil && (!errors.Is(err, eickey.ErrLimit) || len(body) <= eickey.MaxBodySize) {
			t.Fatalf("Parse error %v for a %d-byte body", err, len(body))
		}
		p := policy()
		chosen, skipped := eickey.Newest(entries, "", 3)
		if skipped < 0 || len(chosen)+skipped != len(entries) {
			t.Fatalf("Newest: %d chosen, %d skipped of %d", len(chosen), skipped, len(entries))
		}
		for i := range entries {
			e := &entries[i]
			// Must never panic, and must never accept anything not signed
			// by the signer: the fuzzer cannot forge PSS.
			if err := eickey.Verify(e, p); err == nil && !bytes.Contains(body, []byte(base64.StdEncoding.EncodeToString(e.Signature)[:40])) {
				t.Fatalf("accepted an entry whose signature is not in the input")
			}
			if e.Err != nil {
				continue
			}
			if !bytes.Equal(e.Signed, eickey.SignedBytes(e.Metadata, e.KeyLine)) {
				t.Fatalf("Signed = %q, want metadata+key", e.Signed)
			}
			// A well-formed entry survives Format and Parse unchanged.
			again, err := eickey.Parse(eickey.Format([]eickey.Entry{*e}))
			if err != nil || len(again) != 1 {
				t.Fatalf("re-parse: %d entries, %v", len(again), err)
			}
			if again[0].KeyLine != e.KeyLine || !bytes.Equal(again[0].Signed, e.Signed) || !bytes.Equal(again[0].Signature, e.Signature) || again[0].Err != nil {
				t.Fatalf("re-parse changed the entry: %+v vs %+v", again[0], *e)
			}
		}
	})
}

// BenchmarkBlobBound measures the most work one request can be made to do
// with a filled blob: parsing MaxBodySize bytes of ed25519 entries, and
// verifying the MaxVerify newest entries for one key (what Newest picks),
// and reports the parse cost as a multiple of the verification cost
// measured in the same run ("parse/verify").
func BenchmarkBlobBound(b *testing.B) {
	one := eickey.Format([]eickey.Entry{mustSign(b, draft(ed25519Line(b, "")))})
	blob := bytes.Repeat(one, eickey.MaxBodySize/len(one))
	entries, err := eickey.Parse(blob)
	if err != nil {
		b.Fatal(err)
	}
	chosen, _ := eickey.Newest(entries, entries[0].Fingerprint, eickey.MaxVerify)
	p := policy()
	var parse, verify time.Duration
	b.Run("parse-4MiB", func(b *testing.B) {
		b.SetBytes(int64(len(blob)))
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if _, err := eickey.Parse(blob); err != nil {
				b.Fatal(err)
			}
		}
		parse = time.Since(start) / time.Duration(b.N)
	})
	b.Run("verify-32", func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			for _, e := range chosen {
				if err := eickey.Verify(e, p); err != nil {
					b.Fatal(err)
				}
			}
		}
		verify = time.Since(start) / time.Duration(b.N)
	})
	if verify > 0 {
		b.Logf("%d entries; parse %v, verify %d: %v, parse/verify = %.1f", len(entries), parse, len(chosen), verify, float64(parse)/float64(verify))
	}
}
