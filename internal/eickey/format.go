package eickey

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Draft is an entry before it is signed, as the EIC service holds a pushed
// key.
type Draft struct {
	// Expires becomes #Timestamp (unix seconds). Required.
	Expires time.Time
	// Instance becomes #Instance. Required.
	Instance string
	// Caller becomes #Caller; omitted when empty.
	Caller string
	// Request becomes #Request; omitted when empty.
	Request string
	// Extra metadata lines, each starting with "#", appended after the known
	// ones (and signed like them).
	Extra []string
	// KeyLine is the OpenSSH public key line. Required. It is signed as
	// given (after trimming blanks), without checking that it parses, so
	// that tests can sign bad keys.
	KeyLine string
}

// Metadata returns the draft's metadata lines in AWS's order: #Timestamp,
// #Instance, #Caller, #Request, then Extra.
func (d Draft) Metadata() []string {
	md := []string{
		"#Timestamp=" + strconv.FormatInt(d.Expires.Unix(), 10),
		"#Instance=" + d.Instance,
	}
	if d.Caller != "" {
		md = append(md, "#Caller="+d.Caller)
	}
	if d.Request != "" {
		md = append(md, "#Request="+d.Request)
	}
	return append(md, d.Extra...)
}

// SignFunc signs the bytes of an entry, returning the raw signature. The
// sandbox signer's SignEntry method is one.
type SignFunc func(signed []byte) ([]byte, error)

// Sign signs d with sign and returns the entry as [Parse] would return it
// from the formatted blob.
func Sign(d Draft, sign SignFunc) (Entry, error) {
	if d.Expires.IsZero() || d.Expires.Unix() <= 0 || d.Instance == "" {
		return Entry{}, errors.New("eickey: sign: a draft needs an expiry and an instance id")
	}
	keyLine := strings.Trim(d.KeyLine, " \t")
	if keyLine == "" || strings.HasPrefix(keyLine, "#") {
		return Entry{}, errors.New("eickey: sign: a draft needs a key line")
	}
	md := d.Metadata()
	for _, l := range append(md, keyLine) {
		if strings.ContainsAny(l, "\r\n") {
			return Entry{}, fmt.Errorf("eickey: sign: line %q contains a line break", l)
		}
	}
	for _, x := range d.Extra {
		if !strings.HasPrefix(x, "#") {
			return Entry{}, fmt.Errorf("eickey: sign: extra metadata line %q does not start with #", x)
		}
	}
	sig, err := sign(SignedBytes(md, keyLine))
	if err != nil {
		return Entry{}, fmt.Errorf("eickey: sign entry for %s: %w", d.Instance, err)
	}
	es, err := Parse(Format([]Entry{{Metadata: md, KeyLine: keyLine, Signature: sig}}))
	if err != nil {
		return Entry{}, fmt.Errorf("eickey: sign: %w", err)
	}
	if len(es) != 1 {
		return Entry{}, fmt.Errorf("eickey: sign: formatted entry parses as %d entries", len(es))
	}
	return es[0], nil
}

// Format renders entries as IMDS serves them: for each entry its metadata
// lines, its key line and its base64 signature wrapped at 76 columns (as
// coreutils base64 does), each line ending in "\n", then one blank line.
// This is the layout of AWS's sign_data.sh. No entries give an empty blob.
func Format(entries []Entry) []byte {
	var b strings.Builder
	for _, e := range entries {
		for _, m := range e.Metadata {
			b.WriteString(m)
			b.WriteByte('\n')
		}
		b.WriteString(e.KeyLine)
		b.WriteByte('\n')
		sig := base64.StdEncoding.EncodeToString(e.Signature)
		for len(sig) > 76 {
			b.WriteString(sig[:76])
			b.WriteByte('\n')
			sig = sig[76:]
		}
		b.WriteString(sig)
		b.WriteString("\n\n")
	}
	return []byte(b.String())
}
