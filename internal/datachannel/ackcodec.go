package datachannel

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Acknowledgements are the most frequent message (one per stream message
// in each direction), so their JSON is written and read by hand; the
// output is byte-for-byte what encoding/json writes for Acknowledge (a
// test checks), and reading falls back to encoding/json for anything the
// fast path does not recognise.

// appendAck appends the JSON of an acknowledgement of a message of type
// typ with the given id and sequence number. typ is one of this package's
// message-type constants and id a canonical UUID string, so neither needs
// escaping.
func appendAck[ID string | []byte](dst []byte, typ string, id ID, seq int64) []byte {
	dst = append(dst, `{"AcknowledgedMessageType":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","AcknowledgedMessageId":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","AcknowledgedMessageSequenceNumber":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	return append(dst, `,"IsSequentialMessage":true}`...)
}

// ackSequence returns the acknowledged sequence number of an acknowledge
// payload. The exact layout AWS's endpoints and this package write is
// parsed directly; anything else goes through encoding/json.
func ackSequence(p []byte) (int64, error) {
	n, _, err := ackSequenceID(p)
	return n, err
}

// ackSequenceID returns the acknowledged sequence number and message id
// of an acknowledge payload (the id as written, unchecked).
func ackSequenceID(p []byte) (int64, string, error) {
	if n, id, ok := canonicalAck(p); ok {
		return n, string(id), nil
	}
	var ack Acknowledge
	if err := json.Unmarshal(p, &ack); err != nil {
		return 0, "", err
	}
	return ack.AcknowledgedMessageSequenceNumber, ack.AcknowledgedMessageID, nil
}

// canonicalAck matches
// {"AcknowledgedMessageType":"S","AcknowledgedMessageId":"S","AcknowledgedMessageSequenceNumber":N,"IsSequentialMessage":B}
// where S has no quote, backslash or control character (and the id only
// ASCII), N is an integer and B is true or false: text on which
// encoding/json cannot disagree. It returns the sequence number and the
// message id.
func canonicalAck(p []byte) (int64, []byte, bool) {
	var id []byte
	lit := func(s string) bool {
		if !bytes.HasPrefix(p, []byte(s)) {
			return false
		}
		p = p[len(s):]
		return true
	}
	str := func() bool {
		for i, c := range p {
			switch {
			case c == '"':
				p = p[i:]
				return true
			case c == '\\' || c < 0x20:
				return false
			}
		}
		return false
	}
	if !lit(`{"AcknowledgedMessageType":"`) || !str() || !lit(`","AcknowledgedMessageId":"`) {
		return 0, nil, false
	}
	rest := p
	if !str() {
		return 0, nil, false
	}
	id = rest[:len(rest)-len(p)]
	for _, c := range id {
		if c >= 0x80 { // encoding/json would replace invalid UTF-8
			return 0, nil, false
		}
	}
	if !lit(`","AcknowledgedMessageSequenceNumber":`) {
		return 0, nil, false
	}
	end := bytes.IndexByte(p, ',')
	if end <= 0 {
		return 0, nil, false
	}
	digits := p[:end]
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, nil, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, nil, false
		}
	}
	n, err := strconv.ParseInt(string(p[:end]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	p = p[end:]
	if !lit(`,"IsSequentialMessage":`) || !(lit("true}") || lit("false}")) || len(p) != 0 {
		return 0, nil, false
	}
	return n, id, true
}
