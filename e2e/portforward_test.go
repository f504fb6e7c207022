package e2e

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/datachannel/mux"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// TestMultiplexedPortForwarding runs an AWS-StartPortForwardingSession
// through the sandbox: several concurrent connections over one session
// reach the instance's echo service, a connection to a closed port fails
// alone, and AWS-StartPortForwardingSessionToRemoteHost reaches another
// instance's sshd by private IP.
func TestMultiplexedPortForwarding(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	api := apiClient(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	open := func(doc string, params map[string][]string) (*datachannel.Session, string) {
		t.Helper()
		sess, err := api.StartSession(ctx, e.sb.Instances[0].ID, doc, params, "")
		if err != nil {
			t.Fatal(err)
		}
		dc, err := datachannel.Dial(ctx, sess.StreamURL, sess.Token, datachannel.DialOptions{HTTPClient: sess.HTTPClient})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dc.Close() })
		res, err := dc.ClientHandshake(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(res.Properties, []byte(`"type":"LocalPortForwarding"`)) {
			t.Fatalf("handshake properties %s", res.Properties)
		}
		if !mux.ClientMultiplexes(res.AgentVersion) {
			t.Fatalf("agent %s does not multiplex", res.AgentVersion)
		}
		return dc, res.AgentVersion
	}

	dc, agentVersion := open("AWS-StartPortForwardingSession", map[string][]string{"portNumber": {"7"}})
	cli, err := mux.Client(dc, agentVersion)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, err := cli.OpenStream()
			if err != nil {
				t.Error(err)
				return
			}
			defer st.Close()
			msg := bytes.Repeat([]byte{byte(i), '\n', 0xff}, 50000)
			go st.Write(msg)
			got := make([]byte, len(msg))
			st.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(st, got); err != nil || !bytes.Equal(got, msg) {
				t.Errorf("connection %d: echo differs (%v)", i, err)
			}
		}(i)
	}
	wg.Wait()

	// A closed port: the stream fails, the session survives.
	dc2, v2 := open("AWS-StartPortForwardingSession", map[string][]string{"portNumber": {"8080"}})
	cli2, err := mux.Client(dc2, v2)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cli2.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	st.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := st.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("read from a closed port returned %d, %v", n, err)
	}
	if dc2.Err() != nil {
		t.Fatalf("one failed connection ended the session: %v", dc2.Err())
	}

	// To a remote host: another instance's sshd, by private IP.
	dc3, v3 := open("AWS-StartPortForwardingSessionToRemoteHost", map[string][]string{"portNumber": {"22"}, "host": {e.sb.Instances[1].PrivateIP}})
	cli3, err := mux.Client(dc3, v3)
	if err != nil {
		t.Fatal(err)
	}
	st3, err := cli3.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	banner := make([]byte, 8)
	st3.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(st3, banner); err != nil || string(banner) != "SSH-2.0-" {
		t.Fatalf("remote host banner %q, %v", banner, err)
	}
}
