package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/eice"
	"github.com/jitssh/jitssh/internal/instances"
	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
	"github.com/jitssh/jitssh/internal/transport"
)

// byName returns the sandbox instance with that Name tag, resolved over
// the API as the client sees it (VPC, subnet, public IP).
func byName(t *testing.T, api *awsapi.Client, name string) targets.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	found, err := targets.Candidates(ctx, instances.Lookup{API: api}, targets.Spec{Kind: targets.KindName, Value: name})
	if err != nil || len(found) != 1 {
		t.Fatalf("instance %s: %v, %v", name, found, err)
	}
	return found[0]
}

// learnKey learns inst's host key over tr, an AWS-authenticated transport
// (ssm or eice).
func learnKey(t *testing.T, tr transport.Transport, inst targets.Instance) ssh.PublicKey {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := tr.Dial(ctx, inst, 22)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := knownhosts.Learn(ctx, c, "learn")
	if err != nil {
		t.Fatal(err)
	}
	return keys[0]
}

// transportCase is one transport under the conformance suite.
type transportCase struct {
	tr      transport.Transport
	inst    targets.Instance // reachable through tr
	hostKey ssh.PublicKey    // inst's real host key
	// bad is a target tr cannot reach, on badPort; the error must contain
	// badWant.
	bad     targets.Instance
	badPort int
	badWant string
}

// conformance runs the same checks on every transport: connect; an SSH
// session echoing random binary data through cat (both directions, ended
// by a half-close); the transport's own half-close; 8 concurrent
// connections; a clear error for an unreachable target.
func conformance(t *testing.T, api *awsapi.Client, user string, tc transportCase) {
	signer := testkeys.Signer(t)
	push := func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := api.SendSSHPublicKey(ctx, tc.inst.ID, user, string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); err != nil {
			t.Fatal(err)
		}
	}
	login := func(ctx context.Context) (*ssh.Client, error) {
		c, err := tc.tr.Dial(ctx, tc.inst, 22)
		if err != nil {
			return nil, err
		}
		cc, chans, reqs, err := ssh.NewClientConn(c, tc.inst.ID, &ssh.ClientConfig{
			User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(tc.hostKey),
		})
		if err != nil {
			c.Close()
			return nil, err
		}
		return ssh.NewClient(cc, chans, reqs), nil
	}
	echo := func(client *ssh.Client, n int) error {
		s, err := client.NewSession()
		if err != nil {
			return err
		}
		defer s.Close()
		in, _ := s.StdinPipe()
		out, _ := s.StdoutPipe()
		if err := s.Start("cat"); err != nil {
			return err
		}
		data := make([]byte, n)
		rand.Read(data)
		go func() {
			in.Write(data)
			in.Close() // half-close: cat sees EOF and exits
		}()
		got, err := io.ReadAll(out)
		if err != nil {
			return err
		}
		if err := s.Wait(); err != nil {
			return fmt.Errorf("cat: %w", err)
		}
		if !bytes.Equal(got, data) {
			return fmt.Errorf("cat echoed %d bytes, sent %d, or they differ", len(got), len(data))
		}
		return nil
	}
	t.Run("connect-echo-halfclose", func(t *testing.T) {
		push(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client, err := login(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if err := echo(client, 1<<20); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("transport-halfclose", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := tc.tr.Dial(ctx, tc.inst, 22)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		banner := make([]byte, 8)
		if _, err := io.ReadFull(c, banner); err != nil || string(banner) != "SSH-2.0-" {
			t.Fatalf("first bytes %q, %v; want an SSH banner", banner, err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		// The read side ends (sshd closes on EOF; SSM and EICE close
		// altogether) instead of hanging.
		done := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, c); done <- err }()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("read side still open 20 s after CloseWrite")
		}
	})
	t.Run("8-concurrent", func(t *testing.T) {
		push(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client, err := login(ctx)
				if err != nil {
					errs <- err
					return
				}
				defer client.Close()
				errs <- echo(client, 64<<10)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := tc.tr.Dial(ctx, tc.bad, tc.badPort)
		if err == nil {
			c.Close()
			t.Fatalf("dial %s:%d over %s succeeded", tc.bad.ID, tc.badPort, tc.tr.Name())
		}
		// the advice a refused EICE tunnel keeps apart from its error
		var ue *eice.UpgradeError
		advice := ""
		if errors.As(err, &ue) {
			advice = ue.Advice
		}
		if !strings.Contains(err.Error()+"\n"+advice, tc.badWant) {
			t.Fatalf("error %q (advice %q) lacks %q", err, advice, tc.badWant)
		}
	})
}

// TestTransportConformance runs the conformance suite on every transport,
// against the embedded SSH server (the transports are under test here, not
// sshd: the real sshd is used by the ssh-through-ProxyCommand tests).
func TestTransportConformance(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	api := apiClient(t, e)
	user := currentUser(t)
	web1, db1, bastion := byName(t, api, "web-1"), byName(t, api, "db-1"), byName(t, api, "bastion-1")
	app1 := byName(t, api, "app-1")
	ssmT := transport.SSM{API: api}
	web1Key, db1Key, bastionKey := learnKey(t, ssmT, web1), learnKey(t, ssmT, db1), learnKey(t, ssmT, bastion)
	// The bastion logs in with a pushed key, like the product does.
	bsigner := testkeys.Signer(t)
	pushBastion := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := api.SendSSHPublicKey(ctx, bastion.ID, user, string(ssh.MarshalAuthorizedKey(bsigner.PublicKey()))); err != nil {
			t.Fatal(err)
		}
	}
	pushBastion()
	// app-1's agent is offline: its key is learned over EICE.
	app1Key := learnKey(t, transport.EICE{API: api}, app1)
	cases := []transportCase{
		{tr: transport.SSM{API: api}, inst: web1, hostKey: web1Key, bad: app1, badPort: 22, badWant: "TargetNotConnected"},
		{tr: transport.EICE{API: api}, inst: app1, hostKey: app1Key, bad: app1, badPort: 2222, badWant: "22 and 3389"},
		{tr: transport.Direct{}, inst: web1, hostKey: web1Key, bad: db1, badPort: 22, badWant: "no public IP"},
		{tr: transport.Bastion{Via: bastion, Hop: transport.SSM{API: api}, User: user, Signer: bsigner, HostKeys: []ssh.PublicKey{bastionKey}},
			inst: db1, hostKey: db1Key, bad: db1, badPort: 2222, badWant: "could not connect to " + db1.PrivateIP + ":2222"},
	}
	for _, tc := range cases {
		t.Run(tc.tr.Name(), func(t *testing.T) {
			if tc.tr.Name() == transport.NameBastion {
				pushBastion() // EIC keys live 60 s
			}
			conformance(t, api, user, tc)
		})
	}
}
