package apis

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/iam"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// IAMNamespace is the XML namespace of IAM responses (API 2010-05-08).
const IAMNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// iamVersion is the IAM API version the AWS query protocol names.
const iamVersion = "2010-05-08"

// Limits of SimulatePrincipalPolicy's inputs (the API model's).
const (
	maxSimulateActions   = 100
	maxSimulateResources = 100
	maxSimulateContext   = 100
)

func (h *handler) routeIAM(c *call) (any, error) {
	c.proto = awsproto.AWSQuery
	if c.op == "" {
		return nil, awsproto.Errorf("MissingAction", "The request must contain the parameter Action")
	}
	if v := c.form.Get("Version"); v != iamVersion {
		return nil, awsproto.Errorf("InvalidAction", "Could not find operation %s for version %s", c.op, v)
	}
	switch c.op {
	case "SimulatePrincipalPolicy":
		return h.simulatePrincipalPolicy(c)
	case "PutRolePolicy":
		return h.putRolePolicy(c)
	case "GetRolePolicy":
		return h.getRolePolicy(c)
	case "DeleteRolePolicy":
		return h.deleteRolePolicy(c)
	case "ListRolePolicies":
		return h.listRolePolicies(c)
	case "ListAccountAliases":
		return h.listAccountAliases(c)
	}
	return nil, awsproto.Errorf("InvalidAction", "Could not find operation %s for version %s", c.op, iamVersion)
}

type simulateResponse struct {
	XMLName xml.Name `xml:"SimulatePrincipalPolicyResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		IsTruncated bool            `xml:"IsTruncated"`
		Results     []evaluationXML `xml:"EvaluationResults>member"`
	} `xml:"SimulatePrincipalPolicyResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type evaluationXML struct {
	EvalActionName       string   `xml:"EvalActionName"`
	EvalResourceName     string   `xml:"EvalResourceName"`
	EvalDecision         string   `xml:"EvalDecision"`
	MissingContextValues []string `xml:"MissingContextValues>member"`
	AllowedByOrgs        bool     `xml:"OrganizationsDecisionDetail>AllowedByOrganizations"`
}

// simulatePrincipalPolicy serves iam:SimulatePrincipalPolicy with the
// sandbox's evaluator: each action on each resource (default "*") is
// decided for the user or role PolicySourceArn names, under its identity
// policies and the account's SCPs, with the request's ContextEntries as
// condition keys. A role is simulated as the role, not a session of it:
// session tags and aws:userid are unknown unless the caller supplies them,
// and a decision that needed them lists them as MissingContextValues.
// Resource policies, boundaries and PolicyInputList are not modelled (the
// inputs are refused, not ignored).
func (h *handler) simulatePrincipalPolicy(c *call) (any, error) {
	f := c.form
	for _, k := range []string{"PolicyInputList.member.1", "PermissionsBoundaryPolicyInputList.member.1", "ResourcePolicy", "ResourceOwner", "CallerArn", "ResourceHandlingOption"} {
		if f.Get(k) != "" {
			return nil, awsproto.Errorf("InvalidInput", "The sandbox's policy simulator does not model %s.", strings.TrimSuffix(k, ".member.1"))
		}
	}
	source := f.Get("PolicySourceArn")
	if source == "" {
		return nil, awsproto.Errorf("ValidationError", "1 validation error detected: Value null at 'policySourceArn' failed to satisfy constraint: Member must not be null")
	}
	actions := members(f, "ActionNames")
	if len(actions) == 0 {
		return nil, awsproto.Errorf("ValidationError", "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null")
	}
	if len(actions) > maxSimulateActions {
		return nil, awsproto.Errorf("ValidationError", "1 validation error detected: Value at 'actionNames' failed to satisfy constraint: Member must have length less than or equal to %d", maxSimulateActions)
	}
	for _, a := range actions {
		if svc, op, ok := strings.Cut(a, ":"); !ok || svc == "" || op == "" || strings.ContainsAny(a, " *?") {
			return nil, awsproto.Errorf("InvalidInput", "Invalid action name %q: use service:Operation, e.g. ec2:DescribeInstances.", a)
		}
	}
	resources := members(f, "ResourceArns")
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	if len(resources) > maxSimulateResources {
		return nil, awsproto.Errorf("ValidationError", "1 validation error detected: Value at 'resourceArns' failed to satisfy constraint: Member must have length less than or equal to %d", maxSimulateResources)
	}
	for _, r := range resources {
		if r != "*" && len(strings.SplitN(r, ":", 6)) != 6 {
			return nil, awsproto.Errorf("InvalidInput", "Invalid resource ARN %q.", r)
		}
	}
	ctxKeys, err := contextEntries(f)
	if err != nil {
		return nil, err
	}
	if err := h.authorize(c, "iam:SimulatePrincipalPolicy", source, nil); err != nil {
		return nil, err
	}
	principal, policies, err := h.simulatedPrincipal(c, source)
	if err != nil {
		return nil, err
	}
	resp := &simulateResponse{Xmlns: IAMNamespace, RequestID: c.reqID}
	for _, a := range actions {
		for _, r := range resources {
			keys := map[string][]string{"aws:RequestedRegion": {h.world.Region}}
			for k, v := range ctxKeys {
				keys[k] = v
			}
			req := iam.Request{Principal: principal, Action: a, Resource: r, Context: keys}
			res := iam.Evaluate(req, iam.Policies{Identity: policies, SCPs: h.world.SCPsInForce()})
			e := evaluationXML{EvalActionName: a, EvalResourceName: r, MissingContextValues: res.Missing, AllowedByOrgs: true}
			switch res.Decision {
			case iam.Allowed:
				e.EvalDecision = "allowed"
			case iam.ExplicitDenySCP:
				e.EvalDecision, e.AllowedByOrgs = "explicitDeny", false
			case iam.NoSCPAllow:
				e.EvalDecision, e.AllowedByOrgs = "implicitDeny", false
			case iam.ExplicitDenyIdentity:
				e.EvalDecision = "explicitDeny"
			default:
				e.EvalDecision = "implicitDeny"
			}
			resp.Result.Results = append(resp.Result.Results, e)
		}
	}
	return resp, nil
}

// simulatedPrincipal finds the user or role source names among the
// world's identities: an IAM user by its ARN; a role by name, the
// caller's own identity first when it is a session of that role, then the
// world's roles.
func (h *handler) simulatedPrincipal(c *call, source string) (iam.Principal, []policy.Document, error) {
	f := strings.SplitN(source, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[2] != "iam" {
		return iam.Principal{}, nil, awsproto.Errorf("InvalidInput", "Invalid ARN %q: PolicySourceArn must name an IAM user, group or role.", source)
	}
	kind, name, _ := strings.Cut(f[5], "/")
	name = name[strings.LastIndex(name, "/")+1:]
	notFound := &awsproto.Error{Code: "NoSuchEntity", Status: http.StatusNotFound}
	if f[4] != h.world.Account {
		notFound.Message = "The " + kind + " with name " + name + " cannot be found."
		return iam.Principal{}, nil, notFound
	}
	switch kind {
	case "user":
		for _, id := range h.world.Identities() {
			if id.ARN == source {
				return id.Principal(h.world.Account), id.Policies, nil
			}
		}
		notFound.Message = "The user with name " + name + " cannot be found."
	case "role":
		var found *world.Identity
		ids := append([]world.Identity{c.id}, h.world.Identities()...)
		for i := range ids {
			if roleOf(ids[i].ARN) == name {
				found = &ids[i]
				break
			}
		}
		if found != nil {
			// The role itself: no session, so no session tags or userid.
			return iam.Principal{ARN: source, Account: h.world.Account}, h.world.PoliciesOf(*found), nil
		}
		if r, ok := h.world.Role(name); ok { // a [[roles]] role nobody has assumed yet
			return iam.Principal{ARN: source, Account: h.world.Account}, h.world.PoliciesOf(h.world.RoleSession(r, "simulated", nil)), nil
		}
		notFound.Message = "The role with name " + name + " cannot be found."
	default:
		return iam.Principal{}, nil, awsproto.Errorf("InvalidInput", "Invalid ARN %q: PolicySourceArn must name an IAM user, group or role.", source)
	}
	return iam.Principal{}, nil, notFound
}

// roleOf returns the role name of an assumed-role session ARN, else "".
func roleOf(arn string) string {
	_, res, ok := strings.Cut(arn, ":assumed-role/")
	if !ok {
		return ""
	}
	role, _, _ := strings.Cut(res, "/")
	return role
}

// members returns the values of the query list NAME.member.1, .2, ….
func members(f map[string][]string, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := f[name+".member."+strconv.Itoa(i)]
		if !ok || len(v) == 0 {
			return out
		}
		out = append(out, v[0])
	}
}

// contextEntries reads ContextEntries.member.N.{ContextKeyName,
// ContextKeyValues.member.M, ContextKeyType}.
func contextEntries(f map[string][]string) (map[string][]string, error) {
	out := map[string][]string{}
	for i := 1; ; i++ {
		p := "ContextEntries.member." + strconv.Itoa(i) + "."
		name := first(f, p+"ContextKeyName")
		vals := members(f, p+"ContextKeyValues")
		typ := first(f, p+"ContextKeyType")
		if name == "" && len(vals) == 0 && typ == "" {
			return out, nil
		}
		if i > maxSimulateContext {
			return nil, awsproto.Errorf("ValidationError", "1 validation error detected: too many context entries (at most %d)", maxSimulateContext)
		}
		if name == "" || len(vals) == 0 {
			return nil, awsproto.Errorf("InvalidInput", "Context entry %d needs a ContextKeyName and ContextKeyValues.", i)
		}
		switch typ {
		case "string", "stringList", "numeric", "numericList", "boolean", "booleanList", "ip", "ipList", "binary", "binaryList", "date", "dateList":
		default:
			return nil, awsproto.Errorf("ValidationError", "1 validation error detected: Value '%s' at 'contextEntries.%d.member.contextKeyType' failed to satisfy constraint: Member must satisfy enum value set", typ, i)
		}
		out[name] = vals
	}
}

func first(f map[string][]string, k string) string {
	if v := f[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}
