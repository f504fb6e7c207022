package apis

import (
	"encoding/xml"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
)

// getCallerIdentityResponse is STS GetCallerIdentity's XML response.
type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

// getCallerIdentity serves sts:GetCallerIdentity: who signed the request.
func (h *handler) getCallerIdentity(c *call) (any, error) {
	resp := &getCallerIdentityResponse{Xmlns: awsproto.STSNamespace, RequestID: c.reqID}
	resp.Result.Arn = c.id.ARN
	resp.Result.UserID = c.id.UserID
	if resp.Result.UserID == "" {
		resp.Result.UserID = c.id.AccessKeyID
	}
	resp.Result.Account = h.world.Account
	return resp, nil
}
