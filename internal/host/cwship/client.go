// Package cwship ships the instance's audit events from the spool (package
// spool) to CloudWatch Logs: batches within PutLogEvents' limits, retries
// with backoff while CloudWatch Logs throttles, fails or cannot be
// reached, the cursor committed only after CloudWatch accepted a batch
// (at-least-once; events carry ids for deduplication), credentials of the
// instance's role from IMDS. It runs inside the userdb service (`jitssh-host
// userdb`); docs/instance.md, "Shipping events to CloudWatch Logs".
//
// Like internal/imds it speaks HTTP/1.1 itself (over crypto/tls) and signs
// with SigV4 itself: jitssh-host links neither net/http nor the AWS SDK
// (internal/archtest), as its AuthorizedKeysCommand path must start fast.
package cwship

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/imds"
)

// Credentials are AWS credentials (temporary ones with a session token).
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// CredentialSource returns current credentials; refresh asks for new ones
// (the last were refused).
type CredentialSource interface {
	Credentials(ctx context.Context, refresh bool) (Credentials, error)
}

// APIError is CloudWatch Logs' answer to a failed call.
type APIError struct {
	Op      string
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("CloudWatch Logs %s: %s (HTTP %d): %s", e.Op, e.Code, e.Status, oneLine(e.Message))
}

// Retryable reports whether the call may succeed later as it is: throttling
// and the service's faults.
func (e *APIError) Retryable() bool {
	switch e.Code {
	case "ThrottlingException", "ServiceUnavailableException", "RequestLimitExceeded", "Throttling", "LimitExceededException":
		return true
	}
	return e.Status >= 500
}

// CredentialsRefused reports whether new credentials may help.
func (e *APIError) CredentialsRefused() bool {
	switch e.Code {
	case "ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature":
		return true
	}
	return false
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Client calls CloudWatch Logs (AWS JSON 1.1) over one kept-alive
// connection at a time. It is safe for concurrent use (calls are
// serialised).
type Client struct {
	endpoint *url.URL
	region   string
	creds    CredentialSource
	tls      *tls.Config
	timeout  time.Duration
	now      func() time.Time

	mu sync.Mutex
	nc net.Conn
	br *bufio.Reader
}

// ClientOptions configure NewClient.
type ClientOptions struct {
	// Endpoint is the service URL; "" means https://logs.<Region>.amazonaws.com.
	Endpoint string
	Region   string
	// Roots are the CAs trusted for an https endpoint; nil means the
	// system's.
	Roots       *x509.CertPool
	Credentials CredentialSource
	// Timeout bounds one call, from dial to the last byte; 0 means 20 s.
	Timeout time.Duration
}

// NewClient returns a client for o.
func NewClient(o ClientOptions) (*Client, error) {
	if o.Region == "" {
		return nil, errors.New("cwship: no region")
	}
	ep := o.Endpoint
	if ep == "" {
		ep = "https://logs." + o.Region + ".amazonaws.com"
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("cwship: endpoint %q is not an http(s) URL", ep)
	}
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	c := &Client{endpoint: u, region: o.Region, creds: o.Credentials, timeout: o.Timeout, now: time.Now}
	if u.Scheme == "https" {
		c.tls = &tls.Config{ServerName: u.Hostname(), RootCAs: o.Roots, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	return c, nil
}

// Close closes the kept-alive connection.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop()
}

func (c *Client) drop() {
	if c.nc != nil {
		c.nc.Close()
		c.nc, c.br = nil, nil
	}
}

// maxResponse bounds a response body.
const maxResponse = 1 << 20

// Call sends op with in as its JSON body and decodes the answer into out
// (nil: ignored). A refusal is an *APIError; anything else (no answer, a
// broken connection) is a transport error worth retrying.
func (c *Client) Call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("cwship: encode %s: %w", op, err)
	}
	cr, err := c.creds.Credentials(ctx, false)
	if err != nil {
		return fmt.Errorf("cwship: credentials: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	status, resp, err := c.roundTrip(ctx, op, body, cr)
	if err != nil {
		c.drop()
		return fmt.Errorf("cwship: %s: %w", op, err)
	}
	if status != 200 {
		ae := &APIError{Op: op, Status: status}
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
			Msg     string `json:"Message"`
		}
		_ = json.Unmarshal(resp, &e)
		ae.Code = e.Type[strings.LastIndex(e.Type, "#")+1:]
		ae.Message = e.Message + e.Msg
		if ae.Code == "" {
			ae.Code = "HTTP" + strconv.Itoa(status)
		}
		if ae.CredentialsRefused() {
			_, _ = c.creds.Credentials(ctx, true)
		}
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			return fmt.Errorf("cwship: decode %s answer: %w", op, err)
		}
	}
	return nil
}

// roundTrip writes one signed request and reads its response (c.mu held).
func (c *Client) roundTrip(ctx context.Context, op string, body []byte, cr Credentials) (int, []byte, error) {
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if c.nc == nil {
		if err := c.dial(ctx, deadline); err != nil {
			return 0, nil, err
		}
	}
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c.nc.SetDeadline(deadline)
	req := c.request(op, body, cr)
	if _, err := c.nc.Write(req); err != nil {
		return 0, nil, err
	}
	status, resp, keep, err := imds.ReadResponse(c.br, maxResponse)
	if err != nil {
		return 0, nil, err
	}
	if !keep {
		c.drop()
	}
	return status, resp, nil
}

func (c *Client) dial(ctx context.Context, deadline time.Time) error {
	host := c.endpoint.Host
	if c.endpoint.Port() == "" {
		if c.tls != nil {
			host = net.JoinHostPort(c.endpoint.Hostname(), "443")
		} else {
			host = net.JoinHostPort(c.endpoint.Hostname(), "80")
		}
	}
	d := net.Dialer{Deadline: deadline}
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	if c.tls != nil {
		tc := tls.Client(nc, c.tls)
		tc.SetDeadline(deadline)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return err
		}
		nc = tc
	}
	c.nc, c.br = nc, bufio.NewReaderSize(nc, 16<<10)
	return nil
}

// request returns the HTTP/1.1 request bytes of op, signed with SigV4.
func (c *Client) request(op string, body []byte, cr Credentials) []byte {
	now := c.now().UTC()
	amzDate := now.Format("20060102T150405Z")
	date := amzDate[:8]
	host := c.endpoint.Host
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	hdrs := [][2]string{
		{"content-type", "application/x-amz-json-1.1"},
		{"host", host},
		{"x-amz-content-sha256", payloadHash},
		{"x-amz-date", amzDate},
	}
	if cr.SessionToken != "" {
		hdrs = append(hdrs, [2]string{"x-amz-security-token", cr.SessionToken})
	}
	hdrs = append(hdrs, [2]string{"x-amz-target", "Logs_20140328." + op})
	var canonHdrs, signed strings.Builder
	for i, h := range hdrs {
		canonHdrs.WriteString(h[0] + ":" + h[1] + "\n")
		if i > 0 {
			signed.WriteByte(';')
		}
		signed.WriteString(h[0])
	}
	canonical := "POST\n/\n\n" + canonHdrs.String() + "\n" + signed.String() + "\n" + payloadHash
	scope := date + "/" + c.region + "/logs/aws4_request"
	csum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(csum[:])
	k := hmacSHA256([]byte("AWS4"+cr.SecretAccessKey), date)
	k = hmacSHA256(k, c.region)
	k = hmacSHA256(k, "logs")
	k = hmacSHA256(k, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(k, toSign))
	var b bytes.Buffer
	b.WriteString("POST / HTTP/1.1\r\n")
	for _, h := range hdrs {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	fmt.Fprintf(&b, "authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s\r\n", cr.AccessKeyID, scope, signed.String(), sig)
	fmt.Fprintf(&b, "content-length: %d\r\nuser-agent: jitssh-host\r\naccept-encoding: identity\r\n\r\n", len(body))
	b.Write(body)
	return b.Bytes()
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

var roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// RoleCredentials are the instance role's credentials from IMDS
// (iam/security-credentials/ROLE), cached until five minutes before they
// expire.
type RoleCredentials struct {
	IMDS *imds.Client

	mu  sync.Mutex
	cur Credentials
}

// Credentials returns the role's credentials.
func (r *RoleCredentials) Credentials(ctx context.Context, refresh bool) (Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !refresh && r.cur.AccessKeyID != "" && time.Until(r.cur.Expiration) > 5*time.Minute {
		return r.cur, nil
	}
	s, err := r.IMDS.Session(ctx)
	if err != nil {
		return Credentials{}, fmt.Errorf("IMDS: %w", err)
	}
	role, err := s.GetString(ctx, "iam/security-credentials/")
	if err != nil {
		if errors.Is(err, imds.ErrNotFound) {
			return Credentials{}, errors.New("the instance has no IAM role (instance profile): attach one granting logs:CreateLogStream and logs:PutLogEvents on the log group")
		}
		return Credentials{}, fmt.Errorf("IMDS role: %w", err)
	}
	role, _, _ = strings.Cut(role, "\n")
	if !roleNameRE.MatchString(role) {
		return Credentials{}, fmt.Errorf("IMDS names the role %q, which is not a role name", role)
	}
	raw, err := s.Get(ctx, "iam/security-credentials/"+role)
	if err != nil {
		return Credentials{}, fmt.Errorf("IMDS credentials of role %s: %w", role, err)
	}
	var doc struct {
		Code            string
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		Token           string
		Expiration      time.Time
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Code != "Success" || doc.AccessKeyID == "" {
		return Credentials{}, fmt.Errorf("IMDS credentials of role %s: not usable (code %q)", role, doc.Code)
	}
	r.cur = Credentials{AccessKeyID: doc.AccessKeyID, SecretAccessKey: doc.SecretAccessKey, SessionToken: doc.Token, Expiration: doc.Expiration}
	return r.cur, nil
}
