package apis

import (
	"net/http"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/cwlogs"
)

// logsTargetPrefix is CloudWatch Logs' X-Amz-Target prefix (JSON 1.1).
const logsTargetPrefix = "Logs_20140328"

// maxLogsBody bounds a CloudWatch Logs request: a PutLogEvents batch may
// carry 1,048,576 bytes of messages, which JSON escaping can inflate
// (control characters become six bytes each).
const maxLogsBody = 8 << 20

// maxBody is the largest request body read for service.
func maxBody(service string) int64 {
	if service == serviceLogs {
		return maxLogsBody
	}
	return MaxBodyBytes
}

// traced reports whether c gets a CloudTrail record: CloudWatch Logs'
// data-plane calls (PutLogEvents, FilterLogEvents, GetLogEvents) are not
// recorded by CloudTrail.
func traced(c *call) bool {
	return c.service != serviceLogs || cwlogs.Traced(c.op)
}

// routeLogs serves CloudWatch Logs (package cwlogs) with the caller's IAM
// decisions recorded on c.
func (h *handler) routeLogs(c *call) (any, error) {
	if c.proto != awsproto.JSON11 {
		return nil, awsproto.Errorf("InvalidAction", "Service logs speaks AWS JSON 1.1; send X-Amz-Target.")
	}
	target := c.r.Header.Get("X-Amz-Target")
	p, op, ok := strings.Cut(target, ".")
	if c.r.Method != http.MethodPost || !ok || p != logsTargetPrefix {
		return nil, awsproto.Errorf("UnknownOperationException", "Unknown operation %s", target)
	}
	c.op = op
	return h.opts.Logs.Serve(op, c.body, func(action, resource string) error {
		return h.authorize(c, action, resource, nil)
	})
}
