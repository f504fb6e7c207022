package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

const builtinEndpoint = "eice-0a1b2c3d4e5f60001"

// presignTunnel returns the ws:// URL of a tunnel, presigned the way the
// AWS CLI does it (eic-spec.md §3.4) with the SDK's v4 signer.
func presignTunnel(t *testing.T, sb *Sandbox, id world.Identity, params url.Values, expires string, at time.Time) string {
	t.Helper()
	params.Set("X-Amz-Expires", expires)
	u := strings.Replace(sb.URL, "http://", "ws://", 1) + "/openTunnel?" + params.Encode()
	req, err := http.NewRequest(http.MethodGet, strings.Replace(u, "ws://", "http://", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: id.SecretAccessKey},
		req, awsproto.EmptyPayloadHash, "ec2-instance-connect", sb.World.Region, at)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(signed, "http://", "ws://", 1)
}

func tunnelParams(ip, port string) url.Values {
	return url.Values{"instanceConnectEndpointId": {builtinEndpoint}, "remotePort": {port}, "privateIpAddress": {ip}}
}

func identityNamed(t *testing.T, sb *Sandbox, name string) world.Identity {
	t.Helper()
	for _, id := range sb.World.Identities() {
		if id.Name == name {
			return id
		}
	}
	t.Fatalf("no identity %s", name)
	return world.Identity{}
}

// TestEICETunnel opens the endpoint's websocket as the AWS CLI would and
// logs in over SSH through it to app-1, whose SSM agent is offline; then
// checks every refusal, the duration limit, the connection limit and the
// CloudTrail records.
func TestEICETunnel(t *testing.T) {
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var app InstanceInfo
	for _, in := range sb.Instances {
		if in.Name == "app-1" {
			app = in
		}
	}
	def := sb.Identity

	// An SSH session through the tunnel, with a key pushed as EIC would.
	user := LocalUser()
	if os.Geteuid() == 0 {
		user = "root"
	}
	key := testkeys.New(t)
	sshPub, signer := key.Public, key.Signer
	sb.World.PushKey(world.PushedKey{InstanceID: app.ID, OSUser: user, PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))), Caller: def.ARN, RequestID: "test"})
	ws, _, err := websocket.Dial(ctx, presignTunnel(t, sb, def, tunnelParams(app.PrivateIP, "22"), "60", time.Now()), nil)
	if err != nil {
		t.Fatalf("open tunnel to app-1: %v", err)
	}
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	wantKey := sb.hosts[app.ID].HostKey().Marshal()
	cc, chans, reqs, err := ssh.NewClientConn(nc, app.PrivateIP+":22", &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			if string(k.Marshal()) != string(wantKey) {
				return errors.New("not app-1's host key")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatalf("SSH through the tunnel: %v", err)
	}
	client := ssh.NewClient(cc, chans, reqs)
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("echo through-eice")
	if err != nil || strings.TrimSpace(string(out)) != "through-eice" {
		t.Errorf("command over the tunnel: %q %v", out, err)
	}
	client.Close()

	// Refusals before the upgrade: status, AWS's JSON body, request id.
	nopolicy := identityNamed(t, sb, "nopolicy")
	forged := presignTunnel(t, sb, def, tunnelParams(app.PrivateIP, "22"), "60", time.Now())
	forged = forged[:len(forged)-1] + map[bool]string{true: "0", false: "1"}[strings.HasSuffix(forged, "1")]
	endpointARN := "arn:aws:ec2:us-east-1:123456789012:instance-connect-endpoint/" + builtinEndpoint
	unknown := tunnelParams(app.PrivateIP, "22")
	unknown.Set("instanceConnectEndpointId", "eice-0ffffffffffffffff")
	long := tunnelParams(app.PrivateIP, "22")
	long.Set("maxTunnelDuration", "3601")
	for _, tc := range []struct {
		name      string
		url       string
		status    int
		code, msg string
	}{
		{"bad signature", forged, 403, "InvalidSignatureException", "does not match"},
		{"expired", presignTunnel(t, sb, def, tunnelParams(app.PrivateIP, "22"), "60", time.Now().Add(-2*time.Minute)), 403, "InvalidSignatureException", "expired"},
		{"expires too late", presignTunnel(t, sb, def, tunnelParams(app.PrivateIP, "22"), "300", time.Now()), 403, "IncompleteSignatureException", "at most 60"},
		{"wrong port", presignTunnel(t, sb, def, tunnelParams(app.PrivateIP, "2222"), "60", time.Now()), 400, "InvalidParameter",
			"The specified RemotePort is not valid. Specify either 22 or 3389 as the RemotePort and retry your request."},
		{"no policy", presignTunnel(t, sb, nopolicy, tunnelParams(app.PrivateIP, "22"), "60", time.Now()), 403, "AccessDeniedException",
			"User: arn:aws:iam::123456789012:user/nopolicy is not authorized to perform: ec2-instance-connect:OpenTunnel on resource: " + endpointARN + " because no identity-based policy allows"},
		{"policy allows port 22 only", presignTunnel(t, sb, def, tunnelParams(app.PrivateIP, "3389"), "60", time.Now()), 403, "AccessDeniedException",
			"ec2-instance-connect:OpenTunnel on resource: " + endpointARN},
		{"unknown endpoint", presignTunnel(t, sb, def, unknown, "60", time.Now()), 404, "ResourceNotFound", "eice-0ffffffffffffffff"},
		{"outside the VPC", presignTunnel(t, sb, def, tunnelParams("192.168.7.7", "22"), "60", time.Now()), 400, "InvalidParameter", "not in the VPC"},
		{"not an IP", presignTunnel(t, sb, def, tunnelParams("app-1", "22"), "60", time.Now()), 400, "InvalidParameter", "PrivateIpAddress is not valid"},
		{"duration too long", presignTunnel(t, sb, def, long, "60", time.Now()), 400, "InvalidParameter", "MaxTunnelDuration"},
	} {
		_, resp, err := websocket.Dial(ctx, tc.url, nil)
		if err == nil || resp == nil {
			t.Errorf("%s: upgraded (err %v)", tc.name, err)
			continue
		}
		var body struct{ ErrorCode, Message string }
		b, _ := io.ReadAll(resp.Body)
		if json.Unmarshal(b, &body); resp.StatusCode != tc.status || body.ErrorCode != tc.code || !strings.Contains(body.Message, tc.msg) || resp.Header.Get("x-amzn-requestid") == "" {
			t.Errorf("%s: %d %s (request id %q), want %d %s containing %q", tc.name, resp.StatusCode, b, resp.Header.Get("x-amzn-requestid"), tc.status, tc.code, tc.msg)
		}
	}

	// Upgraded, then closed: nothing at that address, a stopped instance.
	for name, ip := range map[string]string{"no such host": "10.0.2.99", "stopped old-1": "10.0.2.41"} {
		ws, _, err := websocket.Dial(ctx, presignTunnel(t, sb, def, tunnelParams(ip, "22"), "60", time.Now()), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, _, err = ws.Read(ctx)
		if st := websocket.CloseStatus(err); st != websocket.StatusInternalError || !strings.Contains(err.Error(), "Unable to connect to "+ip) {
			t.Errorf("%s: closed with %v (%d), want 1011 Unable to connect", name, err, st)
		}
	}

	// maxTunnelDuration=1 closes the tunnel after a second.
	short := tunnelParams(app.PrivateIP, "22")
	short.Set("maxTunnelDuration", "1")
	ws, _, err = websocket.Dial(ctx, presignTunnel(t, sb, def, short, "60", time.Now()), nil)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	r := bufio.NewReader(websocket.NetConn(ctx, ws, websocket.MessageBinary))
	if banner, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(banner, "SSH-2.0-") {
		t.Errorf("banner %q %v", banner, err)
	}
	_, err = io.Copy(io.Discard, r)
	if d := time.Since(began); d < 900*time.Millisecond || d > 10*time.Second {
		t.Errorf("tunnel with maxTunnelDuration=1 lasted %s (%v)", d, err)
	}

	// 20 concurrent tunnels per endpoint; the 21st is refused until one closes.
	var open []*websocket.Conn
	for i := range 21 {
		ws, resp, err := websocket.Dial(ctx, presignTunnel(t, sb, def, tunnelParams(app.PrivateIP, "22"), "60", time.Now()), nil)
		if i < 20 {
			if err != nil {
				t.Fatalf("tunnel %d: %v", i+1, err)
			}
			open = append(open, ws)
			continue
		}
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("tunnel 21: %v, want 429", err)
		}
	}
	open[0].Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		ws, _, err := websocket.Dial(ctx, presignTunnel(t, sb, def, tunnelParams(app.PrivateIP, "22"), "60", time.Now()), nil)
		if err == nil {
			open[0] = ws
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no tunnel after closing one: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, ws := range open {
		ws.Close(websocket.StatusNormalClosure, "")
	}

	// CloudTrail: one OpenTunnel record per request, denials with the code.
	b, err := os.ReadFile(sb.CloudTrail)
	if err != nil {
		t.Fatal(err)
	}
	var allowed, denied int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev struct {
			EventSource, EventName, ErrorCode string
			RequestParameters                 map[string]any
			UserIdentity                      struct{ ARN string }
		}
		json.Unmarshal([]byte(line), &ev)
		if ev.EventName != "OpenTunnel" || ev.EventSource != "ec2-instance-connect.amazonaws.com" {
			continue
		}
		switch ev.ErrorCode {
		case "":
			allowed++
		case "AccessDeniedException":
			denied++
		}
	}
	if allowed < 24 || denied != 2 {
		t.Errorf("CloudTrail: %d allowed and %d denied OpenTunnel records, want at least 24 and 2", allowed, denied)
	}
}
