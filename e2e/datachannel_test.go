package e2e

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/transport"
)

// apiClient is a real SDK-backed client pointed at the sandbox through the
// standard environment variables.
func apiClient(t testing.TB, e *env) *awsapi.Client {
	t.Helper()
	for _, kv := range e.vars {
		if k, v, ok := strings.Cut(kv, "="); ok && (strings.HasPrefix(k, "AWS_") || k == "HOME") {
			t.Setenv(k, v)
		}
	}
	c, err := awsapi.New(context.Background(), awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDataChannelRefusesWrongToken(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	api := apiClient(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := api.StartSession(ctx, e.sb.Instances[0].ID, transport.SSHDocument, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	dc, err := datachannel.Dial(ctx, sess.StreamURL, sess.Token+"x", datachannel.DialOptions{HTTPClient: sess.HTTPClient})
	if err != nil {
		t.Fatal(err) // the upgrade itself succeeds; the token is checked next
	}
	defer dc.Close()
	hctx, hcancel := context.WithTimeout(ctx, 3*time.Second)
	defer hcancel()
	if _, err := dc.ClientHandshake(hctx); err == nil {
		t.Fatal("handshake completed with a wrong token")
	}
}

func TestTunnelReachesSSHDAndTerminateEndsIt(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	api := apiClient(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tun, err := transport.OpenTunnel(ctx, api, e.sb.Instances[0].ID, 22, "e2e test")
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	banner := make([]byte, 8)
	if _, err := io.ReadFull(tun, banner); err != nil || string(banner) != "SSH-2.0-" {
		t.Fatalf("first bytes through the tunnel = %q, %v; want an SSH banner", banner, err)
	}
	if err := api.TerminateSession(ctx, tun.SessionID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, tun); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tunnel ended with %v, want a clean EOF from channel_closed", err)
		}
		if tun.ChannelClosed() == nil {
			t.Fatal("tunnel ended without channel_closed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("TerminateSession did not end the tunnel")
	}
}

func TestTunnelPayloadSizeIsValidated(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	api := apiClient(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := transport.OpenTunnelWith(ctx, api, e.sb.Instances[0].ID, 22, "", transport.TunnelConfig{MaxPayload: 10}); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("payload size 10 accepted: %v", err)
	}
	tun, err := transport.OpenTunnelWith(ctx, api, e.sb.Instances[0].ID, 22, "", transport.TunnelConfig{MaxPayload: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	banner := make([]byte, 8)
	if _, err := io.ReadFull(tun, banner); err != nil || string(banner) != "SSH-2.0-" {
		t.Fatalf("banner %q, %v", banner, err)
	}
}
