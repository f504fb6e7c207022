package keypush

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/keyfile"
	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/placekey"
)

// runCommandAPI answers SendCommand and GetCommandInvocation as AWS does
// for a command that takes a while: InvocationDoesNotExist for the first
// polls, then InProgress, then the final status. (The sandbox completes
// commands at once, so this part of AWS's behaviour is modelled here.)
type runCommandAPI struct {
	API
	mu       sync.Mutex
	missing  int // polls answered InvocationDoesNotExist
	running  int // then polls answered InProgress
	final    awsapi.Invocation
	polls    []time.Time
	commands [][]string
	comment  string
}

func (a *runCommandAPI) SendCommand(ctx context.Context, id string, commands []string, comment string, timeout int32) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.commands = append(a.commands, commands)
	a.comment = comment
	return "11111111-2222-4333-8444-555555555555", nil
}

func (a *runCommandAPI) CommandInvocation(ctx context.Context, cid, id string) (awsapi.Invocation, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.polls = append(a.polls, time.Now())
	switch n := len(a.polls); {
	case n <= a.missing:
		return awsapi.Invocation{}, &awsapi.APIError{Action: "ssm:GetCommandInvocation", Code: "InvocationDoesNotExist"}
	case n <= a.missing+a.running:
		return awsapi.Invocation{Status: "InProgress"}, nil
	}
	return a.final, nil
}

func TestPlaceKeyPollsUntilDone(t *testing.T) {
	key, err := sshkeys.Generate("")
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(keyfile.Window).Truncate(time.Second)
	api := &runCommandAPI{missing: 2, running: 2, final: awsapi.Invocation{Status: "Success"}}
	cid, err := PlaceKey(context.Background(), api, "mi-0a1b2c3d4e5f00001", "alice", key.AuthorizedKey(), exp)
	if err != nil || cid == "" {
		t.Fatalf("PlaceKey: %q, %v", cid, err)
	}
	if len(api.polls) != 5 {
		t.Fatalf("%d polls, want 5 (2 InvocationDoesNotExist, 2 InProgress, Success)", len(api.polls))
	}
	for i := 2; i < len(api.polls); i++ {
		if d, prev := api.polls[i].Sub(api.polls[i-1]), api.polls[i-1].Sub(api.polls[i-2]); d < prev {
			t.Errorf("poll %d came %v after the previous one, sooner than the %v before: no backoff", i, d, prev)
		}
	}
	p, err := placekey.Parse(api.commands[0], time.Now())
	if err != nil || p.User != "alice" || !p.Expires.Equal(exp) || !strings.HasPrefix(key.AuthorizedKey(), strings.TrimSuffix(p.Key, placekey.Comment)) {
		t.Fatalf("the command sent is not the key placement for alice until %v: %+v %v", exp, p, err)
	}
	if !strings.HasPrefix(api.comment, "jitssh: SSH key for alice until ") || len(api.comment) > 100 {
		t.Errorf("comment %q", api.comment)
	}
}

func TestPlaceKeyFailureIsExplained(t *testing.T) {
	key, _ := sshkeys.Generate("")
	for _, c := range []struct {
		inv  awsapi.Invocation
		want []string
	}{
		{awsapi.Invocation{Status: "Failed", ResponseCode: 1, Stderr: "cut: write error\n"}, []string{"ended Failed (exit status 1): cut: write error", "needs the user alice to exist"}},
		{awsapi.Invocation{Status: "TimedOut"}, []string{"ended TimedOut", "agent is online"}},
	} {
		api := &runCommandAPI{final: c.inv}
		_, err := PlaceKey(context.Background(), api, "mi-0a1b2c3d4e5f00001", "alice", key.AuthorizedKey(), time.Now().Add(time.Minute))
		if err == nil {
			t.Fatalf("%s: no error", c.inv.Status)
		}
		var pe *PlaceKeyError
		if !errors.As(err, &pe) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: %v, want a one-line *PlaceKeyError", c.inv.Status, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error()+" "+pe.Advice(), w) {
				t.Errorf("%s: error and advice lack %q: %v / %s", c.inv.Status, w, err, pe.Advice())
			}
		}
	}
	// A cancelled caller stops polling.
	api := &runCommandAPI{missing: 1 << 30}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := PlaceKey(ctx, api, "mi-0a1b2c3d4e5f00001", "alice", key.AuthorizedKey(), time.Now().Add(time.Minute)); err == nil {
		t.Fatal("PlaceKey returned nil while the invocation never appeared")
	}
	// Bad input is refused before anything is sent.
	api = &runCommandAPI{}
	if _, err := PlaceKey(context.Background(), api, "mi-0a1b2c3d4e5f00001", "Root;rm", key.AuthorizedKey(), time.Now().Add(time.Minute)); err == nil || len(api.commands) != 0 {
		t.Fatalf("a bad user name: %v, %d commands sent", err, len(api.commands))
	}
}
