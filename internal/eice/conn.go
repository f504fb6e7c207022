package eice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/coder/websocket"
)

// Dialer opens tunnels. Every Dial presigns a fresh URL.
type Dialer struct {
	Credentials aws.CredentialsProvider
	Region      string
	// BaseEndpoint is the SDK's custom endpoint for ec2-instance-connect,
	// "" for AWS's (see URL).
	BaseEndpoint string
	// HTTPClient, if set, makes the websocket upgrade request.
	HTTPClient *http.Client
	// Now, if set, replaces time.Now for signing (tests).
	Now func() time.Time
}

// Dial opens a tunnel through ep to t and returns it as a byte stream.
func (d *Dialer) Dial(ctx context.Context, ep Endpoint, t Target) (*Conn, error) {
	u, err := URL(d.BaseEndpoint, ep, t)
	if err != nil {
		return nil, err
	}
	if d.Credentials == nil {
		return nil, errors.New("open EICE tunnel: no AWS credentials")
	}
	creds, err := d.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("open EICE tunnel: get AWS credentials: %w", err)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	signed, err := Presign(ctx, creds, d.Region, u, now())
	if err != nil {
		return nil, err
	}
	c, resp, err := websocket.Dial(ctx, signed, &websocket.DialOptions{HTTPClient: d.HTTPClient})
	if err != nil {
		return nil, upgradeError(ep.ID, t, resp, err)
	}
	c.SetReadLimit(-1) // the service's frames are not ours to bound
	cctx, cancel := context.WithCancel(context.Background())
	return &Conn{ws: c, ctx: cctx, cancel: cancel, endpoint: ep.ID, remote: net.JoinHostPort(t.PrivateIP, fmt.Sprint(t.RemotePort))}, nil
}

// UpgradeError is a refused OpenTunnel: the service's HTTP status and its
// JSON error ({"ErrorCode":…,"Message":…}), with advice apart from its
// one-line Error.
type UpgradeError struct {
	Endpoint  string
	Status    int
	Code      string
	Message   string
	RequestID string
	// Advice is what the user can do, in AWS's terms (names no command or
	// flag of jitssh's); "" for nothing to say.
	Advice string
	// Fix is what jitssh offers besides, for the command line to word.
	Fix        Fix
	underlying error
}

// Fix names what jitssh offers for an UpgradeError beyond its Advice.
type Fix int

const (
	FixNone Fix = iota
	// FixPolicyUser: the IAM policy jitssh prints for its users.
	FixPolicyUser
	// FixOtherTransport: another transport, for a port EICE does not
	// tunnel to.
	FixOtherTransport
)

func (e *UpgradeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "EC2 Instance Connect Endpoint %s refused the tunnel (HTTP %d", e.Endpoint, e.Status)
	if e.RequestID != "" {
		fmt.Fprintf(&b, ", request %s", e.RequestID)
	}
	b.WriteString(")")
	if e.Code != "" || e.Message != "" {
		fmt.Fprintf(&b, ": %s: %s", e.Code, e.Message)
	} else if e.underlying != nil {
		fmt.Fprintf(&b, ": %v", e.underlying)
	}
	return b.String()
}

func (e *UpgradeError) Unwrap() error { return e.underlying }

// upgradeError explains a failed websocket upgrade, from the JSON body AWS
// sends with it when there is one.
func upgradeError(endpoint string, t Target, resp *http.Response, err error) error {
	if resp == nil {
		return fmt.Errorf("open EICE tunnel through %s: %w", endpoint, err)
	}
	e := &UpgradeError{Endpoint: endpoint, Status: resp.StatusCode, RequestID: resp.Header.Get("x-amzn-requestid"), underlying: err}
	if resp.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		var j struct {
			ErrorCode string
			Message   string
		}
		if json.Unmarshal(body, &j) == nil {
			e.Code, e.Message = j.ErrorCode, j.Message
		} else if s := strings.TrimSpace(string(body)); s != "" {
			e.Message = s
		}
	}
	switch {
	case strings.Contains(e.Code, "AccessDenied") || resp.StatusCode == http.StatusForbidden:
		e.Advice, e.Fix = fmt.Sprintf("your IAM identity is not allowed ec2-instance-connect:OpenTunnel on %s to port %d of %s", endpoint, t.RemotePort, t.PrivateIP), FixPolicyUser
	case e.Code == "InvalidParameter" && strings.Contains(strings.ToLower(e.Message), "port"):
		e.Advice, e.Fix = "EC2 Instance Connect Endpoints only tunnel to ports 22 and 3389", FixOtherTransport
	case strings.Contains(e.Code, "Signature") || strings.Contains(e.Code, "Expired") || resp.StatusCode == http.StatusUnauthorized:
		e.Advice = "the presigned URL was refused: check your credentials are valid and this machine's clock is correct"
	case strings.Contains(e.Code, "Throttl") || resp.StatusCode == http.StatusTooManyRequests:
		e.Advice = "the endpoint is throttling or at its limit of 20 concurrent connections: wait and retry"
	}
	return e
}

// Conn is an open tunnel: a byte stream over binary websocket frames, as
// a net.Conn. Reads and writes may run concurrently with each other; one
// Write at a time. It has no deadlines (Set*Deadline accept and ignore
// them): bound the wait with the context instead.
type Conn struct {
	ws       *websocket.Conn
	ctx      context.Context
	cancel   context.CancelFunc
	endpoint string
	remote   string // the instance's address and port

	rmu sync.Mutex
	cur io.Reader // the message being read

	wmu       sync.Mutex
	closeOnce sync.Once
}

// Read returns bytes from the instance. The service's normal closure is
// io.EOF; a text frame or another close code is an error.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.cur != nil {
			n, err := c.cur.Read(p)
			if err == io.EOF {
				c.cur = nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			if err != nil {
				return n, c.readErr(err)
			}
			return n, nil
		}
		typ, r, err := c.ws.Reader(c.ctx)
		if err != nil {
			return 0, c.readErr(err)
		}
		if typ != websocket.MessageBinary {
			_ = c.ws.Close(websocket.StatusUnsupportedData, "binary frames only")
			return 0, fmt.Errorf("EC2 Instance Connect Endpoint %s sent invalid data (a text frame) and the tunnel was closed", c.endpoint)
		}
		c.cur = r
	}
}

func (c *Conn) readErr(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Code == websocket.StatusNormalClosure {
			return io.EOF
		}
		return fmt.Errorf("EC2 Instance Connect Endpoint %s closed the tunnel: code %d, reason %q", c.endpoint, int(ce.Code), ce.Reason)
	}
	if c.ctx.Err() != nil {
		return io.EOF // we closed it
	}
	return fmt.Errorf("EICE tunnel through %s: %w", c.endpoint, err)
}

// Write sends p in binary frames of at most MaxFrame bytes, one at a time.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), MaxFrame)]
		if err := c.ws.Write(c.ctx, websocket.MessageBinary, chunk); err != nil {
			return n, fmt.Errorf("EICE tunnel through %s: %w", c.endpoint, err)
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// Addr is an address of one end of a tunnel.
type Addr string

func (a Addr) Network() string { return "eice" }
func (a Addr) String() string  { return string(a) }

// LocalAddr implements net.Conn: the tunnel's endpoint.
func (c *Conn) LocalAddr() net.Addr { return Addr(c.endpoint) }

// RemoteAddr implements net.Conn: the instance's private address and port.
func (c *Conn) RemoteAddr() net.Addr { return Addr(c.remote) }

// SetDeadline implements net.Conn; the tunnel has no deadlines.
func (c *Conn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline implements net.Conn; the tunnel has no deadlines.
func (c *Conn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline implements net.Conn; the tunnel has no deadlines.
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }

// CloseWrite ends the tunnel: the EICE protocol has no half-close (the AWS
// CLI, too, closes the websocket when its input ends), so this is Close.
func (c *Conn) CloseWrite() error { return c.Close() }

// Close ends the tunnel with a normal closure.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			_ = c.ws.Close(websocket.StatusNormalClosure, "")
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = c.ws.CloseNow()
		}
		c.cancel()
	})
	return nil
}
