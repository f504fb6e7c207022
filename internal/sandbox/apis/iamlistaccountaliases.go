package apis

import (
	"encoding/xml"
	"strconv"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
)

type listAccountAliasesResponse struct {
	XMLName xml.Name `xml:"ListAccountAliasesResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		IsTruncated bool `xml:"IsTruncated"`
		// Aliases is always present, empty for an account without one,
		// as IAM answers.
		Aliases struct {
			Members []string `xml:"member"`
		} `xml:"AccountAliases"`
	} `xml:"ListAccountAliasesResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

// listAccountAliases serves iam:ListAccountAliases: the caller's
// account's alias (world.Config.AccountAlias; IAM allows one an account),
// or none. IAM is global: any region's endpoint answers for the account.
// The action has no resource-level permissions (resource "*"). MaxItems
// is checked as IAM checks it (1 to 1000); one alias never needs a
// Marker, so a Marker is one IAM never issued.
func (h *handler) listAccountAliases(c *call) (any, error) {
	if s := formPtr(c, "MaxItems"); s != nil {
		n, err := strconv.Atoi(*s)
		if err != nil || n < 1 || n > 1000 {
			return nil, awsproto.Errorf("ValidationError", "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", *s)
		}
	}
	if err := h.authorize(c, "iam:ListAccountAliases", "*", nil); err != nil {
		return nil, err
	}
	if s := formPtr(c, "Marker"); s != nil {
		return nil, awsproto.Errorf("InvalidInput", "Invalid Marker.")
	}
	resp := &listAccountAliasesResponse{Xmlns: IAMNamespace, RequestID: c.reqID}
	if a := h.world.AccountAlias(); a != "" {
		resp.Result.Aliases.Members = []string{a}
	}
	return resp, nil
}
