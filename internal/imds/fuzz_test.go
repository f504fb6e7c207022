package imds

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzReadResponse checks readResponse against net/http: it never panics,
// never returns a body over the limit, and whatever it accepts as a 200,
// net/http reads as the same status and body (readResponse may refuse
// more: it is the stricter of the two).
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil the end",
		"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 1\n\nx",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 64
		status, body, _, err := readResponse(bufio.NewReaderSize(bytes.NewReader(in), 4096), limit)
		if err != nil {
			return
		}
		if len(body) > limit {
			t.Fatalf("body of %d bytes over the %d limit", len(body), limit)
		}
		if status != 200 {
			if body != nil {
				t.Fatalf("status %d with a body", status)
			}
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), nil)
		if err != nil {
			t.Fatalf("accepted %q, net/http refuses it: %v", in, err)
		}
		want, err := io.ReadAll(resp.Body)
		if err != nil && !strings.Contains(err.Error(), "EOF") {
			t.Fatalf("accepted %q, net/http cannot read its body: %v", in, err)
		}
		if resp.StatusCode != status || !bytes.Equal(want, body) {
			t.Fatalf("%q: got %d %q, net/http reads %d %q", in, status, body, resp.StatusCode, want)
		}
	})
}
