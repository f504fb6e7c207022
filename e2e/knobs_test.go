package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/transport"
)

// TestAPIKnobsThroughTheClient drives jitssh's SDK client (internal/awsapi)
// against the sandbox's run-time knobs: throttled calls are retried by the
// SDK and succeed; persistent throttling, an offline agent and a stopped
// instance end in jitssh's advice; the managed (mi-) instance is SSM's and
// not EC2's.
func TestAPIKnobsThroughTheClient(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	api := apiClient(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	web1 := e.sb.Instances[0]

	t.Run("throttled twice, then served", func(t *testing.T) {
		if err := e.sb.SetThrottle(map[string]string{"ec2:DescribeInstances": "next:2"}); err != nil {
			t.Fatal(err)
		}
		got, err := api.DescribeInstances(ctx, []string{web1.ID}, nil)
		if err != nil || len(got) != 1 || got[0].ID != web1.ID {
			t.Fatalf("DescribeInstances after two throttled attempts: %v %v", got, err)
		}
		trail, err := os.ReadFile(e.sb.CloudTrail)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(trail), `"errorCode":"RequestLimitExceeded"`); n != 2 {
			t.Errorf("CloudTrail has %d throttled DescribeInstances, want the 2 the SDK retried", n)
		}
	})

	t.Run("always throttled", func(t *testing.T) {
		if err := e.sb.SetThrottle(map[string]string{"ssm:*": "100%"}); err != nil {
			t.Fatal(err)
		}
		defer e.sb.SetThrottle(nil)
		few, err := awsapi.New(ctx, awsapi.Options{MaxAttempts: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, err = few.StartSession(ctx, web1.ID, transport.SSHDocument, nil, "")
		var ae *awsapi.APIError
		if !errors.As(err, &ae) || ae.Code != "ThrottlingException" || !strings.Contains(ae.Advice, "kept throttling this call after retries") {
			t.Fatalf("StartSession under 100%% throttling: %v", err)
		}
	})

	t.Run("agent offline", func(t *testing.T) {
		if _, err := e.sb.SetAgentOnline(web1.ID, false); err != nil {
			t.Fatal(err)
		}
		info, err := api.InstanceInformation(ctx, map[string][]string{"InstanceIds": {web1.ID}})
		if err != nil || len(info) != 1 || info[0].PingStatus != "ConnectionLost" {
			t.Fatalf("DescribeInstanceInformation with the agent offline: %+v %v", info, err)
		}
		_, err = api.StartSession(ctx, web1.ID, transport.SSHDocument, nil, "")
		var ae *awsapi.APIError
		if !errors.As(err, &ae) || ae.Code != "TargetNotConnected" || ae.Message != web1.ID+" is not connected." ||
			!strings.Contains(ae.Advice, "the instance is not connected to SSM") {
			t.Fatalf("StartSession with the agent offline: %v", err)
		}
		if _, err := e.sb.SetAgentOnline(web1.ID, true); err != nil {
			t.Fatal(err)
		}
		sess, err := api.StartSession(ctx, web1.ID, transport.SSHDocument, nil, "")
		if err != nil {
			t.Fatalf("StartSession with the agent back: %v", err)
		}
		api.TerminateSession(ctx, sess.ID)
	})

	t.Run("instance stopped", func(t *testing.T) {
		tun, err := transport.OpenTunnel(ctx, api, web1.ID, 22, "before the stop")
		if err != nil {
			t.Fatal(err)
		}
		defer tun.Close()
		if _, err := e.sb.SetInstanceState(web1.ID, "stopped"); err != nil {
			t.Fatal(err)
		}
		// The live tunnel ends: its SSH server is gone.
		done := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, tun); done <- err }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a tunnel to the instance survived its stop")
		}
		got, err := api.DescribeInstances(ctx, []string{web1.ID}, nil)
		if err != nil || len(got) != 1 || got[0].State != "stopped" {
			t.Fatalf("DescribeInstances of the stopped instance: %+v %v", got, err)
		}
		_, err = api.SendSSHPublicKey(ctx, web1.ID, currentUser(t), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@e2e")
		var ae *awsapi.APIError
		if !errors.As(err, &ae) || ae.Code != "EC2InstanceStateInvalidException" || !strings.Contains(ae.Advice, "the instance is not running") {
			t.Fatalf("SendSSHPublicKey to a stopped instance: %v", err)
		}
		if _, err = api.StartSession(ctx, web1.ID, transport.SSHDocument, nil, ""); !errors.As(err, &ae) || ae.Code != "TargetNotConnected" {
			t.Fatalf("StartSession to a stopped instance: %v", err)
		}
		// Its address answers no SSH.
		c, err := net.DialTimeout("tcp", web1.SSHAddr, 5*time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, rerr := c.Read(make([]byte, 64))
			c.Close()
			if n > 0 || rerr == nil {
				t.Fatalf("the stopped instance's SSH address sent %d bytes", n)
			}
		}
		if _, err := e.sb.SetInstanceState(web1.ID, "running"); err != nil {
			t.Fatal(err)
		}
		out, err := e.run("jitssh", "ssh", web1.ID, "--", "echo", "back")
		if err != nil || strings.TrimSpace(string(out)) != "back" {
			t.Fatalf("ssh after the restart: %q %v", out, err)
		}
	})

	t.Run("managed instance", func(t *testing.T) {
		const mi = "mi-0a1b2c3d4e5f00001"
		info, err := api.InstanceInformation(ctx, map[string][]string{"ResourceType": {"ManagedInstance"}})
		if err != nil || len(info) != 1 || info[0].ID != mi || info[0].Name != "onprem-1" || info[0].PingStatus != "Online" || info[0].ComputerName != "onprem-1" {
			t.Fatalf("managed instances: %+v %v", info, err)
		}
		all, err := api.DescribeInstances(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range all {
			if strings.HasPrefix(in.ID, "mi-") {
				t.Errorf("EC2 lists the managed instance %s", in.ID)
			}
		}
		// A session reaches its SSH server.
		tun, err := transport.OpenTunnel(ctx, api, mi, 22, "managed")
		if err != nil {
			t.Fatal(err)
		}
		defer tun.Close()
		banner := make([]byte, 8)
		if _, err := io.ReadFull(tun, banner); err != nil || string(banner) != "SSH-2.0-" {
			t.Fatalf("managed instance over SSM: %q %v", banner, err)
		}
		_, err = api.SendSSHPublicKey(ctx, mi, currentUser(t), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@e2e")
		var ae *awsapi.APIError
		if !errors.As(err, &ae) || ae.Code != "InvalidArgsException" || !strings.Contains(ae.Message, "failed to satisfy constraint: Member must satisfy regular expression pattern: ^i-[a-f0-9]+$") {
			t.Fatalf("SendSSHPublicKey to a managed instance: %v", err)
		}
	})
}
