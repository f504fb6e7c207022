package apis

import (
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/iam"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// assumeRoleResponse is STS AssumeRole's XML response.
type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		AssumedRoleUser  assumedRoleUserXML `xml:"AssumedRoleUser"`
		Credentials      credentialsXML     `xml:"Credentials"`
		PackedPolicySize *int               `xml:"PackedPolicySize,omitempty"`
		tokenSize
	} `xml:"AssumeRoleResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func (r *assumeRoleResponse) trailElements() any {
	return map[string]any{
		"credentials":     trailCredentials(r.Result.Credentials),
		"assumedRoleUser": map[string]string{"assumedRoleId": r.Result.AssumedRoleUser.AssumedRoleID, "arn": r.Result.AssumedRoleUser.Arn},
	}
}

// assumeRoleRequest is AssumeRole's checked parameters.
type assumeRoleRequest struct {
	roleARN, sessionName, externalID string
	duration                         time.Duration
	tags                             sessionTags
}

// parseAssumeRole checks AssumeRole's parameters as STS's model does.
func parseAssumeRole(c *call) (assumeRoleRequest, error) {
	var q assumeRoleRequest
	var err error
	f := c.form
	if q.roleARN, err = stringParam(f, "RoleArn", "roleArn", true, 20, 2048, nil, ""); err != nil {
		return q, err
	}
	if q.sessionName, err = stringParam(f, "RoleSessionName", "roleSessionName", true, 2, 64, sessionNameRE, `[\w+=,.@-]*`); err != nil {
		return q, err
	}
	if q.externalID, err = stringParam(f, "ExternalId", "externalId", false, 2, 1224, externalIDRE, `[\w+=,.@:\/-]*`); err != nil {
		return q, err
	}
	if q.duration, err = durationParam(f, 3600, 900, 43200); err != nil {
		return q, err
	}
	for _, p := range []string{"Policy", "PolicyArns.member.1.arn", "SourceIdentity", "ProvidedContexts.member.1.ProviderArn"} {
		if _, ok := f[p]; ok {
			name, _, _ := strings.Cut(p, ".")
			return q, awsproto.Errorf("ValidationError", "The sandbox does not model %s: leave it out of the request.", name)
		}
	}
	q.tags, err = parseSessionTags(f)
	return q, err
}

// assumeRole serves sts:AssumeRole: the caller's identity policies (and
// the SCPs) must allow sts:AssumeRole on the role, and sts:TagSession
// when session tags are passed; the role's trust policy must allow the
// caller both, with the MFA and external id conditions it sets. A role
// that does not exist is denied like one that does not trust the caller.
func (h *handler) assumeRole(c *call) (any, error) {
	q, err := parseAssumeRole(c)
	if err != nil {
		return nil, err
	}
	mfa, err := h.checkMFA(c)
	if err != nil {
		return nil, err
	}
	keys := func() map[string][]string {
		k := map[string][]string{"sts:RoleSessionName": {q.sessionName}}
		if q.externalID != "" {
			k["sts:ExternalId"] = []string{q.externalID}
		}
		return q.tags.conditionKeys(k)
	}
	if err := h.authorize(c, "sts:AssumeRole", q.roleARN, keys()); err != nil {
		return nil, err
	}
	if len(q.tags.order) > 0 {
		if err := h.authorize(c, "sts:TagSession", q.roleARN, keys()); err != nil {
			return nil, err
		}
	}
	target := h.roleAccount(q.roleARN)
	role, ok := target.RoleByARN(q.roleARN)
	now := h.world.Now()
	caller := c.id.Principal(h.world.Account)
	if mfa {
		caller.MFAAuthTime = now
	}
	actions := []string{"sts:AssumeRole"}
	if len(q.tags.order) > 0 {
		actions = append(actions, "sts:TagSession")
	}
	for _, action := range actions {
		req := iam.TrustRequest{Request: iam.Request{Principal: caller, Action: action, Resource: q.roleARN, Context: keys(), Time: now}}
		res := iam.Result{Decision: iam.NoTrustAllow}
		if ok {
			res = iam.EvaluateTrust(req, role.Trust)
		}
		c.authz = append(c.authz, authzRecord{Action: action + " (trust)", Resource: q.roleARN, Decision: res.Decision.String(), Sid: res.Sid})
		if !res.Allowed() {
			return nil, &awsproto.Error{Code: "AccessDenied", Message: res.TrustMessage(req, q.roleARN), Status: http.StatusForbidden}
		}
	}
	if err := checkDuration(q.duration, role, c.id); err != nil {
		return nil, err
	}
	sess := target.RoleSession(role, q.sessionName, h.inheritTags(c.id, q.tags))
	sess.TransitiveTagKeys = transitiveKeys(c.id, q.tags)
	sess.MFAAuthTime = c.id.MFAAuthTime
	if mfa {
		sess.MFAAuthTime = now
	}
	creds := target.IssueSession(sess, q.duration)
	if target.Account != h.world.Account {
		c.roleAccount = target.Account
	}
	resp := &assumeRoleResponse{Xmlns: awsproto.STSNamespace, RequestID: c.reqID}
	resp.Result.AssumedRoleUser = assumedRoleUserXML{AssumedRoleID: sess.UserID, Arn: sess.ARN}
	resp.Result.Credentials = credsXML(creds)
	resp.Result.tokenSize = sizeOf(creds.SessionToken)
	if len(q.tags.order) > 0 {
		n := q.tags.packedPolicySize()
		resp.Result.PackedPolicySize = &n
	}
	return resp, nil
}

// roleAccount returns the world whose IAM holds the role roleARN names:
// the caller's own, or another account's of the organization (a role
// assumed across accounts, such as OrganizationAccountAccessRole). An
// account outside the organization is the caller's own, where the role
// is not found and the call is denied as for any missing role.
func (h *handler) roleAccount(roleARN string) *world.World {
	rest, ok := strings.CutPrefix(roleARN, "arn:aws:iam::")
	if !ok {
		return h.world
	}
	acct, _, _ := strings.Cut(rest, ":")
	if acct == h.world.Account || h.org == nil {
		return h.world
	}
	if a, ok := h.org.Account(acct); ok {
		if w, ok := a.Regions[h.world.Region]; ok {
			return w
		}
		return a.Home
	}
	return h.world
}

// checkDuration applies the role's maximum session duration, and the
// one-hour limit of role chaining (a role session assuming a role).
func checkDuration(d time.Duration, role world.Role, caller world.Identity) error {
	if caller.RoleSession() && d > world.ChainedMaxSession {
		return awsproto.Errorf("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if d > role.MaxSession {
		return awsproto.Errorf("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	return nil
}

// inheritTags returns the new session's tags: the request's, plus the
// caller's transitive session tags (role chaining), which the request
// cannot override.
func (h *handler) inheritTags(caller world.Identity, st sessionTags) map[string]string {
	out := map[string]string{}
	for k, v := range st.tags {
		out[k] = v
	}
	for _, k := range caller.TransitiveTagKeys {
		for ck, v := range caller.Tags {
			if strings.EqualFold(ck, k) {
				for ok := range out {
					if strings.EqualFold(ok, k) {
						delete(out, ok)
					}
				}
				out[ck] = v
			}
		}
	}
	return out
}

// transitiveKeys are the new session's transitive tag keys: the caller's
// and the request's.
func transitiveKeys(caller world.Identity, st sessionTags) []string {
	out := append([]string(nil), caller.TransitiveTagKeys...)
	for _, k := range st.transitive {
		dup := false
		for _, o := range out {
			dup = dup || strings.EqualFold(o, k)
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}
