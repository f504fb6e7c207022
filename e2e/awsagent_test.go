package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
	"github.com/jitssh/jitssh/internal/transport"
)

// uploadResendSizeRTO13 is the default size of
// TestUploadToAWSLikeAgentResendsLittle; JITSSH_UPLOAD_SIZE_MIB
// overrides it (bench/awsagent.sh runs 64 MiB).
const uploadResendSizeRTO13 = 8 << 20

// TestUploadToAWSLikeAgentResendsLittle uploads a file with the real scp
// through the SSM tunnel to the default, AWS-like sandbox agent, which
// acknowledges a message only after handing it to sshd (late, unevenly):
// the file arrives intact and fewer than 0.1 % of the messages the agent
// receives are resends it already had (a fixed 100 ms timer resent over
// 1 % against AWS's agent).
func TestUploadToAWSLikeAgentResendsLittle(t *testing.T) {
	size := uploadResendSizeRTO13
	if s := os.Getenv("JITSSH_UPLOAD_SIZE_MIB"); s != "" {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
			t.Fatalf("JITSSH_UPLOAD_SIZE_MIB=%q: want a number of MiB", s)
		}
		size = n << 20
	}
	e := newEnv(t, bestMode(t), func(c *sandbox.Config) {})
	id := e.sb.Instances[0].ID
	dir := t.TempDir()
	local := filepath.Join(dir, "payload")
	f, err := os.Create(local)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	chunk := make([]byte, 1<<20)
	for range size >> 20 {
		rand.Read(chunk)
		h.Write(chunk)
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(remoteDir(t), "upload")
	start := time.Now()
	if out, err := e.run("scp", "-q", "-F", e.sshCf, local, id+":"+remote); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	took := time.Since(start)
	got, err := os.ReadFile(remote)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != [32]byte(h.Sum(nil)) {
		t.Fatalf("file changed in transit: %d bytes arrived of %d", len(got), size)
	}
	// The client sends 1024-byte messages: at least size/1024 of them.
	msgs := size / 1024
	dups := e.sb.DataChannelDuplicates("")
	t.Logf("%d MiB up in %s (%.1f MiB/s): %d of %d messages resent (%.3f %%)",
		size>>20, took.Round(time.Millisecond), float64(size>>20)/took.Seconds(), dups, msgs, 100*float64(dups)/float64(msgs))
	// The same count through the admin endpoint.
	req, _ := http.NewRequest(http.MethodGet, e.sb.URL+"/_sandbox/datachannel", nil)
	req.Header.Set("Authorization", "Bearer "+e.sb.AdminToken)
	resp, err := sandboxenv.HTTPClient(t, e.sb).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var counts struct {
		Dups int `json:"duplicates_received"`
	}
	err = json.NewDecoder(resp.Body).Decode(&counts)
	resp.Body.Close()
	if err != nil || counts.Dups != dups {
		t.Fatalf("GET /_sandbox/datachannel: %+v, %v; want %d duplicates", counts, err, dups)
	}
	if _, resumes := e.sb.FaultStats(); resumes != 0 {
		t.Fatalf("the data channel was resumed %d times during a fault-free upload", resumes)
	}
	if dups*1000 >= msgs {
		t.Fatalf("%d of %d messages were resent to the AWS-like agent (%.2f %%); want < 0.1 %%", dups, msgs, 100*float64(dups)/float64(msgs))
	}
}

// recordingConnRTO13 records the first frame a FrameConn reads and the
// error that ended its reading.
type recordingConnRTO13 struct {
	datachannel.FrameConn
	mu    sync.Mutex
	first []byte
	err   error
}

func (c *recordingConnRTO13) ReadFrame(ctx context.Context) ([]byte, error) {
	f, err := c.FrameConn.ReadFrame(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && c.err == nil {
		c.err = err
	}
	if err == nil && c.first == nil {
		c.first = f
	}
	return f, err
}

// TestAWSLikeAgentStartsWithSessionStateAndHangsUp: the default agent's
// first frame is agent_session_state (seq 0, flags 3, SessionState
// Connected), as AWS's agent sends, and at the end of the session it drops
// the websocket without a close frame; the fast agent starts with the
// handshake.
func TestAWSLikeAgentStartsWithSessionStateAndHangsUp(t *testing.T) {
	for _, fast := range []bool{false, true} {
		t.Run(fmt.Sprintf("fast=%v", fast), func(t *testing.T) {
			e := newEnv(t, sshd.Embedded, func(c *sandbox.Config) { c.FastAgent = fast })
			api := apiClient(t, e)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			sess, err := api.StartSession(ctx, e.sb.Instances[0].ID, transport.SSHDocument, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			ws, err := datachannel.DialFrameConn(ctx, sess.StreamURL, sess.Token, uuid.NewString(), sess.HTTPClient)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recordingConnRTO13{FrameConn: ws}
			dc := datachannel.NewSession(rec, datachannel.Config{Role: datachannel.RoleClient})
			defer dc.Close()
			if _, err := dc.ClientHandshake(ctx); err != nil {
				t.Fatal(err)
			}
			if err := api.TerminateSession(ctx, sess.ID); err != nil {
				t.Fatal(err)
			}
			select {
			case <-dc.Done():
			case <-ctx.Done():
				t.Fatal("the session did not end after TerminateSession")
			}
			if dc.ChannelClosed() == nil {
				t.Fatal("no channel_closed before the end")
			}
			rec.mu.Lock()
			first, rerr := rec.first, rec.err
			rec.mu.Unlock()
			m, err := datachannel.Unmarshal(first)
			if err != nil {
				t.Fatal(err)
			}
			if fast {
				if m.Type == datachannel.TypeAgentSessionState {
					t.Fatal("the fast agent sent agent_session_state")
				}
				return
			}
			var st struct {
				SchemaVersion           int
				SessionState, SessionId string
			}
			if m.Type != datachannel.TypeAgentSessionState || m.SequenceNumber != 0 || m.Flags != 3 ||
				json.Unmarshal(m.Payload, &st) != nil || st.SessionState != "Connected" || st.SessionId != sess.ID {
				t.Fatalf("first frame %s seq %d flags %d payload %s; want agent_session_state, 0, 3, Connected for %s",
					m.Type, m.SequenceNumber, m.Flags, m.Payload, sess.ID)
			}
			if code := websocket.CloseStatus(rerr); code != -1 {
				t.Fatalf("the agent closed with status %d (%v); want no close frame", code, rerr)
			}
		})
	}
}
