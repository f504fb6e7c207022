package apis

import (
	"encoding/xml"
	"errors"
	"net/http"
	"slices"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/iam"
	"github.com/jitssh/jitssh/internal/sandbox/oidc"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
)

// assumeRoleWithWebIdentityResponse is the XML response of STS
// AssumeRoleWithWebIdentity.
type assumeRoleWithWebIdentityResponse struct {
	XMLName xml.Name `xml:"AssumeRoleWithWebIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		SubjectFromWebIdentityToken string             `xml:"SubjectFromWebIdentityToken"`
		Audience                    string             `xml:"Audience"`
		AssumedRoleUser             assumedRoleUserXML `xml:"AssumedRoleUser"`
		Credentials                 credentialsXML     `xml:"Credentials"`
		Provider                    string             `xml:"Provider"`
		tokenSize
	} `xml:"AssumeRoleWithWebIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func (r *assumeRoleWithWebIdentityResponse) trailElements() any {
	return map[string]any{
		"credentials":                 trailCredentials(r.Result.Credentials),
		"assumedRoleUser":             map[string]string{"assumedRoleId": r.Result.AssumedRoleUser.AssumedRoleID, "arn": r.Result.AssumedRoleUser.Arn},
		"subjectFromWebIdentityToken": r.Result.SubjectFromWebIdentityToken,
		"audience":                    r.Result.Audience,
		"provider":                    r.Result.Provider,
	}
}

const invalidIdentityToken = "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request."

// assumeRoleWithWebIdentity serves sts:AssumeRoleWithWebIdentity, which
// is not signed: the token of the sandbox's OIDC issuer (Options.OIDC)
// authenticates the caller, and the role's trust policy must allow the
// issuer's IAM provider (Federated) with its conditions on
// PROVIDER:aud and PROVIDER:sub.
func (h *handler) assumeRoleWithWebIdentity(c *call) (any, error) {
	f := c.form
	roleARN, err := stringParam(f, "RoleArn", "roleArn", true, 20, 2048, nil, "")
	if err != nil {
		return nil, err
	}
	sessionName, err := stringParam(f, "RoleSessionName", "roleSessionName", true, 2, 64, sessionNameRE, `[\w+=,.@-]*`)
	if err != nil {
		return nil, err
	}
	token, err := stringParam(f, "WebIdentityToken", "webIdentityToken", true, 4, oidc.MaxTokenBytes, nil, "")
	if err != nil {
		return nil, err
	}
	d, err := durationParam(f, 3600, 900, 43200)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"ProviderId", "Policy", "PolicyArns.member.1.arn"} {
		if _, ok := f[p]; ok {
			return nil, awsproto.Errorf("ValidationError", "The sandbox does not model %s for AssumeRoleWithWebIdentity: leave it out of the request.", p)
		}
	}
	claims, err := h.verifyWebIdentity(token)
	if err != nil {
		return nil, err
	}
	is := h.opts.OIDC
	c.webUser = &trail.UserIdentity{Type: "WebIdentityUser", PrincipalID: is.ProviderID() + ":" + claims.Audience + ":" + claims.Subject, UserName: claims.Subject}
	provider := is.ProviderARN(h.world.Account)
	keys := map[string][]string{
		is.ProviderID() + ":aud": {claims.Audience},
		is.ProviderID() + ":sub": {claims.Subject},
		"aws:FederatedProvider":  {provider},
		"sts:RoleSessionName":    {sessionName},
	}
	now := h.world.Now()
	req := iam.TrustRequest{Request: iam.Request{Action: "sts:AssumeRoleWithWebIdentity", Resource: roleARN, Context: keys, Time: now}, Federated: provider}
	role, ok := h.world.RoleByARN(roleARN)
	res := iam.Result{Decision: iam.NoTrustAllow}
	if ok {
		res = iam.EvaluateTrust(req, role.Trust)
	}
	c.authz = append(c.authz, authzRecord{Action: req.Action + " (trust)", Resource: roleARN, Decision: res.Decision.String(), Sid: res.Sid})
	if !res.Allowed() {
		return nil, &awsproto.Error{Code: "AccessDenied", Message: res.TrustMessage(req, roleARN), Status: http.StatusForbidden}
	}
	if d > role.MaxSession {
		return nil, awsproto.Errorf("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	sess := h.world.RoleSession(role, sessionName, nil)
	creds := h.world.IssueSession(sess, d)
	resp := &assumeRoleWithWebIdentityResponse{Xmlns: awsproto.STSNamespace, RequestID: c.reqID}
	resp.Result.SubjectFromWebIdentityToken = claims.Subject
	resp.Result.Audience = claims.Audience
	resp.Result.AssumedRoleUser = assumedRoleUserXML{AssumedRoleID: sess.UserID, Arn: sess.ARN}
	resp.Result.Credentials = credsXML(creds)
	resp.Result.Provider = is.ProviderID()
	resp.Result.tokenSize = sizeOf(creds.SessionToken)
	return resp, nil
}

// verifyWebIdentity checks a token against the sandbox's issuer, the one
// OIDC provider of the account, and its client ids (audiences), and maps
// failures to STS's errors.
func (h *handler) verifyWebIdentity(token string) (oidc.Claims, error) {
	is := h.opts.OIDC
	_, _, claims, err := oidc.Parse(token)
	if err != nil {
		return claims, awsproto.Errorf("InvalidIdentityToken", "%s", invalidIdentityToken)
	}
	if is == nil || claims.Issuer != is.URL {
		return claims, awsproto.Errorf("InvalidIdentityToken", "No OpenIDConnect provider found in your account for %s", claims.Issuer)
	}
	claims, err = is.Verify(token)
	var ee *oidc.ExpiredError
	switch {
	case errors.As(err, &ee):
		return claims, awsproto.Errorf("ExpiredTokenException", "%s", ee.Error())
	case err != nil:
		return claims, awsproto.Errorf("InvalidIdentityToken", "%s", invalidIdentityToken)
	}
	auds := h.opts.OIDCAudiences
	if auds == nil {
		auds = []string{oidc.DefaultAudience}
	}
	if !slices.Contains(auds, claims.Audience) {
		return claims, awsproto.Errorf("InvalidIdentityToken", "Incorrect token audience")
	}
	if claims.Subject == "" {
		return claims, awsproto.Errorf("IDPRejectedClaim", "The identity provider (IdP) reported that authentication failed. This might be because the claim is invalid.")
	}
	return claims, nil
}
