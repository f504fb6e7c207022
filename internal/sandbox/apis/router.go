package apis

import (
	"context"
	"net/http"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// NewRouter returns the http.Handler serving the sandbox's AWS APIs for a
// whole organization behind one URL: each request goes to the handler of
// one (account, region) world, the account being the one whose IAM knows
// the signing access key and the region the SigV4 credential scope's, as
// on AWS (one key works in every region of its account; an instance in
// us-west-2 is invisible to a us-east-1 call). This is the one dispatch
// point: a new service's operations are handler methods and find their
// world in h.world (its account's other worlds through h.org).
//
// A request signed for a region the account has not enabled (an opt-in
// region, world.OrgAccount.Disabled) fails as AWS fails it: the service's
// unrecognised-credentials error (EC2 AuthFailure, STS
// InvalidClientTokenId, JSON services UnrecognizedClientException). An
// unknown key, an unsigned request and a region the organization does not
// simulate go to the management account's home world, which answers them
// as the single-account sandbox does.
func NewRouter(org *world.Org, opts Options) http.Handler {
	rt := &router{org: org, byWorld: map[*world.World]*handler{}}
	mgmt, _ := org.Account(org.Management)
	for _, a := range org.Accounts() {
		for _, w := range a.Regions {
			o := opts
			if w != mgmt.Home {
				// Regional services' state is the world's own: options
				// holding one are the management account's home world's;
				// newHandler makes the others theirs (Logs), or they have
				// none (KMS: the configuration's keys are the management
				// account's, in its home region).
				o.Logs, o.KMS = nil, nil
			}
			h := newHandler(w, o)
			h.org, h.acct = org, a
			rt.byWorld[w] = h
		}
	}
	rt.def = rt.byWorld[mgmt.Home]
	return rt
}

type router struct {
	org     *world.Org
	byWorld map[*world.World]*handler
	def     *handler
}

// disabledRegionKey marks a request signed for a region its account has
// not enabled (the value is the region).
type disabledRegionKey struct{}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	akid, region := signingScope(r)
	if akid == "" {
		rt.def.ServeHTTP(w, r)
		return
	}
	a, ok := rt.org.ByAccessKey(akid)
	if !ok {
		rt.def.ServeHTTP(w, r)
		return
	}
	if rw, ok := a.Regions[region]; ok {
		rt.byWorld[rw].ServeHTTP(w, r)
		return
	}
	if a.RegionDisabled(region) {
		r = r.WithContext(context.WithValue(r.Context(), disabledRegionKey{}, region))
	}
	rt.byWorld[a.Home].ServeHTTP(w, r)
}

// signingScope returns the access key id and region of r's SigV4
// credential scope (Authorization header or presigned X-Amz-Credential),
// without verifying anything; "" when absent or malformed.
func signingScope(r *http.Request) (akid, region string) {
	cred := ""
	if h := r.Header.Get("Authorization"); h != "" {
		_, rest, ok := strings.Cut(h, "Credential=")
		if !ok {
			return "", ""
		}
		cred, _, _ = strings.Cut(rest, ",")
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	f := strings.Split(strings.TrimSpace(cred), "/")
	if len(f) != 5 {
		return "", ""
	}
	return f[0], f[2]
}

// disabledRegion returns the error of a call signed for a region its
// account has not enabled, nil for any other call.
func disabledRegion(c *call) error {
	if _, ok := c.r.Context().Value(disabledRegionKey{}).(string); !ok {
		return nil
	}
	return c.proto.AuthError(&awsproto.AuthError{Kind: awsproto.AuthUnknownKey})
}
