package eice

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/coder/websocket"
)

// server is a stand-in for the service's websocket side, enough to test
// the client's framing and error handling (the sandbox's real endpoint is
// tested end to end in e2e).
func server(t *testing.T, behave func(t *testing.T, r *http.Request, c *websocket.Conn)) *Dialer {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/openTunnel" || q.Get("X-Amz-Signature") == "" || q.Get("X-Amz-Expires") != "60" ||
			!strings.Contains(q.Get("X-Amz-Credential"), "/us-east-1/ec2-instance-connect/aws4_request") || q.Get("remotePort") == "" {
			t.Errorf("request %s", r.URL)
		}
		switch q.Get("remotePort") {
		case "2222":
			w.Header().Set("x-amzn-requestid", "req-1")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"ErrorCode":"InvalidParameter","Message":"The specified RemotePort is not valid. Specify either 22 or 3389 as the RemotePort and retry your request."}`)
			return
		case "23":
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"ErrorCode":"AccessDeniedException","Message":"User: arn:aws:iam::123456789012:user/alice is not authorized to perform: ec2-instance-connect:OpenTunnel"}`)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		c.SetReadLimit(-1)
		behave(t, r, c)
	}))
	t.Cleanup(srv.Close)
	return &Dialer{
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Region:       "us-east-1",
		BaseEndpoint: srv.URL,
	}
}

var ep = Endpoint{ID: "eice-0a1b2c3d4e5f60001", VpcID: "vpc-1", SubnetID: "subnet-1", State: "create-complete"}

func TestConnEchoFramesAndNormalClose(t *testing.T) {
	var maxFrame int
	d := server(t, func(t *testing.T, _ *http.Request, c *websocket.Conn) {
		ctx := context.Background()
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if typ != websocket.MessageBinary {
				t.Errorf("client sent a %v frame", typ)
			}
			maxFrame = max(maxFrame, len(b))
			if err := c.Write(ctx, websocket.MessageBinary, b); err != nil {
				return
			}
		}
	})
	conn, err := d.Dial(context.Background(), ep, Target{PrivateIP: "10.0.2.15", RemotePort: 22})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 300_000)
	rand.Read(data)
	go func() {
		if _, err := conn.Write(data); err != nil {
			t.Error(err)
		}
	}()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("echoed bytes differ")
	}
	if maxFrame != MaxFrame {
		t.Errorf("largest frame %d bytes, want %d", maxFrame, MaxFrame)
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("Read after close = %v, want EOF", err)
	}
}

func TestConnServerErrors(t *testing.T) {
	cases := map[string]struct {
		behave func(t *testing.T, r *http.Request, c *websocket.Conn)
		want   string
	}{
		"text frame": {func(t *testing.T, _ *http.Request, c *websocket.Conn) {
			c.Write(context.Background(), websocket.MessageText, []byte("hello"))
			c.Read(context.Background())
		}, "invalid data (a text frame)"},
		"abnormal close": {func(t *testing.T, _ *http.Request, c *websocket.Conn) {
			c.Close(websocket.StatusCode(4000), "tunnel duration exceeded")
		}, `code 4000, reason "tunnel duration exceeded"`},
		"normal close": {func(t *testing.T, _ *http.Request, c *websocket.Conn) {
			c.Write(context.Background(), websocket.MessageBinary, []byte("bye"))
			c.Close(websocket.StatusNormalClosure, "")
		}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := server(t, tc.behave)
			conn, err := d.Dial(context.Background(), ep, Target{PrivateIP: "10.0.2.15", RemotePort: 22})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			b, err := io.ReadAll(conn)
			if tc.want == "" {
				if err != nil || string(b) != "bye" {
					t.Fatalf("ReadAll = %q, %v", b, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ep.ID) {
				t.Fatalf("err = %v, want one containing %q and the endpoint id", err, tc.want)
			}
		})
	}
}

func TestDialRefusedExplains(t *testing.T) {
	d := server(t, func(*testing.T, *http.Request, *websocket.Conn) {})
	_, err := d.Dial(context.Background(), ep, Target{PrivateIP: "10.0.2.15", RemotePort: 2222})
	var ue *UpgradeError
	if !errors.As(err, &ue) || ue.Status != 400 || ue.Code != "InvalidParameter" || ue.RequestID != "req-1" ||
		!strings.Contains(ue.Advice, "22 and 3389") || ue.Fix != FixOtherTransport || strings.Contains(err.Error(), "\n") {
		t.Fatalf("bad port: %v", err)
	}
	_, err = d.Dial(context.Background(), ep, Target{PrivateIP: "10.0.2.15", RemotePort: 23})
	if !errors.As(err, &ue) || !strings.Contains(ue.Advice, "ec2-instance-connect:OpenTunnel") || ue.Fix != FixPolicyUser {
		t.Fatalf("access denied: %v", err)
	}
	// No credentials: no request at all.
	d.Credentials = aws.AnonymousCredentials{}
	d.Now = func() time.Time { return time.Now() }
	if _, err := d.Dial(context.Background(), ep, Target{PrivateIP: "10.0.2.15", RemotePort: 22}); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("dial with anonymous credentials: %v", err)
	}
}
