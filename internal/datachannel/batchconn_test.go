package datachannel

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// TestBatchConnKeepsOrderAndFlushesOnClose writes many small pieces from
// one goroutine (as the session's serialised writer does) and checks the
// peer reads exactly them, in order, including what was queued at Close.
func TestBatchConnKeepsOrderAndFlushesOnClose(t *testing.T) {
	a, b := net.Pipe()
	bc := newBatchConn(a)
	var want bytes.Buffer
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	for i := 0; i < 5000; i++ {
		p := bytes.Repeat([]byte{byte(i)}, 1+i%300)
		want.Write(p)
		if _, err := bc.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := bc.Close(); err != nil {
		t.Fatal(err)
	}
	if g := <-got; !bytes.Equal(g, want.Bytes()) {
		t.Fatalf("peer read %d bytes, want %d (or order differs)", len(g), want.Len())
	}
}

// TestBatchConnReportsWriteErrors: once the connection fails, later writes
// return the error instead of queueing forever.
func TestBatchConnReportsWriteErrors(t *testing.T) {
	a, b := net.Pipe()
	b.Close()
	bc := newBatchConn(a)
	var err error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 1000 && err == nil; i++ {
			_, err = bc.Write(make([]byte, 4096))
		}
	}()
	wg.Wait()
	if err == nil || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("writes after the peer closed: err = %v", err)
	}
	bc.Close()
}
