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
	line, err := readLine(br)
	if err != nil {
		return 0, nil, false, err
	}
	// HTTP/1.1 200 OK
	proto, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(rest) < 3 || (len(rest) > 3 && rest[3] != ' ') {
		return 0, nil, false, malformed("status line %q", trunc(line))
	}
	var http11 bool
	switch string(proto) {
	case "HTTP/1.1":
		http11 = true
	case "HTTP/1.0":
	default:
		return 0, nil, false, malformed("protocol %q", trunc(proto))
	}
	for _, c := range rest[:3] {
		if c < '0' || c > '9' {
			return 0, nil, false, malformed("status line %q", trunc(line))
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return 0, nil, false, malformed("status %d", status)
	}

	var (
		chunked, closeConn bool
		length             int64 = -1
	)
	keepAlive = http11
	n := 0
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, nil, false, err
		}
		if len(line) == 0 {
			break
		}
		if n++; n > maxHeaders {
			return 0, nil, false, malformed("more than %d header lines", maxHeaders)
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !token(name) {
			return 0, nil, false, malformed("header line %q", trunc(line))
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v < 0 || value[0] == '+' || (length >= 0 && v != length) {
				return 0, nil, false, malformed("Content-Length %q", trunc(value))
			}
			length = v
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) || chunked || !http11 {
				return 0, nil, false, malformed("Transfer-Encoding %q", trunc(value))
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			for _, tok := range bytes.Split(value, []byte(",")) {
				tok = bytes.Trim(tok, " \t")
				if bytes.EqualFold(tok, []byte("close")) {
					closeConn = true
				} else if bytes.EqualFold(tok, []byte("keep-alive")) && !http11 {
					keepAlive = true
				}
			}
		}
	}
	if closeConn {
		keepAlive = false
	}
	if status < 200 {
		return 0, nil, false, malformed("informational status %d", status)
	}

	limit := maxBody
	if status != 200 {
		limit = errBodyMax
	}
	switch {
	case status == 204 || status == 304:
		if chunked || length > 0 {
			return 0, nil, false, malformed("body with status %d", status)
		}
		body = nil
	case chunked:
		if length >= 0 {
			return 0, nil, false, malformed("both Transfer-Encoding and Content-Length")
		}
		body, err = readChunked(br, limit)
	case length >= 0:
		if length > limit {
			err = fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, length, limit)
			break
		}
		body = make([]byte, length)
		if _, err = io.ReadFull(br, body); err != nil {
			err = fmt.Errorf("read body: %w", err)
		}
	default: // until the connection ends
		keepAlive = false
		body, err = io.ReadAll(io.LimitReader(br, limit+1))
		if err == nil && int64(len(body)) > limit {
			err = fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
		}
	}
	if err != nil {
		if status != 200 && errors.Is(err, ErrTooLarge) {
			return status, nil, false, nil // the status is what matters
		}
		return 0, nil, false, err
	}
	if status != 200 {
		body = nil
	}
	return status, body, keepAlive, nil
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
