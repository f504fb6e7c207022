package sso

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/jitssh/jitssh/internal/sandbox/trail"
)

// MaxBodyBytes bounds an API request's body.
const MaxBodyBytes = 64 << 10

// Event sources of the two APIs in CloudTrail (and their knob services).
const (
	sourceOIDC   = "sso-oauth"
	sourcePortal = "sso"
)

// apiError is an error of the OIDC or the portal API as AWS answers it:
// the type in X-Amzn-ErrorType, and error/error_description (OIDC) or
// message (portal) in the body.
type apiError struct {
	Type   string // e.g. AuthorizationPendingException
	Status int
	// OAuth is the OAuth error code (OIDC only), e.g. authorization_pending.
	OAuth   string
	Message string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

// The OIDC API's errors (HTTP 400 unless said otherwise).
func oidcErr(typ, oauth, format string, args ...any) *apiError {
	status := http.StatusBadRequest
	switch typ {
	case "InvalidClientException":
		status = http.StatusUnauthorized
	case "InternalServerException":
		status = http.StatusInternalServerError
	}
	return &apiError{Type: typ, Status: status, OAuth: oauth, Message: fmt.Sprintf(format, args...)}
}

func errInvalidRequest(format string, args ...any) *apiError {
	return oidcErr("InvalidRequestException", "invalid_request", format, args...)
}

func errInvalidClient(format string, args ...any) *apiError {
	return oidcErr("InvalidClientException", "invalid_client", format, args...)
}

func errInvalidGrant(format string, args ...any) *apiError {
	return oidcErr("InvalidGrantException", "invalid_grant", format, args...)
}

// The portal API's errors.
func portalErr(typ string, status int, msg string) *apiError {
	return &apiError{Type: typ, Status: status, Message: msg}
}

var (
	errUnauthorized = portalErr("UnauthorizedException", http.StatusUnauthorized, "Session token not found or invalid")
	errNoAccess     = portalErr("ForbiddenException", http.StatusForbidden, "No access")
)

// apiCall is one OIDC or portal request being served.
type apiCall struct {
	r      *http.Request
	body   []byte
	user   string // the signed-in user, once known
	params any    // request parameters for CloudTrail (secrets hidden)
}

type apiFunc func(c *apiCall) (any, error)

func (s *Service) oidcHandler(op string, f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serveAPI(w, r, sourceOIDC, op, f) }
}

func (s *Service) portalHandler(op string, f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serveAPI(w, r, sourcePortal, op, f) }
}

// serveAPI reads the request, applies the knobs, runs f, answers and
// records the call in CloudTrail before the answer leaves (so a client
// that has its answer finds the call in the log).
func (s *Service) serveAPI(w http.ResponseWriter, r *http.Request, source, op string, f apiFunc) {
	start := time.Now()
	reqID := uuid.NewString()
	c := &apiCall{r: r}
	resp, err := s.run(w, c, source, op, f)
	var ae *apiError
	if err != nil && !errors.As(err, &ae) {
		s.log.Error("internal error", "request_id", reqID, "operation", op, "err", err)
		ae = oidcErr("InternalServerException", "server_error", "An unexpected error occurred; see the sandbox's log.")
		if source == sourcePortal {
			ae = portalErr("InternalServerException", http.StatusInternalServerError, "An unexpected error occurred; see the sandbox's log.")
		}
	}
	s.record(c, start, source, op, reqID, resp, ae)
	attrs := []any{"request_id", reqID, "service", source, "operation", op, "user", c.user, "duration", time.Since(start).Round(time.Microsecond)}
	if ae != nil {
		attrs = append(attrs, "error_code", ae.Type, "error", ae.Message)
	}
	s.log.Info("aws api request", attrs...)
	w.Header().Set("X-Amzn-Requestid", reqID)
	if ae != nil {
		writeError(w, ae)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if resp == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Write(b)
}

func (s *Service) run(w http.ResponseWriter, c *apiCall, source, op string, f apiFunc) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, fmt.Errorf("panic in %s %s: %v", source, op, p)
		}
	}()
	body, err := io.ReadAll(http.MaxBytesReader(w, c.r.Body, MaxBodyBytes))
	if err != nil {
		return nil, errInvalidRequest("The request body could not be read or is larger than %d bytes.", MaxBodyBytes)
	}
	c.body = body
	c.params = paramsOf(c.body)
	if c.r.Method == http.MethodGet {
		c.params = queryParams(c.r.URL.Query())
	}
	if k := s.opts.Knobs; k != nil {
		delay, throttled := k.Decide(source, op)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-c.r.Context().Done():
			}
		}
		if throttled {
			if source == sourcePortal {
				return nil, portalErr("TooManyRequestsException", http.StatusTooManyRequests, "Rate exceeded")
			}
			return nil, oidcErr("SlowDownException", "slow_down", "Rate exceeded")
		}
		if k.Failed(source, op) {
			return nil, errors.New("failure injected by the fail knob")
		}
	}
	return f(c)
}

func writeError(w http.ResponseWriter, ae *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", ae.Type)
	var body any
	if ae.OAuth != "" {
		body = struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}{ae.OAuth, ae.Message}
	} else {
		body = struct {
			Message string `json:"message"`
		}{ae.Message}
	}
	b, _ := json.Marshal(body)
	w.WriteHeader(ae.Status)
	w.Write(b)
}

// record writes the CloudTrail record of a call. The caller is the
// Identity Center user once known (userIdentity type Unknown, as AWS
// records portal calls).
func (s *Service) record(c *apiCall, start time.Time, source, op, reqID string, resp any, ae *apiError) {
	if s.opts.Trail == nil {
		return
	}
	e := trail.New(start, source, op, s.opts.Region, s.opts.Account)
	e.ReadOnly = op != "Logout" && op != "RegisterClient"
	if c.user != "" {
		e.UserIdentity = trail.UserIdentity{Type: "Unknown", PrincipalID: c.user, AccountID: s.opts.Account, UserName: c.user}
	}
	if host, _, err := net.SplitHostPort(c.r.RemoteAddr); err == nil {
		e.SourceIPAddress = host
	}
	e.UserAgent = c.r.UserAgent()
	e.RequestID = reqID
	e.EventID = uuid.NewString()
	e.RequestParameters = c.params
	if ae != nil {
		e.ErrorCode, e.ErrorMessage = ae.Type, ae.Message
	} else if resp != nil {
		if b, err := json.Marshal(resp); err == nil {
			e.ResponseElements = trail.Elements(b, secretFields...)
		}
	}
	if err := s.opts.Trail.Write(e); err != nil {
		s.log.Error("CloudTrail", "request_id", reqID, "err", err)
	}
}

// secretFields are hidden in CloudTrail records.
var secretFields = []string{"clientSecret", "accessToken", "refreshToken", "idToken", "deviceCode", "code", "codeVerifier", "roleCredentials"}

// decodeJSON decodes an OIDC request body into v: one JSON object, no
// trailing data; unknown members are ignored (as AWS's services do).
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return errInvalidRequest("The request body is not valid JSON for this operation: %v", err)
	}
	if dec.More() {
		return errInvalidRequest("The request body has data after its JSON object.")
	}
	return nil
}

// queryParams returns the CloudTrail form of a portal query: the API's
// member names for its query parameters.
func queryParams(q url.Values) any {
	p := map[string]any{}
	for k, name := range map[string]string{"role_name": "roleName", "account_id": "accountId", "max_result": "maxResults", "next_token": "nextToken"} {
		if v := q.Get(k); v != "" {
			p[name] = v
		}
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

// paramsOf returns the CloudTrail form of a JSON request body.
func paramsOf(body []byte) any { return trail.Elements(body, secretFields...) }
