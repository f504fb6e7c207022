package apis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/jitssh/jitssh/internal/placekey"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/cwlogs"
	"github.com/jitssh/jitssh/internal/sandbox/kms"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/oidc"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// MaxBodyBytes is the largest request body the handler reads.
const MaxBodyBytes = 1 << 20

// Options configures the handler returned by NewHandler.
type Options struct {
	// StreamURL returns the data-channel websocket URL StartSession and
	// ResumeSession return for a session id, e.g.
	// ws://127.0.0.1:PORT/v1/data-channel/<id>?role=publish_subscribe.
	// Nil means ws://<request Host>/v1/data-channel/<id>?role=publish_subscribe.
	StreamURL func(sessionID string) string
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// Trail receives a CloudTrail record of every request; nil discards.
	Trail *trail.Log
	// Knobs delays and throttles calls per API (see throttle.go); nil
	// means neither.
	Knobs *knobs.Table
	// OIDC is the sandbox's OpenID Connect issuer, the account's one IAM
	// OIDC provider for AssumeRoleWithWebIdentity; nil means none.
	OIDC *oidc.Issuer
	// OIDCAudiences are the provider's client ids (the audiences its
	// tokens may name); nil means oidc.DefaultAudience only.
	OIDCAudiences []string
	// PlaceKey, when set, runs the key-placement script of a managed
	// instance for real (as root, against the instance's own accounts,
	// package passwdns) and says how it ended; ok false means the
	// instance cannot run it, and the key goes only to the world's placed
	// keys, which its SSH server then honours.
	PlaceKey func(instanceID string, p placekey.Placement) (run ScriptRun, ok bool)
	// Logs is the account's CloudWatch Logs (logs.go); nil means a store
	// of the handler's own.
	Logs *cwlogs.Store
	// KMS is the account's KMS keys (kms.go); nil means none.
	KMS *kms.Service
	// LogsOf, when set, returns the CloudWatch Logs of each (account,
	// region) world NewRouter serves (CloudWatch Logs is regional); it
	// takes precedence over Logs.
	LogsOf func(*world.World) *cwlogs.Store
	// RunHost, when set, runs the real jitssh-host with args (and the
	// instance's own configuration) on an instance, as root, for a
	// jitssh-host users script (package hostcmd); ok false means the
	// instance runs no jitssh-host (docs/sandbox.md).
	RunHost func(instanceID string, args []string) (run ScriptRun, ok bool)
}

// ScriptRun is how a script run on a simulated instance ended.
type ScriptRun struct {
	Stdout, Stderr string
	Code           int
}

// Service signing names, as in the SigV4 credential scope.
const (
	serviceSTS  = "sts"
	serviceEC2  = "ec2"
	serviceEIC  = "ec2-instance-connect"
	serviceSSM  = "ssm"
	serviceIAM  = "iam"
	serviceLogs = "logs"
	// serviceCloudTrail: LookupEvents (cloudtrail.go)
	serviceCloudTrail = "cloudtrail"
)

type handler struct {
	world *world.World
	// org is the organization the world belongs to and acct its account
	// (world.Single for a handler of one world).
	org      *world.Org
	acct     *world.OrgAccount
	opts     Options
	log      *slog.Logger
	verifier *awsproto.Verifier
	lookups  lookupLimiter // LookupEvents' 2 calls a second (cloudtrail.go)
}

// NewHandler returns the http.Handler serving the sandbox's AWS APIs
// against w, an organization of one account in one region (see NewRouter).
func NewHandler(w *world.World, opts Options) http.Handler {
	h := newHandler(w, opts)
	h.org = world.Single(w)
	h.acct, _ = h.org.Account(w.Account)
	return h
}

func newHandler(w *world.World, opts Options) *handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.LogsOf != nil {
		opts.Logs = opts.LogsOf(w)
	}
	if opts.Logs == nil {
		opts.Logs = cwlogs.New(w.Region, w.Account, w.Now)
	}
	h := &handler{world: w, opts: opts, log: log.With("component", "awsapi")}
	h.verifier = &awsproto.Verifier{
		Lookup: w.Credential,
		Now:    w.Now,
		Region: w.Region,
	}
	return h
}

// call is one API request being served.
type call struct {
	r       *http.Request
	body    []byte
	reqID   string
	proto   awsproto.Protocol
	service string
	op      string
	id      world.Identity
	akid    string
	form    url.Values    // query protocols only
	authz   []authzRecord // authorisation decisions, in order
	// webUser is the caller of an unsigned AssumeRoleWithWebIdentity, for
	// CloudTrail, once its token is verified.
	webUser *trail.UserIdentity
	// roleAccount is the account of a role assumed across accounts: its
	// CloudTrail has the call too, as on AWS.
	roleAccount string
}

// ServeHTTP serves one API request and logs one line about it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{r: r, reqID: uuid.NewString()}
	// The answer is held back until the CloudTrail record is written, so a
	// client that has its answer finds the call in the log (scripts and the
	// demo read it right after the call).
	rw := &heldResponse{ResponseWriter: w}
	defer rw.release()
	resp, err := h.serveRecover(rw, c)
	if err == nil {
		switch c.proto {
		case awsproto.JSON11:
			err = awsproto.WriteJSON(rw, c.reqID, resp)
		default:
			err = awsproto.WriteXML(rw, c.reqID, resp)
		}
		if err != nil {
			err = fmt.Errorf("write %s response: %w", c.op, err)
		}
	}
	status := http.StatusOK
	var ae *awsproto.Error
	if err != nil {
		if !errors.As(err, &ae) {
			h.log.Error("internal error", "request_id", c.reqID, "service", c.service, "operation", c.op, "err", err)
			ae = &awsproto.Error{Code: "InternalFailure", Message: "The request processing has failed because of an unknown error, exception or failure.", Status: http.StatusInternalServerError}
			switch c.service { // the services' modeled faults
			case serviceSSM:
				ae.Code = "InternalServerError"
			case serviceEIC:
				ae.Code = "ServiceException"
			}
		}
		status = ae.HTTPStatus()
		c.proto.WriteError(rw, c.reqID, ae)
	}
	caller := c.id.ARN
	if caller == "" {
		caller = c.akid
	}
	attrs := []any{"request_id", c.reqID, "service", c.service, "operation", c.op, "caller", caller,
		"status", status, "duration", time.Since(start).Round(time.Microsecond)}
	if ae != nil {
		attrs = append(attrs, "error_code", ae.Code, "error", ae.Message)
	}
	h.log.Info("aws api request", attrs...)
	if h.opts.Trail != nil && traced(c) {
		e := h.trailEvent(c, start, resp, ae)
		if err := h.opts.Trail.Write(e); err != nil {
			h.log.Error("CloudTrail", "request_id", c.reqID, "err", err)
		}
		if c.roleAccount != "" && ae == nil {
			e.RecipientAccountID, e.EventID = c.roleAccount, uuid.NewString()
			if err := h.opts.Trail.Write(e); err != nil {
				h.log.Error("CloudTrail", "request_id", c.reqID, "err", err)
			}
		}
	}
}

// trailEvent returns the CloudTrail record of c.
func (h *handler) trailEvent(c *call, start time.Time, resp any, ae *awsproto.Error) trail.Event {
	region := h.world.Region
	if r, ok := c.r.Context().Value(disabledRegionKey{}).(string); ok {
		region = r // the region the call was signed for, which refused it
	}
	e := trail.New(start, c.service, c.op, region, h.world.Account)
	e.UserIdentity = trail.Identity(c.id.ARN, c.id.UserID, h.world.Account, c.akid)
	if c.id.Temporary() {
		e.UserIdentity = e.UserIdentity.WithSession(c.id.TokenIssueTime, !c.id.MFAAuthTime.IsZero())
	}
	if c.webUser != nil {
		e.UserIdentity = *c.webUser
	}
	if host, _, err := net.SplitHostPort(c.r.RemoteAddr); err == nil {
		e.SourceIPAddress = host
	}
	e.UserAgent = c.r.UserAgent()
	e.RequestID = c.reqID
	e.EventID = uuid.NewString()
	if ae != nil {
		e.ErrorCode, e.ErrorMessage = ae.Code, ae.Message
	}
	if c.proto == awsproto.JSON11 {
		e.RequestParameters = trail.Elements(omitKeyMaterial(c.body))
		if ae == nil && resp != nil {
			if b, err := json.Marshal(resp); err == nil {
				e.ResponseElements = trail.Elements(b, "TokenValue")
			}
		}
	} else if len(c.form) > 0 {
		params := map[string]any{}
		for k, v := range c.form {
			if k == "Action" || k == "Version" || len(v) == 0 || k == "TokenCode" || k == "WebIdentityToken" {
				continue // secrets CloudTrail does not record
			}
			params[strings.ToLower(k[:1])+k[1:]] = v[0]
		}
		if len(params) > 0 {
			e.RequestParameters = params
		}
	}
	if te, ok := resp.(interface{ trailElements() any }); ok && ae == nil {
		e.ResponseElements = te.trailElements()
	}
	if len(c.authz) > 0 {
		e.Authorization = c.authz
	}
	return e
}

// serveRecover is serve with a panic turned into an internal error, so the
// client sees an AWS fault rather than a dropped connection.
func (h *handler) serveRecover(rw http.ResponseWriter, c *call) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, fmt.Errorf("panic in %s %s: %v", c.service, c.op, p)
		}
	}()
	return h.serve(rw, c)
}

// serve authenticates and dispatches c, returning the value to encode as
// the response body.
func (h *handler) serve(rw http.ResponseWriter, c *call) (any, error) {
	r := c.r
	c.service = scopeService(r.Header.Get("Authorization")) // for the log, until verified
	c.proto = protocolFromHeaders(r)
	guessed := c.proto == 0
	if guessed {
		// Unsigned or unparsable; refined from the API version below.
		c.proto = awsproto.EC2Query
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxBody(c.service)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			code := "RequestEntityTooLarge"
			if c.proto == awsproto.JSON11 {
				code = "RequestEntityTooLargeException"
			}
			return nil, &awsproto.Error{Code: code, Message: fmt.Sprintf("Request body is larger than %d bytes.", maxBody(c.service)), Status: http.StatusRequestEntityTooLarge}
		}
		return nil, awsproto.Errorf("MalformedHttpRequestException", "The request body could not be read.")
	}
	c.body = body
	if c.proto != awsproto.JSON11 {
		form, err := awsproto.ParseForm(r.URL.RawQuery, body)
		if err != nil {
			return nil, err
		}
		c.form = form
		c.op = form.Get("Action")
		if guessed && form.Get("Version") == "2011-06-15" {
			c.proto = awsproto.AWSQuery
		}
	} else {
		c.op = targetOp(r.Header.Get("X-Amz-Target"))
	}

	if c.proto == awsproto.AWSQuery && c.op == "AssumeRoleWithWebIdentity" && len(r.Header.Values("Authorization")) == 0 {
		// Not signed, as on AWS: the web identity token authenticates.
		c.service = serviceSTS
		if err := h.applyKnobs(c); err != nil {
			return nil, err
		}
		return h.routeSTS(c)
	}
	if err := disabledRegion(c); err != nil {
		return nil, err
	}
	auth, err := h.verifier.Verify(r, body)
	c.akid = auth.AccessKeyID
	if err != nil {
		var ae *awsproto.AuthError
		if errors.As(err, &ae) {
			return nil, c.proto.AuthError(ae)
		}
		return nil, fmt.Errorf("verify signature: %w", err)
	}
	c.service = auth.Service
	id, ok := h.world.Identity(auth.AccessKeyID)
	if !ok {
		return nil, c.proto.AuthError(&awsproto.AuthError{Kind: awsproto.AuthUnknownKey})
	}
	c.id = id
	if err := h.applyKnobs(c); err != nil {
		return nil, err
	}

	switch c.service {
	case serviceSTS:
		return h.routeSTS(c)
	case serviceIAM:
		return h.routeIAM(c)
	case serviceEC2:
		return h.routeEC2(c)
	case serviceEIC:
		return h.routeJSON(c, "AWSEC2InstanceConnectService")
	case serviceSSM:
		return h.routeJSON(c, "AmazonSSM")
	case serviceLogs:
		return h.routeLogs(c)
	case serviceKMS:
		return h.routeJSON(c, kmsTargetPrefix)
	case serviceCloudTrail:
		return h.routeCloudTrail(c)
	case serviceOrgs:
		if p, _, _ := strings.Cut(c.r.Header.Get("X-Amz-Target"), "."); p != orgsPrefix {
			return nil, awsproto.Errorf("UnknownOperationException", "Unknown operation %s", c.r.Header.Get("X-Amz-Target"))
		}
		return h.routeOrgs(c)
	}
	if c.proto == awsproto.JSON11 {
		return nil, awsproto.Errorf("UnknownOperationException", "The sandbox does not emulate the service %q.", c.service)
	}
	return nil, awsproto.Errorf("InvalidAction", "The sandbox does not emulate the service %q.", c.service)
}

// protocolFromHeaders picks the protocol for r from the service named in
// its credential scope, or from X-Amz-Target; 0 means "a query protocol,
// decide from the body".
func protocolFromHeaders(r *http.Request) awsproto.Protocol {
	switch scopeService(r.Header.Get("Authorization")) {
	case serviceSSM, serviceEIC, serviceLogs, serviceKMS, serviceCloudTrail, serviceOrgs:
		return awsproto.JSON11
	case serviceSTS, serviceIAM:
		return awsproto.AWSQuery
	case serviceEC2:
		return awsproto.EC2Query
	}
	if r.Header.Get("X-Amz-Target") != "" || strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json") {
		return awsproto.JSON11
	}
	return 0
}

// targetOp is the operation an X-Amz-Target names: what follows its last
// dot (AmazonSSM.StartSession, com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents).
func targetOp(target string) string { return target[strings.LastIndex(target, ".")+1:] }

// scopeService extracts the service from Credential=AKID/date/region/SERVICE/...
// without validating anything else; "" if absent.
func scopeService(auth string) string {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ := strings.Cut(rest, ",")
	f := strings.Split(strings.TrimSpace(cred), "/")
	if len(f) != 5 {
		return ""
	}
	return f[3]
}

func (h *handler) routeJSON(c *call, prefix string) (any, error) {
	if c.proto != awsproto.JSON11 {
		return nil, awsproto.Errorf("InvalidAction", "Service %s speaks AWS JSON 1.1; send X-Amz-Target.", c.service)
	}
	target := c.r.Header.Get("X-Amz-Target")
	p, op, ok := strings.Cut(target, ".")
	if c.r.Method != http.MethodPost || !ok || p != prefix {
		return nil, awsproto.Errorf("UnknownOperationException", "Unknown operation %s", target)
	}
	c.op = op
	if c.service == serviceKMS {
		return h.routeKMS(c)
	}
	switch c.service + "." + op {
	case serviceEIC + ".SendSSHPublicKey":
		return h.sendSSHPublicKey(c)
	case serviceSSM + ".StartSession":
		return h.startSession(c)
	case serviceSSM + ".ResumeSession":
		return h.resumeSession(c)
	case serviceSSM + ".TerminateSession":
		return h.terminateSession(c)
	case serviceSSM + ".DescribeInstanceInformation":
		return h.describeInstanceInformation(c)
	case serviceSSM + ".SendCommand":
		return h.sendCommand(c)
	case serviceSSM + ".GetCommandInvocation":
		return h.getCommandInvocation(c)
	case serviceSSM + ".ListCommandInvocations":
		return h.listCommandInvocations(c)
	case serviceSSM + ".DescribeSessions":
		return h.describeSessions(c)
	}
	return nil, awsproto.Errorf("UnknownOperationException", "Unknown operation %s", target)
}

func (h *handler) routeSTS(c *call) (any, error) {
	c.proto = awsproto.AWSQuery
	if c.op == "" {
		return nil, awsproto.Errorf("MissingAction", "The request must contain the parameter Action")
	}
	if v := c.form.Get("Version"); v != "2011-06-15" {
		return nil, awsproto.Errorf("InvalidAction", "Could not find operation %s for version %s", c.op, v)
	}
	switch c.op {
	case "GetCallerIdentity":
		return h.getCallerIdentity(c)
	case "AssumeRole":
		return h.assumeRole(c)
	case "GetSessionToken":
		return h.getSessionToken(c)
	case "AssumeRoleWithWebIdentity":
		return h.assumeRoleWithWebIdentity(c)
	}
	return nil, awsproto.Errorf("InvalidAction", "Could not find operation %s for version 2011-06-15", c.op)
}

func (h *handler) routeEC2(c *call) (any, error) {
	c.proto = awsproto.EC2Query
	if c.op == "" {
		return nil, awsproto.Errorf("MissingAction", "The request must contain the parameter Action")
	}
	switch c.op {
	case "DescribeInstances":
		return h.describeInstances(c)
	case "DescribeInstanceConnectEndpoints":
		return h.describeInstanceConnectEndpoints(c)
	case "DescribeRegions":
		return h.describeRegions(c)
	}
	return nil, awsproto.Errorf("InvalidAction", "The action %s is not valid for this web service.", c.op)
}

// sessionName returns the name AWS uses for the principal in session ids:
// the role session name of an assumed role, the user name of an IAM user.
func sessionName(arn string) string {
	_, res, ok := strings.Cut(arn, ":assumed-role/")
	if ok {
		if _, name, ok := strings.Cut(res, "/"); ok && name != "" {
			return name
		}
	}
	if _, res, ok := strings.Cut(arn, ":user/"); ok {
		return res[strings.LastIndex(res, "/")+1:]
	}
	if strings.HasSuffix(arn, ":root") {
		return "root"
	}
	return ""
}

// heldResponse buffers a response until release (API answers are small).
type heldResponse struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (h *heldResponse) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldResponse) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(p)
}

func (h *heldResponse) release() {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	h.ResponseWriter.WriteHeader(h.status)
	h.ResponseWriter.Write(h.body.Bytes())
}
