package eickey

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"
)

// Limits applied by [Parse]. They bound the work one AuthorizedKeysCommand
// run can be made to do without letting anyone who can publish keys for a
// user lock that user's other keys out: a limit drops what is beyond it,
// never the whole blob.
const (
	// MaxBodySize is the most bytes of a blob parsed: the entries that
	// start past it are dropped (Parse says so with an ErrLimit error
	// beside the entries it returns). A 4096-bit RSA entry is about
	// 1.5 KiB, an ed25519 one about 0.5 KiB, so this is thousands of
	// entries, far more than SendSSHPublicKey's throttling lets anyone
	// publish for one user within a key's 60 seconds.
	MaxBodySize = 4 << 20
	// MaxLineLength is the longest line accepted, in bytes, without its
	// newline; the entry holding a longer one is malformed. A 16384-bit
	// RSA key line is about 2.8 KiB.
	MaxLineLength = 8 << 10
	// MaxMetadataLines is the most "#..." lines one entry may carry.
	MaxMetadataLines = 16
	// MaxSignatureSize is the largest decoded signature, in bytes (an
	// 8192-bit RSA signature).
	MaxSignatureSize = 1024
	// MaxVerify is the most entries whose signature one request should
	// check (see [Newest]): the newest by #Timestamp among the well-formed
	// entries for the offered key.
	MaxVerify = 32
)

// ErrLimit is wrapped by the error [Parse] returns, beside the entries of
// the blob's first MaxBodySize bytes, when the blob is longer.
var ErrLimit = errors.New("eickey: key blob exceeds a limit")

// Entry is one key entry of a blob. Parse fills every field it can; when the
// entry is unusable Err says why and [Verify] returns it.
type Entry struct {
	// Line is the 1-based line number of the entry's first line in the blob.
	Line int
	// Timestamp is the #Timestamp value: the time the key stops being valid.
	Timestamp time.Time
	// Instance is the #Instance value: the only instance the key is for.
	Instance string
	// Caller is the #Caller value, the IAM principal that pushed the key; it
	// may be empty.
	Caller string
	// Request is the #Request value, the API request id; it may be empty.
	Request string
	// Metadata holds every "#..." line of the entry in order, known or not,
	// without newlines. All of them are signed.
	Metadata []string
	// KeyLine is the OpenSSH public key line, comment included, exactly as it
	// is printed to sshd once accepted.
	KeyLine string
	// Key is the parsed public key; nil when KeyLine does not parse.
	Key ssh.PublicKey
	// Fingerprint is Key's SHA256 fingerprint as sshd prints it
	// ("SHA256:..."); empty when Key is nil.
	Fingerprint string
	// Signed is the exact byte string the signature covers: each metadata
	// line plus "\n", then the key line plus "\n".
	Signed []byte
	// Signature is the decoded signature.
	Signature []byte
	// Err is non-nil, a *Rejection, when the entry is malformed or its key
	// type is not supported.
	Err error
}

// Parse splits a key blob into entries. A malformed entry is returned
// with Err set, so that it cannot hide the other entries. An empty blob has
// no entries. When the blob is longer than MaxBodySize, Parse returns the
// entries that end within its first MaxBodySize bytes and an error
// wrapping ErrLimit; the caller decides whether to use them.
//
// As in AWS's parser, leading and trailing blanks (spaces and tabs) of every
// line are dropped, blank lines separate entries, an entry is its "#..."
// metadata lines, one key line, then the base64 signature over one or more
// lines.
func Parse(body []byte) ([]Entry, error) {
	var limitErr error
	if len(body) > MaxBodySize {
		cut := bytes.LastIndex(body[:MaxBodySize], []byte("\n\n"))
		limitErr = fmt.Errorf("%w: blob is %d bytes, only the entries within the first %d were read", ErrLimit, len(body), MaxBodySize)
		body = body[:cut+1] // cut == -1: nothing
	}
	var (
		entries []Entry
		block   []string
		start   int
		tooLong string // why the entry being read is malformed already
	)
	flush := func() {
		if len(block) == 0 && tooLong == "" {
			return
		}
		if tooLong != "" {
			entries = append(entries, Entry{Line: start, Err: &Rejection{Reason: ReasonMalformed, Detail: fmt.Sprintf("entry at line %d: %s", start, tooLong)}})
		} else {
			entries = append(entries, parseBlock(block, start))
		}
		block, tooLong = nil, ""
	}
	lineNo := 0
	for rest := body; len(rest) > 0; {
		lineNo++
		var raw []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			raw, rest = rest[:i], rest[i+1:]
		} else {
			raw, rest = rest, nil
		}
		if len(raw) > MaxLineLength {
			if len(block) == 0 && tooLong == "" {
				start = lineNo
			}
			if tooLong == "" {
				tooLong = fmt.Sprintf("line %d is %d bytes, limit %d", lineNo, len(raw), MaxLineLength)
			}
			block = nil
			continue
		}
		line := strings.Trim(string(raw), " \t")
		if line == "" {
			flush()
			continue
		}
		if tooLong != "" {
			continue
		}
		if len(block) == 0 {
			start = lineNo
		}
		block = append(block, line)
	}
	flush()
	return entries, limitErr
}

// parseBlock turns the non-blank lines of one entry into an Entry.
func parseBlock(lines []string, start int) Entry {
	e := Entry{Line: start}
	malformed := func(format string, args ...any) Entry {
		e.Err = &Rejection{Reason: ReasonMalformed, Detail: fmt.Sprintf("entry at line %d: ", start) + fmt.Sprintf(format, args...)}
		return e
	}
	for i, l := range lines {
		if !utf8.ValidString(l) {
			return malformed("line %d is not valid UTF-8", start+i)
		}
		if strings.ContainsFunc(l, isControl) {
			return malformed("line %d contains a control character", start+i)
		}
	}

	i := 0
	for ; i < len(lines) && strings.HasPrefix(lines[i], "#"); i++ {
		if len(e.Metadata) == MaxMetadataLines {
			return malformed("more than %d metadata lines", MaxMetadataLines)
		}
		e.Metadata = append(e.Metadata, lines[i])
	}
	if i == len(lines) {
		return malformed("no key line")
	}
	e.KeyLine = lines[i]
	e.Signed = SignedBytes(e.Metadata, e.KeyLine)
	sigText := strings.Join(lines[i+1:], "")

	if problem := readMetadata(&e); problem != "" {
		return malformed("%s", problem)
	}

	// Parse the key before judging the rest, so that a rejection can still
	// name the key's fingerprint.
	keyErr := parseKeyLine(&e)

	if e.Timestamp.IsZero() {
		return malformed("no #Timestamp")
	}
	if e.Instance == "" {
		return malformed("no #Instance")
	}
	if sigText == "" {
		return malformed("no signature")
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sigText)
	if err != nil {
		return malformed("signature is not base64: %v", err)
	}
	if len(sig) == 0 || len(sig) > MaxSignatureSize {
		return malformed("signature is %d bytes, limit %d", len(sig), MaxSignatureSize)
	}
	e.Signature = sig
	if keyErr != nil {
		e.Err = keyErr
	}
	return e
}

// readMetadata sets e's Timestamp, Instance, Caller and Request from its
// metadata lines, and returns what is wrong with them ("" if nothing).
func readMetadata(e *Entry) (problem string) {
	seen := map[string]bool{}
	for _, m := range e.Metadata {
		name, value, ok := strings.Cut(m[1:], "=")
		if !ok {
			continue // unknown but signed: tolerated for forward compatibility
		}
		switch name {
		case "Timestamp", "Instance", "Caller", "Request":
		default:
			continue
		}
		if seen[name] {
			return fmt.Sprintf("#%s appears twice", name)
		}
		seen[name] = true
		switch name {
		case "Timestamp":
			ts, err := parseTimestamp(value)
			if err != nil {
				return fmt.Sprintf("#Timestamp: %v", err)
			}
			e.Timestamp = ts
		case "Instance":
			e.Instance = value
		case "Caller":
			e.Caller = value
		case "Request":
			e.Request = value
		}
	}
	return ""
}

// parseKeyLine parses e.KeyLine into e.Key and e.Fingerprint. It returns a
// *Rejection when the line is not a plain key line of a supported type.
func parseKeyLine(e *Entry) error {
	key, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(e.KeyLine))
	if err != nil {
		return &Rejection{Reason: ReasonMalformed, Detail: fmt.Sprintf("entry at line %d: key line: %v", e.Line, err)}
	}
	// sshd separates the fields by any blanks (spaces or tabs); an
	// options prefix ("command=... ssh-ed25519 ...") is refused whatever
	// follows it.
	if len(options) > 0 || len(rest) > 0 || !strings.HasPrefix(e.KeyLine, key.Type()) ||
		len(e.KeyLine) == len(key.Type()) || (e.KeyLine[len(key.Type())] != ' ' && e.KeyLine[len(key.Type())] != '\t') {
		return &Rejection{Reason: ReasonMalformed, Detail: fmt.Sprintf("entry at line %d: key line must start with the key type and carry no options", e.Line)}
	}
	e.Key = key
	e.Fingerprint = ssh.FingerprintSHA256(key)
	return checkKeyType(key)
}

// checkKeyType accepts ssh-ed25519 and ssh-rsa keys of at least 2048 bits.
func checkKeyType(key ssh.PublicKey) error {
	switch key.Type() {
	case ssh.KeyAlgoED25519:
		return nil
	case ssh.KeyAlgoRSA:
		ck, ok := key.(ssh.CryptoPublicKey)
		if !ok {
			return &Rejection{Reason: ReasonUnsupportedKey, Detail: "ssh-rsa key without a public key"}
		}
		type sizer interface{ Size() int }
		if s, ok := ck.CryptoPublicKey().(sizer); !ok || s.Size()*8 < 2048 {
			return &Rejection{Reason: ReasonUnsupportedKey, Detail: "ssh-rsa key shorter than 2048 bits"}
		}
		return nil
	default:
		return &Rejection{Reason: ReasonUnsupportedKey, Detail: fmt.Sprintf("key type %s is not accepted (only ssh-ed25519 and ssh-rsa)", key.Type())}
	}
}

// parseTimestamp parses a #Timestamp value: unix seconds, digits only, > 0.
func parseTimestamp(v string) (time.Time, error) {
	if v == "" || len(v) > 18 || strings.TrimLeft(v, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("%q is not a unix time", v)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("%q is not a positive unix time", v)
	}
	return time.Unix(n, 0).UTC(), nil
}

// isControl reports the characters no line may hold: control characters
// except the tab, which sshd takes as a blank between fields.
func isControl(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }

// SignedBytes returns the bytes an entry's signature covers: every metadata
// line followed by "\n", then the key line followed by "\n".
func SignedBytes(metadata []string, keyLine string) []byte {
	n := len(keyLine) + 1
	for _, m := range metadata {
		n += len(m) + 1
	}
	b := make([]byte, 0, n)
	for _, m := range metadata {
		b = append(b, m...)
		b = append(b, '\n')
	}
	b = append(b, keyLine...)
	return append(b, '\n')
}
