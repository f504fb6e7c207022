package apis

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
)

// applyKnobs delays an authenticated call by its API's latency rule and
// answers it as AWS answers a throttled call when its throttle rule says
// so (the SDKs and the aws CLI recognise these codes and retry with
// backoff):
//
//	EC2 query            RequestLimitExceeded  503  "Request limit exceeded."
//	JSON 1.1 (SSM, EIC)  ThrottlingException   400  "Rate exceeded"
//	AWS query (STS)      Throttling            400  "Rate exceeded"
func (h *handler) applyKnobs(c *call) error {
	if h.opts.Knobs == nil {
		return nil
	}
	op := c.op
	if c.proto == awsproto.JSON11 {
		_, op, _ = strings.Cut(c.r.Header.Get("X-Amz-Target"), ".")
	}
	delay, throttled := h.opts.Knobs.Decide(c.service, op)
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
