// Package eice is the sandbox's EC2 Instance Connect Endpoint: the
// /openTunnel websocket (eic-spec.md §3.3–3.4) that AWS's CLI
// (`aws ec2-instance-connect open-tunnel`) and jitssh's eice transport
// open. A request is a GET with SigV4 query authentication (service
// ec2-instance-connect, payload hash of the empty string, X-Amz-Expires at
// most 60 s); it is authorised as ec2-instance-connect:OpenTunnel on the
// endpoint with the condition keys remotePort, privateIpAddress and
// maxTunnelDuration, and then upgraded to a websocket that is a raw byte
// pipe (binary frames) to privateIpAddress:remotePort inside the
// endpoint's VPC, routed by the sandbox. Refusals before the upgrade are
// HTTP 4xx with AWS's JSON body {"ErrorCode":…,"Message":…} and an
// x-amzn-requestid header; every request leaves one CloudTrail record.
package eice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/iam"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Service limits (eic-spec.md §3.6).
const (
	// MaxURLLifetime is the longest X-Amz-Expires accepted (the CLI
	// presigns for 60 s).
	MaxURLLifetime = 60 * time.Second
	// MaxTunnelDuration is the longest (and the default) tunnel.
	MaxTunnelDuration = 3600 * time.Second
	// DefaultMaxConnections is the concurrent connections per endpoint.
	DefaultMaxConnections = 20
	// maxFrame bounds a websocket message (the CLI sends at most 65,000
	// bytes per frame).
	maxFrame = 1 << 17
)

// Service is the signing name and CloudTrail source.
const Service = "ec2-instance-connect"

// Conn is a connection to the tunnel's destination.
type Conn interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// Handler serves /openTunnel.
type Handler struct {
	World *world.World
	// Dial connects to host:port in a VPC through the sandbox's routing.
	Dial func(ctx context.Context, vpcID, host string, port int) (Conn, error)
	// Trail receives one record per request; nil discards.
	Trail *trail.Log
	// Logger; nil discards.
	Logger *slog.Logger
	// MaxConnections per endpoint; 0 means DefaultMaxConnections.
	MaxConnections int

	mu     sync.Mutex
	active map[string]int // open tunnels by endpoint id
}

// apiError is a refusal before the upgrade.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func invalid(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameter", fmt.Sprintf(format, args...)}
}

// request is one /openTunnel request being served.
type request struct {
	id       world.Identity
	akid     string
	endpoint string
	port     int
	ip       string
	duration time.Duration
	durGiven bool
	authz    []authzRecord
}

type authzRecord struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Decision string `json:"decision"`
	Sid      string `json:"statementId,omitempty"`
}

// ServeHTTP checks, authorises and upgrades one tunnel request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := uuid.NewString()
	w.Header().Set("x-amzn-requestid", reqID)
	var rq request
	ep, err := h.check(r, &rq)
	if err == nil {
		err = h.acquire(ep.ID)
	}
	h.record(r, reqID, start, &rq, err)
	log := h.logger().With("request_id", reqID, "endpoint", rq.endpoint, "caller", rq.id.ARN,
		"private_ip", rq.ip, "remote_port", rq.port)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{http.StatusInternalServerError, "InternalServerException", "The request processing has failed because of an unknown error."}
			log.Error("open tunnel", "err", err)
		}
		log.Info("open tunnel refused", "error_code", ae.code, "error", ae.message)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ae.status)
		json.NewEncoder(w).Encode(struct {
			ErrorCode string `json:"ErrorCode"`
			Message   string `json:"Message"`
		}{ae.code, ae.message})
		return
	}
	defer h.release(ep.ID)
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		log.Info("websocket upgrade failed", "err", err)
		return
	}
	ws.SetReadLimit(maxFrame)
	log.Info("tunnel open", "max_duration", rq.duration)
	h.pipe(ws, ep, &rq, log)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// check validates, authenticates and authorises r, returning the endpoint.
func (h *Handler) check(r *http.Request, rq *request) (world.Endpoint, error) {
	if r.Method != http.MethodGet {
		return world.Endpoint{}, &apiError{http.StatusMethodNotAllowed, "InvalidRequest", "openTunnel is a websocket upgrade: use GET."}
	}
	if err := h.authenticate(r, rq); err != nil {
		return world.Endpoint{}, err
	}
	ip, err := parseParams(r.URL.Query(), rq)
	if err != nil {
		return world.Endpoint{}, err
	}
	// Authorise before revealing whether the endpoint exists.
	ep, found := h.World.Endpoint(rq.endpoint)
	if err := h.authorize(rq, ep); err != nil {
		return world.Endpoint{}, err
	}
	if !found {
		return world.Endpoint{}, &apiError{http.StatusNotFound, "ResourceNotFound",
			fmt.Sprintf("The instance connect endpoint %s does not exist.", rq.endpoint)}
	}
	switch ep.State {
	case "create-complete", "update-in-progress", "update-complete", "update-failed":
	default:
		return world.Endpoint{}, &apiError{http.StatusBadRequest, "InvalidInstanceConnectEndpointState",
			fmt.Sprintf("The instance connect endpoint %s is in state %s and cannot open tunnels.", rq.endpoint, ep.State)}
	}
	if vpc, ok := h.World.VPC(ep.VpcID); ok {
		if p, err := netip.ParsePrefix(vpc.CIDR); err == nil && !p.Contains(ip) {
			return world.Endpoint{}, invalid("The specified PrivateIpAddress %s is not in the VPC %s (%s) of the instance connect endpoint %s.", rq.ip, vpc.ID, vpc.CIDR, rq.endpoint)
		}
	}
	return ep, nil
}

// authenticate checks r's presigned SigV4 (scoped to the service) and
// sets rq's access key and identity.
func (h *Handler) authenticate(r *http.Request, rq *request) error {
	v := &awsproto.Verifier{
		Lookup: h.World.Credential,
		Now:    h.World.Now,
		Region: h.World.Region,
	}
	auth, err := v.VerifyPresigned(r, awsproto.EmptyPayloadHash, MaxURLLifetime)
	rq.akid = auth.AccessKeyID
	if err != nil {
		var ae *awsproto.AuthError
		if !errors.As(err, &ae) {
			return err
		}
		e := awsproto.JSON11.AuthError(ae)
		return &apiError{http.StatusForbidden, e.Code, e.Message}
	}
	if auth.Service != Service {
		return &apiError{http.StatusForbidden, "InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to correct service: '%s'.", Service)}
	}
	id, ok := h.World.Identity(auth.AccessKeyID)
	if !ok {
		return &apiError{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	rq.id = id
	return nil
}

// parseParams reads the query's parameters into rq (endpoint, port,
// private IP, maximum duration), each given at most once, and returns the
// IP.
func parseParams(q url.Values, rq *request) (netip.Addr, error) {
	one := func(k string) (string, bool, error) {
		vals, ok := q[k]
		if !ok {
			return "", false, nil
		}
		if len(vals) != 1 {
			return "", true, invalid("The parameter %s is given %d times; give it once.", k, len(vals))
		}
		return vals[0], true, nil
	}
	epID, ok, err := one("instanceConnectEndpointId")
	if err != nil {
		return netip.Addr{}, err
	}
	if !ok || epID == "" {
		return netip.Addr{}, invalid("The InstanceConnectEndpointId parameter is required.")
	}
	rq.endpoint = epID
	port, ok, err := one("remotePort")
	if err != nil {
		return netip.Addr{}, err
	}
	if !ok {
		return netip.Addr{}, invalid("The RemotePort parameter is required.")
	}
	if port != "22" && port != "3389" {
		return netip.Addr{}, invalid("The specified RemotePort is not valid. Specify either 22 or 3389 as the RemotePort and retry your request.")
	}
	rq.port, _ = strconv.Atoi(port)
	ipText, ok, err := one("privateIpAddress")
	if err != nil {
		return netip.Addr{}, err
	}
	ip, perr := netip.ParseAddr(ipText)
	if !ok || perr != nil || !ip.Is4() || ip.String() != ipText {
		return netip.Addr{}, invalid("The specified PrivateIpAddress is not valid. Specify a valid IPv4 address and retry your request.")
	}
	rq.ip = ipText
	rq.duration = MaxTunnelDuration
	if d, ok, err := one("maxTunnelDuration"); err != nil {
		return netip.Addr{}, err
	} else if ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > int(MaxTunnelDuration/time.Second) || strconv.Itoa(n) != d {
			return netip.Addr{}, invalid("The specified MaxTunnelDuration is not valid. Specify a value between 1 and 3600 seconds and retry your request.")
		}
		rq.duration, rq.durGiven = time.Duration(n)*time.Second, true
	}
	return ip, nil
}

// authorize evaluates ec2-instance-connect:OpenTunnel on the endpoint
// with its condition keys, and records the decision in rq.
func (h *Handler) authorize(rq *request, ep world.Endpoint) error {
	arn := "arn:aws:ec2:" + h.World.Region + ":" + h.World.Account + ":instance-connect-endpoint/" + rq.endpoint
	keys := map[string][]string{
		"aws:RequestedRegion":                    {h.World.Region},
		"ec2-instance-connect:remotePort":        {strconv.Itoa(rq.port)},
		"ec2-instance-connect:privateIpAddress":  {rq.ip},
		"ec2-instance-connect:maxTunnelDuration": {strconv.Itoa(int(rq.duration / time.Second))},
	}
	for k, v := range ep.Tags {
		keys["aws:ResourceTag/"+k] = []string{v}
		keys["ec2:ResourceTag/"+k] = []string{v}
	}
	id := rq.id
	req := iam.Request{
		Principal: id.Principal(h.World.Account),
		Action:    "ec2-instance-connect:OpenTunnel",
		Resource:  arn,
		Context:   keys,
		Time:      h.World.Now(),
	}
	res := iam.Evaluate(req, iam.Policies{Identity: h.World.PoliciesOf(id), SCPs: h.World.SCPsInForce()})
	rq.authz = append(rq.authz, authzRecord{Action: req.Action, Resource: arn, Decision: res.Decision.String(), Sid: res.Sid})
	if !res.Allowed() {
		return &apiError{http.StatusForbidden, "AccessDeniedException", res.Message(req)}
	}
	return nil
}

// acquire counts a tunnel against the endpoint's connection limit.
func (h *Handler) acquire(epID string) error {
	limit := h.MaxConnections
	if limit == 0 {
		limit = DefaultMaxConnections
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.active == nil {
		h.active = map[string]int{}
	}
	if h.active[epID] >= limit {
		return &apiError{http.StatusTooManyRequests, "ThrottlingException",
			fmt.Sprintf("The instance connect endpoint %s has %d open connections, its limit. Close one and retry.", epID, limit)}
	}
	h.active[epID]++
	return nil
}

func (h *Handler) release(epID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.active[epID]--
}

// Active returns the number of open tunnels through an endpoint.
func (h *Handler) Active(epID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.active[epID]
}

// pipe connects the websocket to the destination until either side ends
// or the tunnel's maximum duration passes.
func (h *Handler) pipe(ws *websocket.Conn, ep world.Endpoint, rq *request, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), rq.duration)
	defer cancel()
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	dst, err := h.Dial(dctx, ep.VpcID, rq.ip, rq.port)
	dcancel()
	if err != nil {
		log.Info("tunnel destination unreachable", "err", err)
		ws.Close(websocket.StatusInternalError, truncate(fmt.Sprintf("Unable to connect to %s:%d: %v", rq.ip, rq.port, err)))
		return
	}
	defer dst.Close()
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(dst, nc) // client → destination; ends on close or a text frame
		dst.CloseWrite()
		done <- struct{}{}
	}()
	go func() {
		io.Copy(nc, dst)
		done <- struct{}{}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	reason := "tunnel closed"
	if ctx.Err() != nil {
		reason = fmt.Sprintf("maximum tunnel duration (%s) reached", rq.duration)
	}
	ws.Close(websocket.StatusNormalClosure, reason)
	dst.Close()
	log.Info("tunnel closed", "reason", reason)
}

// truncate keeps a close reason within the 123 bytes a close frame allows.
func truncate(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

// record writes the request's CloudTrail line.
func (h *Handler) record(r *http.Request, reqID string, start time.Time, rq *request, err error) {
	if h.Trail == nil {
		return
	}
	e := trail.New(start, Service, "OpenTunnel", h.World.Region, h.World.Account)
	e.UserIdentity = trail.Identity(rq.id.ARN, rq.id.UserID, h.World.Account, rq.akid)
	if rq.id.Temporary() {
		e.UserIdentity = e.UserIdentity.WithSession(rq.id.TokenIssueTime, !rq.id.MFAAuthTime.IsZero())
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		e.SourceIPAddress = host
	}
	e.UserAgent = r.UserAgent()
	e.RequestID, e.EventID = reqID, uuid.NewString()
	params := map[string]any{}
	if rq.endpoint != "" {
		params["instanceConnectEndpointId"] = rq.endpoint
	}
	if rq.port != 0 {
		params["remotePort"] = rq.port
	}
	if rq.ip != "" {
		params["privateIpAddress"] = rq.ip
	}
	if rq.durGiven {
		params["maxTunnelDuration"] = int(rq.duration / time.Second)
	}
	if len(params) > 0 {
		e.RequestParameters = params
	}
	var ae *apiError
	if errors.As(err, &ae) {
		e.ErrorCode, e.ErrorMessage = ae.code, ae.message
	} else if err != nil {
		e.ErrorCode, e.ErrorMessage = "InternalServerException", err.Error()
	}
	if len(rq.authz) > 0 {
		e.Authorization = rq.authz
	}
	if werr := h.Trail.Write(e); werr != nil {
		h.logger().Error("CloudTrail", "request_id", reqID, "err", werr)
	}
}
