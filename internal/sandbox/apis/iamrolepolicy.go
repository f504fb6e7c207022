package apis

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// IAM's inline role policy operations (PutRolePolicy, GetRolePolicy,
// DeleteRolePolicy, ListRolePolicies). IAM is a global service: one
// endpoint, requests signed for us-east-1, resources without a region.

// Constraints from the IAM 2010-05-08 API model.
var (
	iamNamePattern     = regexp.MustCompile(`^[\w+=,.@-]+$`)
	policyTextPattern  = regexp.MustCompile(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+$`)
	maxPolicyTextBytes = 131072
)

// iamEmpty is the response of an IAM operation without output.
type iamEmpty struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func (h *handler) iamEmpty(c *call) iamEmpty {
	return iamEmpty{XMLName: xml.Name{Local: c.op + "Response"}, Xmlns: IAMNamespace, RequestID: c.reqID}
}

// roleARN returns the ARN of the account's role name (IAM ARNs have no
// region).
func (h *handler) roleARN(name string) string {
	return "arn:aws:iam::" + h.world.Account + ":role/" + name
}

// roleAndPolicyName validates RoleName and (unless policyName is false)
// PolicyName as IAM does.
func roleAndPolicyName(c *call, policyName bool) (role, name string, err error) {
	var v validation
	r, p := c.form.Get("RoleName"), c.form.Get("PolicyName")
	if v.required(formPtr(c, "RoleName"), "roleName") {
		v.length(&r, "roleName", 1, 64)
		v.pattern(&r, "roleName", iamNamePattern.String(), iamNamePattern.MatchString)
	}
	if policyName && v.required(formPtr(c, "PolicyName"), "policyName") {
		v.length(&p, "policyName", 1, 128)
		v.pattern(&p, "policyName", iamNamePattern.String(), iamNamePattern.MatchString)
	}
	return r, p, v.err("ValidationError")
}

// formPtr returns a pointer to the form value key, nil when absent.
func formPtr(c *call, key string) *string {
	if _, ok := c.form[key]; !ok {
		return nil
	}
	v := c.form.Get(key)
	return &v
}

// iamWorldError turns the world's errors into IAM's.
func iamWorldError(err error, role, name string) error {
	switch {
	case errors.Is(err, world.ErrNoSuchRole):
		return &awsproto.Error{Code: "NoSuchEntity", Message: "The role with name " + role + " cannot be found.", Status: http.StatusNotFound}
	case errors.Is(err, world.ErrNoSuchRolePolicy):
		return &awsproto.Error{Code: "NoSuchEntity", Message: "The role policy with name " + name + " cannot be found.", Status: http.StatusNotFound}
	case errors.Is(err, world.ErrRolePolicySize):
		return &awsproto.Error{Code: "LimitExceeded", Message: "Maximum policy size of " + strconv.Itoa(world.MaxInlineRolePolicyChars) + " bytes exceeded for role " + role, Status: http.StatusConflict}
	}
	return &awsproto.Error{Code: "MalformedPolicyDocument", Message: "The policy document is malformed: " + err.Error(), Status: http.StatusBadRequest}
}

// putRolePolicy serves iam:PutRolePolicy: the policy applies to the
// role's sessions from the next request on.
func (h *handler) putRolePolicy(c *call) (any, error) {
	role, name, err := roleAndPolicyName(c, true)
	if err != nil {
		return nil, err
	}
	doc := c.form.Get("PolicyDocument")
	var v validation
	if v.required(formPtr(c, "PolicyDocument"), "policyDocument") {
		v.length(&doc, "policyDocument", 1, maxPolicyTextBytes)
		v.pattern(&doc, "policyDocument", policyTextPattern.String(), policyTextPattern.MatchString)
	}
	if err := v.err("ValidationError"); err != nil {
		return nil, err
	}
	if err := h.authorize(c, "iam:PutRolePolicy", h.roleARN(role), nil); err != nil {
		return nil, err
	}
	if _, err := h.world.PutRolePolicy(role, name, doc); err != nil {
		return nil, iamWorldError(err, role, name)
	}
	return h.iamEmpty(c), nil
}

// deleteRolePolicy serves iam:DeleteRolePolicy.
func (h *handler) deleteRolePolicy(c *call) (any, error) {
	role, name, err := roleAndPolicyName(c, true)
	if err != nil {
		return nil, err
	}
	if err := h.authorize(c, "iam:DeleteRolePolicy", h.roleARN(role), nil); err != nil {
		return nil, err
	}
	if err := h.world.DeleteRolePolicy(role, name); err != nil {
		return nil, iamWorldError(err, role, name)
	}
	return h.iamEmpty(c), nil
}

type getRolePolicyResponse struct {
	XMLName xml.Name `xml:"GetRolePolicyResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		RoleName       string `xml:"RoleName"`
		PolicyName     string `xml:"PolicyName"`
		PolicyDocument string `xml:"PolicyDocument"`
	} `xml:"GetRolePolicyResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

// getRolePolicy serves iam:GetRolePolicy. As IAM, it returns the document
// URL-encoded (RFC 3986): SDKs hand it over so, the AWS CLI decodes it.
func (h *handler) getRolePolicy(c *call) (any, error) {
	role, name, err := roleAndPolicyName(c, true)
	if err != nil {
		return nil, err
	}
	if err := h.authorize(c, "iam:GetRolePolicy", h.roleARN(role), nil); err != nil {
		return nil, err
	}
	p, err := h.world.RolePolicy(role, name)
	if err != nil {
		return nil, iamWorldError(err, role, name)
	}
	resp := &getRolePolicyResponse{Xmlns: IAMNamespace, RequestID: c.reqID}
	resp.Result.RoleName, resp.Result.PolicyName = role, p.Name
	resp.Result.PolicyDocument = strings.ReplaceAll(url.QueryEscape(p.Text), "+", "%20")
	return resp, nil
}

type listRolePoliciesResponse struct {
	XMLName xml.Name `xml:"ListRolePoliciesResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		PolicyNames []string `xml:"PolicyNames>member"`
		IsTruncated bool     `xml:"IsTruncated"`
		Marker      string   `xml:"Marker,omitempty"`
	} `xml:"ListRolePoliciesResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

// listRolePolicies serves iam:ListRolePolicies, paginated with Marker
// and MaxItems (1 to 1000, default 100) as IAM does.
func (h *handler) listRolePolicies(c *call) (any, error) {
	role, _, err := roleAndPolicyName(c, false)
	if err != nil {
		return nil, err
	}
	maxItems := 100
	if s := formPtr(c, "MaxItems"); s != nil {
		n, err := strconv.Atoi(*s)
		if err != nil || n < 1 || n > 1000 {
			return nil, awsproto.Errorf("ValidationError", "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", *s)
		}
		maxItems = n
	}
	if err := h.authorize(c, "iam:ListRolePolicies", h.roleARN(role), nil); err != nil {
		return nil, err
	}
	names, err := h.world.RolePolicyNames(role)
	if err != nil {
		return nil, iamWorldError(err, role, "")
	}
	if m := c.form.Get("Marker"); m != "" {
		i := sort.SearchStrings(names, m)
		if i >= len(names) || names[i] != m {
			return nil, awsproto.Errorf("InvalidInput", "Invalid Marker.")
		}
		names = names[i:]
	}
	resp := &listRolePoliciesResponse{Xmlns: IAMNamespace, RequestID: c.reqID}
	if len(names) > maxItems {
		resp.Result.IsTruncated, resp.Result.Marker = true, names[maxItems]
		names = names[:maxItems]
	}
	resp.Result.PolicyNames = names
	return resp, nil
}
