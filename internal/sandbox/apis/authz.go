package apis

import (
	"net/http"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/iam"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// authorize evaluates the caller's policies and the account's SCPs for
// action on resource with the given condition keys (besides the
// principal's), records the decision on c for the audit trail, and returns
// the service's authorisation error when the request is denied:
//
//	JSON 1.1 (SSM, EIC)  AccessDeniedException  400  "User: … is not authorized to perform: …"
//	EC2 query            UnauthorizedOperation  403  "You are not authorized to perform this operation. User: …"
//	AWS query (STS)      AccessDenied           403  "User: …"
func (h *handler) authorize(c *call, action, resource string, keys map[string][]string) error {
	if keys == nil {
		keys = map[string][]string{}
	}
	keys["aws:RequestedRegion"] = []string{h.world.Region}
	req := iam.Request{
		Principal: c.id.Principal(h.world.Account),
		Action:    action,
		Resource:  resource,
		Context:   keys,
		Time:      h.world.Now(),
	}
	res := iam.Evaluate(req, iam.Policies{Identity: h.world.PoliciesOf(c.id), SCPs: h.world.SCPsInForce()})
	c.authz = append(c.authz, authzRecord{Action: action, Resource: resource, Decision: res.Decision.String(), Sid: res.Sid})
	if res.Allowed() {
		return nil
	}
	msg := res.Message(req)
	switch c.proto {
	case awsproto.EC2Query:
		return &awsproto.Error{Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation. " + msg, Status: http.StatusForbidden}
	case awsproto.AWSQuery:
		return &awsproto.Error{Code: "AccessDenied", Message: msg, Status: http.StatusForbidden}
	}
	return &awsproto.Error{Code: "AccessDeniedException", Message: msg}
}

// authzRecord is one authorisation decision, for the audit trail.
type authzRecord struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Decision string `json:"decision"`
	Sid      string `json:"statementId,omitempty"`
}

// instanceARN returns the ARN of an EC2 instance in the world's account.
func (h *handler) instanceARN(id string) string {
	return "arn:aws:ec2:" + h.world.Region + ":" + h.world.Account + ":instance/" + id
}

// targetARN returns the ARN of an SSM target: a managed (hybrid)
// instance's, mi-…, or an EC2 instance's.
func (h *handler) targetARN(id string) string {
	if strings.HasPrefix(id, "mi-") {
		return "arn:aws:ssm:" + h.world.Region + ":" + h.world.Account + ":managed-instance/" + id
	}
	return h.instanceARN(id)
}

// documentARN returns the ARN of an SSM document: AWS-owned documents
// (AWS-…) have no account, the account's own (SSM-SessionManagerRunShell
// and any other) do.
func (h *handler) documentARN(name string) string {
	acct := h.world.Account
	if len(name) > 4 && name[:4] == "AWS-" {
		acct = ""
	}
	return "arn:aws:ssm:" + h.world.Region + ":" + acct + ":document/" + name
}

// sessionARN returns the ARN of an SSM session.
func (h *handler) sessionARN(id string) string {
	return "arn:aws:ssm:" + h.world.Region + ":" + h.world.Account + ":session/" + id
}

// resourceTagKeys returns the condition keys for an instance's tags, under
// the three prefixes EC2, EIC and SSM policies use.
func resourceTagKeys(in world.Instance, keys map[string][]string) map[string][]string {
	if keys == nil {
		keys = map[string][]string{}
	}
	for k, v := range in.Tags {
		keys["aws:ResourceTag/"+k] = []string{v}
		keys["ec2:ResourceTag/"+k] = []string{v}
		keys["ssm:resourceTag/"+k] = []string{v}
	}
	return keys
}
