package apis

import (
	"encoding/xml"
	"net/http"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
)

// getSessionTokenResponse is STS GetSessionToken's XML response.
type getSessionTokenResponse struct {
	XMLName xml.Name `xml:"GetSessionTokenResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials credentialsXML `xml:"Credentials"`
	} `xml:"GetSessionTokenResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func (r *getSessionTokenResponse) trailElements() any {
	return map[string]any{"credentials": trailCredentials(r.Result.Credentials)}
}

// getSessionToken serves sts:GetSessionToken: temporary credentials of
// the calling IAM user, with MFA when SerialNumber and TokenCode are
// given. As on AWS it needs no permission, and session credentials
// (role sessions included) cannot call it.
func (h *handler) getSessionToken(c *call) (any, error) {
	if c.id.Temporary() || c.id.RoleSession() {
		return nil, &awsproto.Error{Code: "AccessDenied", Message: "Cannot call GetSessionToken with session credentials", Status: http.StatusForbidden}
	}
	d, err := durationParam(c.form, 43200, 900, 129600)
	if err != nil {
		return nil, err
	}
	mfa, err := h.checkMFA(c)
	if err != nil {
		return nil, err
	}
	sess := c.id
	sess.MFAAuthTime = time.Time{}
	if mfa {
		sess.MFAAuthTime = h.world.Now()
	}
	creds := h.world.IssueSession(sess, d)
	resp := &getSessionTokenResponse{Xmlns: awsproto.STSNamespace, RequestID: c.reqID}
	resp.Result.Credentials = credsXML(creds)
	return resp, nil
}
