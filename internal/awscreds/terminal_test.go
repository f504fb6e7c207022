package awscreds

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// TestDeadlineReader: what gives Windows' console (a handle that takes
// no deadline) the MFA prompt's and the sign-in question's timeout. A
// read past the deadline returns os.ErrDeadlineExceeded, which readCode
// turns into "no answer within …"; bytes that arrive later are not lost.
func TestDeadlineReader(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	d := &deadlineReader{r: pr}
	if err := d.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	start := time.Now()
	if n, err := d.Read(buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read with nothing typed = %d, %v; want the deadline", n, err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("the deadline took %v", waited)
	}
	go pw.Write([]byte("123456\r\n"))
	d.SetReadDeadline(time.Time{})
	n, err := d.Read(buf)
	if err != nil || string(buf[:n]) != "123456\r\n" {
		t.Fatalf("Read after the deadline = %q, %v; want the typed line", buf[:n], err)
	}
}

// TestReadCodeThroughDeadlineReader: the prompt over a console-like
// reader times out with the prompt's own error, not a hang.
func TestReadCodeThroughDeadlineReader(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	d := &deadlineReader{r: pr}
	d.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := readCode(d, io.Discard, "mfa", "arn:aws:iam::123456789012:mfa/carol", 50*time.Millisecond)
	var pe *PromptError
	if !errors.As(err, &pe) || pe.Reason != "no answer within 50ms" {
		t.Fatalf("readCode = %v; want no answer within 50ms", err)
	}
}
