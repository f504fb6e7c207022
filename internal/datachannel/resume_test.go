package datachannel

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestResumeKeepsStreamIntact cuts the connection repeatedly while data
// flows both ways, with frame faults on top: the client reconnects, the
// agent accepts the new connection, and every byte arrives once, in order.
func TestResumeKeepsStreamIntact(t *testing.T) {
	ca, cb := memPipe()
	var (
		mu      sync.Mutex
		agent   *Session
		current = ca
		resumes atomic.Int32
	)
	client := NewSession(ca, Config{Role: RoleClient, ResumeTimeout: 10 * time.Second,
		Reconnect: func(ctx context.Context) (FrameConn, error) {
			na, nb := memPipe()
			na.faults(0.02, 0.01, 0.02)
			nb.faults(0.02, 0.01, 0.02)
			mu.Lock()
			current = na
			a := agent
			mu.Unlock()
			a.Attach(nb)
			resumes.Add(1)
			return na, nil
		}})
	mu.Lock()
	agent = NewSession(cb, Config{Role: RoleAgent, AwaitAttach: true, ResumeTimeout: 10 * time.Second})
	mu.Unlock()
	t.Cleanup(func() { client.Close(); agent.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go client.ClientHandshake(ctx)
	if _, err := agent.AgentHandshake(ctx, "3.3.987.0", SessionTypePort, PortProperties{PortNumber: "22"}); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	go func() { // cut the connection every 150 ms
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			mu.Lock()
			c := current
			mu.Unlock()
			c.Close()
		}
	}()
	// Stream in rounds until the connection has been cut at least twice: on
	// a fast (or a starved) machine one round can end before the first cut.
	for round := 0; resumes.Load() < 2 && round < 30; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		ck := func(name string, w, r *Session) {
			defer wg.Done()
			errs <- streamCheck(name, 3<<20, w, r)
		}
		wg.Add(2)
		go ck("client->agent", client, agent)
		go ck("agent->client", agent, client)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	close(stop)
	if resumes.Load() < 2 {
		t.Fatalf("only %d resumes happened; the test did not exercise resume", resumes.Load())
	}
	t.Logf("%d resumes", resumes.Load())
}

// TestResumeGivesUpWithClearError: a connection that cannot come back ends
// the session after ResumeTimeout with an error saying so.
func TestResumeGivesUpWithClearError(t *testing.T) {
	ca, _ := memPipe()
	client := NewSession(ca, Config{Role: RoleClient, ResumeTimeout: 300 * time.Millisecond,
		Reconnect: func(ctx context.Context) (FrameConn, error) { return nil, context.DeadlineExceeded }})
	defer client.Close()
	ca.Close()
	_, err := client.Read(make([]byte, 1))
	if err == nil || !strings.Contains(err.Error(), "not resumed within 300ms") {
		t.Fatalf("err = %v", err)
	}
}

// TestNoResumeAfterTerminate: once the client asked the agent to end the
// session, the agent closing the connection ends the session without a
// ResumeSession.
func TestNoResumeAfterTerminate(t *testing.T) {
	ca, cb := memPipe()
	var resumes atomic.Int32
	client := NewSession(ca, Config{Role: RoleClient, Reconnect: func(ctx context.Context) (FrameConn, error) {
		resumes.Add(1)
		return nil, context.Canceled
	}})
	agent := NewSession(cb, Config{Role: RoleAgent})
	defer client.Close()
	defer agent.Close()
	if err := client.SendFlag(FlagTerminateSession); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("agent read after terminate flag: %v", err)
	}
	agent.Close() // the agent hangs up, as AWS's does
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after the agent hung up: %v, want EOF", err)
	}
	if n := resumes.Load(); n != 0 {
		t.Fatalf("%d resume attempts after TerminateSession", n)
	}
}

// TestStopResumingFailsAtOnce: a Reconnect error marked StopResuming ends
// the session at once with that error, not after ResumeTimeout; and a
// session that runs out of time reports the last real failure rather
// than the deadline that cut the last attempt short.
func TestStopResumingFailsAtOnce(t *testing.T) {
	refused := errors.New("ssm:ResumeSession failed: ExpiredTokenException: The security token included in the request is expired")
	var attempts atomic.Int32
	ca, _ := memPipe()
	client := NewSession(ca, Config{Role: RoleClient, ResumeTimeout: time.Minute,
		Reconnect: func(ctx context.Context) (FrameConn, error) {
			attempts.Add(1)
			return nil, StopResuming(refused)
		}})
	defer client.Close()
	start := time.Now()
	ca.Close()
	_, err := client.Read(make([]byte, 1))
	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "cannot be resumed") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second || attempts.Load() != 1 {
		t.Fatalf("gave up after %s and %d attempts, want at once after one", d, attempts.Load())
	}

	cb, _ := memPipe()
	var n atomic.Int32
	client2 := NewSession(cb, Config{Role: RoleClient, ResumeTimeout: 400 * time.Millisecond,
		Reconnect: func(ctx context.Context) (FrameConn, error) {
			if n.Add(1) == 1 {
				return nil, refused
			}
			<-ctx.Done()
			return nil, ctx.Err()
		}})
	defer client2.Close()
	cb.Close()
	if _, err := client2.Read(make([]byte, 1)); !errors.Is(err, refused) {
		t.Fatalf("err = %v, want the last real failure", err)
	}
}
