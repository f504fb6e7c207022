package connect

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/transport"
)

// halfCloseWait bounds how long Proxy keeps reading after its input ended.
const halfCloseWait = 30 * time.Second

// authWatchBytes is how far past the key exchange splice counts what the
// server sends before copying at full speed (see streamReport).
const authWatchBytes = 16 << 10

// spliceOptions configures splice.
type spliceOptions struct {
	what string // "ssm connection to i-…", for errors
	// seen, if not nil, is shown the host key the server presents (see
	// hostKeyWatch).
	seen func(ssh.PublicKey)
	// firstByte, if not nil, is called when the server's first byte
	// arrives, before it is passed on.
	firstByte func()
	// banner, if not zero, bounds the wait for that first byte; bannerErr
	// is the error then.
	banner    time.Duration
	bannerErr func() error
	// sshGone, if not nil, closes when ssh has exited (ProxyOptions.SSHGone).
	sshGone <-chan struct{}
}

// sshClosesSoon reports whether ssh closes its side (inDone) or goes away
// within remoteEndGrace.
func sshClosesSoon(ctx context.Context, inDone <-chan error, gone <-chan struct{}) bool {
	t := time.NewTimer(remoteEndGrace)
	defer t.Stop()
	select {
	case <-inDone:
		return true
	case <-gone:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// remoteEndGrace is how long splice waits, after the instance's side
// ended, for ssh to close its side by itself (a normal end).
const remoteEndGrace = 500 * time.Millisecond

// streamReport is what splice saw of the SSH stream, for explaining how
// it ended.
type streamReport struct {
	start     time.Time
	version   string    // the server's version line
	firstByte time.Time // the server's first byte (zero: none)
	newKeys   time.Time // the end of the key exchange (zero: not seen)
	// afterKex counts the server's bytes after the key exchange, up to
	// authWatchBytes.
	afterKex  int
	sshClosed bool // ssh closed its side first
	end       time.Time
	remoteErr error // how the server's side ended, if with an error
}

// splice copies both ways. When the ssh client closes our stdin, the
// connection's write side is closed (SSM: after the agent acknowledged
// everything) and what the instance still sends is copied out; when the
// instance closes, we are done. The caller closes c.
func splice(ctx context.Context, c transport.Conn, o spliceOptions, stdin io.Reader, stdout io.Writer) (*streamReport, error) {
	growPipes(stdin) // not stdout: see growPipes
	rep := &streamReport{start: time.Now()}
	var mu sync.Mutex // guards rep's fields written by the reader
	gotFirst := make(chan struct{})
	var bannerTimedOut bool
	if o.banner > 0 {
		t := time.AfterFunc(o.banner, func() {
			select {
			case <-gotFirst:
			default:
				mu.Lock()
				bannerTimedOut = true
				mu.Unlock()
				c.Close()
			}
		})
		defer t.Stop()
	}
	outDone := make(chan error, 1)
	go func() {
		outDone <- watchStream(stdout, c, o, rep, &mu, gotFirst)
	}()
	inDone := make(chan error, 1)
	go func() {
		_, err := copyConn(c, stdin, c)
		inDone <- err
	}()
	finish := func(sshClosed bool, remoteErr error) {
		mu.Lock()
		rep.end, rep.sshClosed, rep.remoteErr = time.Now(), sshClosed, remoteErr
		mu.Unlock()
	}
	select {
	case err := <-outDone:
		// Remote end closed (or the connection failed). ssh closing its
		// side within a moment means it had the session's end (exit
		// status, channel close) and is done: a normal end, which must
		// not be taken for the instance going away (that check costs an
		// EC2 call). After a real loss ssh waits for data until our
		// stdout closes, so the wait is all it costs.
		finish(sshClosesSoon(ctx, inDone, o.sshGone), err)
		mu.Lock()
		timedOut := bannerTimedOut && rep.firstByte.IsZero()
		mu.Unlock()
		if timedOut && o.bannerErr != nil {
			return rep, o.bannerErr()
		}
		if err != nil && !isBrokenPipe(err) {
			return rep, fmt.Errorf("%s: %w", o.what, err)
		}
		return rep, nil
	case err := <-inDone:
		// CloseWrite may wait (SSM: for the agent's acknowledgements);
		// ssh going away (its SIGHUP) must not wait for it.
		go func() { _ = c.CloseWrite() }()
		t := time.NewTimer(halfCloseWait)
		defer t.Stop()
		finish(true, nil)
		select {
		case <-outDone:
		case <-t.C:
		case <-o.sshGone:
		case <-ctx.Done():
		}
		if err != nil {
			return rep, fmt.Errorf("read stdin: %w", err)
		}
		return rep, nil
	case <-o.sshGone:
		finish(true, nil)
		return rep, nil
	case <-ctx.Done():
		finish(false, ctx.Err())
		return rep, ctx.Err()
	}
}

// watchStream copies the server's side to stdout, noting its first byte,
// the host key and the end of the key exchange, and counting what follows
// up to authWatchBytes; then it copies at full speed.
func watchStream(stdout io.Writer, c transport.Conn, o spliceOptions, rep *streamReport, mu *sync.Mutex, gotFirst chan struct{}) error {
	buf := make([]byte, 32<<10)
	w := &hostKeyWatch{}
	told := false
	first := true
	for {
		n, rerr := c.Read(buf)
		if n > 0 {
			if first {
				first = false
				mu.Lock()
				rep.firstByte = time.Now()
				mu.Unlock()
				close(gotFirst)
				if o.firstByte != nil {
					o.firstByte()
				}
			}
			mu.Lock()
			if !w.done {
				w.feed(buf[:n])
				rep.version = w.version
				if w.newKeys {
					rep.newKeys = time.Now()
					rep.afterKex = w.after
				}
			} else if w.newKeys {
				rep.afterKex += n
			}
			stop := w.done && (!w.newKeys || rep.afterKex >= authWatchBytes)
			mu.Unlock()
			if w.key != nil && !told && o.seen != nil {
				told = true
				o.seen(w.key)
			}
			if _, err := stdout.Write(buf[:n]); err != nil {
				return err
			}
			if stop {
				break
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
	_, err := copyConn(stdout, c, c)
	return err
}
