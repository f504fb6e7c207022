package apis

import (
	"fmt"
	"net/http"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/cwlogs"
)

// applyKnobs delays an authenticated call by its API's latency rule and
// answers it as AWS answers a throttled call when its throttle rule says
// so (the SDKs and the aws CLI recognise these codes and retry with
// backoff):
//
//	EC2 query            RequestLimitExceeded  503  "Request limit exceeded."
//	JSON 1.1 (SSM, EIC)  ThrottlingException   400  "Rate exceeded"
//	AWS query (STS)      Throttling            400  "Rate exceeded"
//
// and a call its fail rule picks as the service answers when failing
// inside (internalError).
func (h *handler) applyKnobs(c *call) error {
	if h.opts.Knobs == nil {
		return nil
	}
	op := c.op
	if c.proto == awsproto.JSON11 {
		op = targetOp(c.r.Header.Get("X-Amz-Target"))
	}
	// AWS's request buckets are per account and region: one world's.
	scope := h.world.Account + "/" + h.world.Region
	delay, throttled := h.opts.Knobs.DecideIn(scope, c.service, op)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
			return fmt.Errorf("client went away during the configured latency: %w", c.r.Context().Err())
		}
	}
	if !throttled {
		if h.opts.Knobs.FailedIn(scope, c.service, op) {
			return internalError(c)
		}
		return nil
	}
	switch c.proto {
	case awsproto.EC2Query:
		return &awsproto.Error{Code: "RequestLimitExceeded", Message: "Request limit exceeded.", Status: http.StatusServiceUnavailable}
	case awsproto.AWSQuery:
		return &awsproto.Error{Code: "Throttling", Message: "Rate exceeded"}
	}
	return &awsproto.Error{Code: "ThrottlingException", Message: "Rate exceeded"}
}

// internalError is what a service answers when it fails inside: HTTP 500
// with its modeled internal-error code (the SDKs retry these as
// transient).
//
//	EC2                   InternalError        "An internal error has occurred."
//	SSM                   InternalServerError
//	EC2 Instance Connect  ServiceException
//	STS                   InternalFailure
//	CloudWatch Logs       ServiceUnavailableException
func internalError(c *call) error {
	e := &awsproto.Error{Code: "InternalFailure", Message: "The request processing has failed because of an unknown error, exception or failure.", Status: http.StatusInternalServerError}
	switch c.service {
	case serviceEC2:
		e.Code, e.Message = "InternalError", "An internal error has occurred."
	case serviceSSM:
		e.Code = "InternalServerError"
	case serviceEIC:
		e.Code = "ServiceException"
	case serviceLogs:
		return cwlogs.ServiceUnavailable()
	}
	return e
}
