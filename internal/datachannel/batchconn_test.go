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

// TestBatchConnReadAhead: small reads (the websocket library's 4 KiB
// buffer) get exactly the bytes sent, in order, in fewer system calls than
// reads, and the peer's close is reported only after every buffered byte.
func TestBatchConnReadAhead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := make([]byte, 1<<20)
	for i := range want {
		want[i] = byte(i * 7 / 3)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write(want)
		c.Close()
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingConn{Conn: raw}
	bc := newBatchConn(counter)
	defer bc.Close()
	var got []byte
	buf := make([]byte, 4096)
	reads := 0
	for {
		n, err := bc.Read(buf[:1+reads%4096])
		got = append(got, buf[:n]...)
		reads++
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d (or order differs)", len(got), len(want))
	}
	if counter.reads*4 > reads {
		t.Fatalf("%d socket reads for %d reads: no read-ahead", counter.reads, reads)
	}
}

type countingConn struct {
	net.Conn
	reads int
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads++
	return c.Conn.Read(p)
}
