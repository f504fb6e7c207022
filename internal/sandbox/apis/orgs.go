package apis

import (
	"errors"
	"strconv"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// AWS Organizations' service control policy operations, as far as
// jitssh revoke needs them: ListRoots, ListPolicies, DescribePolicy,
// CreatePolicy, UpdatePolicy, DeletePolicy, AttachPolicy, DetachPolicy.
// Organizations is global (signed for us-east-1) and speaks AWS JSON 1.1
// with the target prefix AWSOrganizationsV20161128. The sandbox's
// evaluator applies a change to the next request.

const (
	serviceOrgs  = "organizations"
	orgsPrefix   = "AWSOrganizationsV20161128"
	scpType      = "SERVICE_CONTROL_POLICY"
	orgsMaxPage  = 20
	orgsMaxName  = 128
	orgsMaxDescr = 512
)

type policySummary struct {
	ID          string `json:"Id"`
	Arn         string `json:"Arn"`
	Name        string `json:"Name"`
	Description string `json:"Description"`
	Type        string `json:"Type"`
	AwsManaged  bool   `json:"AwsManaged"`
}

type orgPolicy struct {
	PolicySummary policySummary `json:"PolicySummary"`
	Content       string        `json:"Content"`
}

func (h *handler) orgID() string { return "o-" + h.world.OrgRootID()[2:] + "sandbox" }

func (h *handler) scpARN(p world.SCP) string {
	if p.AWSManaged {
		return "arn:aws:organizations::aws:policy/service_control_policy/" + p.ID
	}
	return "arn:aws:organizations::" + h.world.SCPAccount() + ":policy/" + h.orgID() + "/service_control_policy/" + p.ID
}

func (h *handler) summary(p world.SCP) policySummary {
	return policySummary{ID: p.ID, Arn: h.scpARN(p), Name: p.Name, Description: p.Description, Type: scpType, AwsManaged: p.AWSManaged}
}

// orgsError turns the world's errors into Organizations'.
func orgsError(err error) error {
	codes := []struct {
		err  error
		code string
	}{
		{world.ErrNoOrganization, "AWSOrganizationsNotInUseException"},
		{world.ErrNoSuchSCP, "PolicyNotFoundException"},
		{world.ErrDuplicateSCP, "DuplicatePolicyException"},
		{world.ErrNoSuchTarget, "TargetNotFoundException"},
		{world.ErrDuplicateAttach, "DuplicatePolicyAttachmentException"},
		{world.ErrNotAttached, "PolicyNotAttachedException"},
		{world.ErrSCPInUse, "PolicyInUseException"},
		{world.ErrAWSManagedReadOnly, "PolicyChangesInProgressException"},
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return awsproto.Errorf(c.code, "%s", capitalize(err.Error())+".")
		}
	}
	return awsproto.Errorf("MalformedPolicyDocumentException", "The provided policy document does not meet the requirements of the specified policy type: %s", err.Error())
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func (h *handler) routeOrgs(c *call) (any, error) {
	if c.proto != awsproto.JSON11 {
		return nil, awsproto.Errorf("InvalidAction", "Organizations speaks AWS JSON 1.1; send X-Amz-Target.")
	}
	in, err := parseJSONObject(c.body)
	if err != nil {
		return nil, err
	}
	if h.world.SCPAccount() != h.world.Account {
		// Only the management account manages policies (the sandbox
		// models no delegated administrator).
		return nil, awsproto.Errorf("AccessDeniedException", "You don't have permissions to access this resource.")
	}
	switch c.op {
	case "ListRoots":
		return h.listRoots(c)
	case "ListPolicies":
		return h.listPolicies(c, in)
	case "DescribePolicy", "DeletePolicy":
		return h.describeOrDeletePolicy(c, in)
	case "CreatePolicy":
		return h.createPolicy(c, in)
	case "UpdatePolicy":
		return h.updatePolicy(c, in)
	case "AttachPolicy", "DetachPolicy":
		return h.attachPolicy(c, in)
	}
	return nil, awsproto.Errorf("UnknownOperationException", "Unknown operation %s.%s", orgsPrefix, c.op)
}

func (h *handler) listRoots(c *call) (any, error) {
	if err := h.authorize(c, "organizations:ListRoots", "*", nil); err != nil {
		return nil, err
	}
	if _, err := h.world.SCPList(); err != nil {
		return nil, orgsError(err)
	}
	type policyType struct{ Type, Status string }
	type root struct {
		ID          string       `json:"Id"`
		Arn         string       `json:"Arn"`
		Name        string       `json:"Name"`
		PolicyTypes []policyType `json:"PolicyTypes"`
	}
	id := h.world.OrgRootID()
	return struct {
		Roots []root `json:"Roots"`
	}{[]root{{ID: id, Arn: "arn:aws:organizations::" + h.world.SCPAccount() + ":root/" + h.orgID() + "/" + id, Name: "Root",
		PolicyTypes: []policyType{{Type: scpType, Status: "ENABLED"}}}}}, nil
}

func (h *handler) listPolicies(c *call, in jsonObject) (any, error) {
	filter, err := in.str("Filter")
	if err != nil {
		return nil, err
	}
	token, err := in.str("NextToken")
	if err != nil {
		return nil, err
	}
	maxResults, err := in.int("MaxResults")
	if err != nil {
		return nil, err
	}
	if filter == nil {
		return nil, awsproto.Errorf("InvalidInputException", "You provided a value that does not match the required pattern: Filter is required.")
	}
	if *filter != scpType {
		return nil, awsproto.Errorf("InvalidInputException", "The sandbox's organisation has only %s policies.", scpType)
	}
	n := orgsMaxPage
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > orgsMaxPage {
			return nil, awsproto.Errorf("InvalidInputException", "MaxResults must be between 1 and %d.", orgsMaxPage)
		}
		n = int(*maxResults)
	}
	if err := h.authorize(c, "organizations:ListPolicies", "*", nil); err != nil {
		return nil, err
	}
	all, err := h.world.SCPList()
	if err != nil {
		return nil, orgsError(err)
	}
	start := 0
	if token != nil {
		start, err = strconv.Atoi(*token)
		if err != nil || start < 0 || start > len(all) {
			return nil, awsproto.Errorf("InvalidInputException", "The NextToken is invalid.")
		}
	}
	out := struct {
		Policies  []policySummary `json:"Policies"`
		NextToken *string         `json:"NextToken,omitempty"`
	}{Policies: []policySummary{}}
	for _, p := range all[start:min(start+n, len(all))] {
		out.Policies = append(out.Policies, h.summary(p))
	}
	if start+n < len(all) {
		t := strconv.Itoa(start + n)
		out.NextToken = &t
	}
	return out, nil
}

// policyID reads and checks PolicyId.
func policyID(in jsonObject) (string, error) {
	id, err := in.str("PolicyId")
	if err != nil {
		return "", err
	}
	if id == nil || len(*id) < 3 || (*id)[:2] != "p-" || len(*id) > 130 {
		return "", awsproto.Errorf("InvalidInputException", "You provided a value that does not match the required pattern: PolicyId.")
	}
	return *id, nil
}

func (h *handler) describeOrDeletePolicy(c *call, in jsonObject) (any, error) {
	id, err := policyID(in)
	if err != nil {
		return nil, err
	}
	p, err := h.world.SCPByID(id)
	res := "*"
	if err == nil {
		res = h.scpARN(p)
	}
	if err := h.authorize(c, "organizations:"+c.op, res, nil); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, orgsError(err)
	}
	if c.op == "DeletePolicy" {
		if err := h.world.DeleteSCP(id); err != nil {
			return nil, orgsError(err)
		}
		return struct{}{}, nil
	}
	return struct {
		Policy orgPolicy `json:"Policy"`
	}{orgPolicy{PolicySummary: h.summary(p), Content: p.Text}}, nil
}

// policyFields reads Name, Description and Content, each optional here.
func policyFields(in jsonObject) (name, descr, content *string, err error) {
	if name, err = in.str("Name"); err != nil {
		return
	}
	if descr, err = in.str("Description"); err != nil {
		return
	}
	if content, err = in.str("Content"); err != nil {
		return
	}
	switch {
	case name != nil && (len(*name) < 1 || len(*name) > orgsMaxName):
		err = awsproto.Errorf("InvalidInputException", "Name must be 1 to %d characters.", orgsMaxName)
	case descr != nil && len(*descr) > orgsMaxDescr:
		err = awsproto.Errorf("InvalidInputException", "Description must be at most %d characters.", orgsMaxDescr)
	case content != nil && (len(*content) < 1 || nonSpace(*content) > world.MaxSCPChars):
		err = awsproto.Errorf("ConstraintViolationException", "The provided policy document exceeds the maximum size of %d characters (POLICY_CONTENT_LIMIT_EXCEEDED).", world.MaxSCPChars)
	}
	return
}

func nonSpace(s string) int {
	n := 0
	for _, r := range s {
		if r != ' ' && r != '\n' && r != '\t' && r != '\r' {
			n++
		}
	}
	return n
}

func (h *handler) createPolicy(c *call, in jsonObject) (any, error) {
	name, descr, content, err := policyFields(in)
	if err != nil {
		return nil, err
	}
	typ, err := in.str("Type")
	if err != nil {
		return nil, err
	}
	if name == nil || descr == nil || content == nil || typ == nil {
		return nil, awsproto.Errorf("InvalidInputException", "Content, Description, Name and Type are required.")
	}
	if *typ != scpType {
		return nil, awsproto.Errorf("InvalidInputException", "The sandbox's organisation has only %s policies.", scpType)
	}
	if err := h.authorize(c, "organizations:CreatePolicy", "*", nil); err != nil {
		return nil, err
	}
	p, err := h.world.CreateSCP(*name, *descr, *content)
	if err != nil {
		return nil, orgsError(err)
	}
	return struct {
		Policy orgPolicy `json:"Policy"`
	}{orgPolicy{PolicySummary: h.summary(p), Content: p.Text}}, nil
}

func (h *handler) updatePolicy(c *call, in jsonObject) (any, error) {
	id, err := policyID(in)
	if err != nil {
		return nil, err
	}
	name, descr, content, err := policyFields(in)
	if err != nil {
		return nil, err
	}
	if name != nil {
		return nil, awsproto.Errorf("InvalidInputException", "The sandbox does not rename policies.")
	}
	old, err := h.world.SCPByID(id)
	res := "*"
	if err == nil {
		res = h.scpARN(old)
	}
	if err := h.authorize(c, "organizations:UpdatePolicy", res, nil); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, orgsError(err)
	}
	p, err := h.world.UpdateSCP(id, descr, content)
	if err != nil {
		return nil, orgsError(err)
	}
	return struct {
		Policy orgPolicy `json:"Policy"`
	}{orgPolicy{PolicySummary: h.summary(p), Content: p.Text}}, nil
}

func (h *handler) attachPolicy(c *call, in jsonObject) (any, error) {
	id, err := policyID(in)
	if err != nil {
		return nil, err
	}
	target, err := in.str("TargetId")
	if err != nil {
		return nil, err
	}
	if target == nil || *target == "" {
		return nil, awsproto.Errorf("InvalidInputException", "TargetId is required.")
	}
	p, err := h.world.SCPByID(id)
	res := "*"
	if err == nil {
		res = h.scpARN(p)
	}
	if err := h.authorize(c, "organizations:"+c.op, res, nil); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, orgsError(err)
	}
	if c.op == "AttachPolicy" {
		err = h.world.AttachSCP(id, *target)
	} else {
		err = h.world.DetachSCP(id, *target)
	}
	if err != nil {
		return nil, orgsError(err)
	}
	return struct{}{}, nil
}
