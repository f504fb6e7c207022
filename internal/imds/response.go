package imds

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits on what readResponse accepts besides the body.
const (
	maxLine    = 4096 // status line, one header line, one chunk-size line
	maxHeaders = 64   // header lines (trailers included)
	errBodyMax = 4096 // body of a non-200 answer read to keep the connection
)

var errMalformed = errors.New("malformed HTTP response")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// readResponse reads one HTTP/1.x response from br: the status code, the
// body (only for 200; other bodies are read up to errBodyMax and dropped),
// and whether the connection may carry another request. The body is
// delimited by Transfer-Encoding: chunked, else Content-Length, else the
// end of the connection. It is strict where net/http is lenient (one
// Content-Length, no transfer coding but chunked, no obsolete line folding)
// and never returns a body over maxBody (ErrTooLarge).
func readResponse(br *bufio.Reader, maxBody int64) (status int, body []byte, keepAlive bool, err error) {
	return readAny(br, maxBody, false)
}

// ReadResponse reads one HTTP/1.x response as the client does, under the
// same rules, but keeps the body of every status (up to maxBody): for the
// instance side's other small HTTP/1.1 client (CloudWatch Logs, package
// cwship), whose error bodies say what went wrong.
func ReadResponse(br *bufio.Reader, maxBody int64) (status int, body []byte, keepAlive bool, err error) {
	return readAny(br, maxBody, true)
}

func readAny(br *bufio.Reader, maxBody int64, errBodies bool) (status int, body []byte, keepAlive bool, err error) {
	status, http11, err := readStatusLine(br)
	if err != nil {
		return 0, nil, false, err
	}
	fr, err := readHeaders(br, http11)
	if err != nil {
		return 0, nil, false, err
	}
	if status < 200 {
		return 0, nil, false, malformed("informational status %d", status)
	}
	limit := maxBody
	if status != 200 && !errBodies {
		limit = errBodyMax
	}
	body, err = readBody(br, status, &fr, limit)
	if err != nil {
		if status != 200 && !errBodies && errors.Is(err, ErrTooLarge) {
			return status, nil, false, nil // the status is what matters
		}
		return 0, nil, false, err
	}
	if status != 200 && !errBodies {
		body = nil
	}
	return status, body, fr.keepAlive, nil
}

// readStatusLine reads "HTTP/1.1 200 OK" (or HTTP/1.0) and returns the
// status code and whether the protocol is HTTP/1.1.
func readStatusLine(br *bufio.Reader) (status int, http11 bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return 0, false, err
	}
	proto, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(rest) < 3 || (len(rest) > 3 && rest[3] != ' ') {
		return 0, false, malformed("status line %q", trunc(line))
	}
	switch string(proto) {
	case "HTTP/1.1":
		http11 = true
	case "HTTP/1.0":
	default:
		return 0, false, malformed("protocol %q", trunc(proto))
	}
	for _, c := range rest[:3] {
		if c < '0' || c > '9' {
			return 0, false, malformed("status line %q", trunc(line))
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return 0, false, malformed("status %d", status)
	}
	return status, http11, nil
}

// framing is what the headers say about the body and the connection.
type framing struct {
	chunked bool
	// length is the Content-Length, -1 without one.
	length    int64
	keepAlive bool
}

// readHeaders reads the header lines up to the empty line and returns the
// response's framing.
func readHeaders(br *bufio.Reader, http11 bool) (framing, error) {
	fr := framing{length: -1, keepAlive: http11}
	closeConn := false
	n := 0
	for {
		line, err := readLine(br)
		if err != nil {
			return fr, err
		}
		if len(line) == 0 {
			break
		}
		if n++; n > maxHeaders {
			return fr, malformed("more than %d header lines", maxHeaders)
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !token(name) {
			return fr, malformed("header line %q", trunc(line))
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v < 0 || value[0] == '+' || (fr.length >= 0 && v != fr.length) {
				return fr, malformed("Content-Length %q", trunc(value))
			}
			fr.length = v
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) || fr.chunked || !http11 {
				return fr, malformed("Transfer-Encoding %q", trunc(value))
			}
			fr.chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			for _, tok := range bytes.Split(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				if bytes.EqualFold(tok, []byte("close")) {
					closeConn = true
				} else if bytes.EqualFold(tok, []byte("keep-alive")) && !http11 {
					fr.keepAlive = true
				}
			}
		}
	}
	if closeConn {
		fr.keepAlive = false
	}
	return fr, nil
}

// readBody reads the body as fr frames it, at most limit bytes
// (ErrTooLarge); a body read to the connection's end clears
// fr.keepAlive.
func readBody(br *bufio.Reader, status int, fr *framing, limit int64) (body []byte, err error) {
	switch {
	case status == 204 || status == 304:
		if fr.chunked || fr.length > 0 {
			return nil, malformed("body with status %d", status)
		}
		return nil, nil
	case fr.chunked:
		if fr.length >= 0 {
			return nil, malformed("both Transfer-Encoding and Content-Length")
		}
		return readChunked(br, limit)
	case fr.length >= 0:
		if fr.length > limit {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, fr.length, limit)
		}
		body = make([]byte, fr.length)
		if _, err = io.ReadFull(br, body); err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		return body, nil
	default: // until the connection ends
		fr.keepAlive = false
		body, err = io.ReadAll(io.LimitReader(br, limit+1))
		if err == nil && int64(len(body)) > limit {
			err = fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
		}
		return body, err
	}
}

// readChunked reads a chunked body and its trailer.
func readChunked(br *bufio.Reader, limit int64) ([]byte, error) {
	var body []byte
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		size = bytes.TrimRight(size, " \t")
		if len(size) == 0 || len(size) > 16 {
			return nil, malformed("chunk size %q", trunc(line))
		}
		var n int64
		for _, c := range size {
			var d byte
			switch {
			case c >= '0' && c <= '9':
				d = c - '0'
			case c >= 'a' && c <= 'f':
				d = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				d = c - 'A' + 10
			default:
				return nil, malformed("chunk size %q", trunc(line))
			}
			n = n<<4 | int64(d)
			if n > limit {
				return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
			}
		}
		if n == 0 {
			break
		}
		if int64(len(body))+n > limit {
			return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
		}
		start := len(body)
		body = append(body, make([]byte, n)...)
		if _, err := io.ReadFull(br, body[start:]); err != nil {
			return nil, fmt.Errorf("read chunk: %w", err)
		}
		if crlf, err := readLine(br); err != nil || len(crlf) != 0 {
			return nil, malformed("no CRLF after a chunk")
		}
	}
	for n := 0; ; n++ { // trailer
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			return body, nil
		}
		if n >= maxHeaders {
			return nil, malformed("more than %d trailer lines", maxHeaders)
		}
		if name, _, ok := bytes.Cut(line, []byte(":")); !ok || !token(name) {
			return nil, malformed("trailer line %q", trunc(line))
		}
	}
}

// readLine returns one line without its CRLF; a bare LF, lines over
// maxLine and lines with other control characters are errors.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine {
		return nil, malformed("line longer than %d bytes", maxLine)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read response: %w", err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, malformed("line not ended by CRLF")
	}
	line = line[:len(line)-2]
	for _, c := range line {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return nil, malformed("control character in %q", trunc(line))
		}
	}
	return line, nil
}

// token reports whether b is a non-empty RFC 9110 token (a field name).
func token(b []byte) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return len(b) > 0
}

func trunc(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
