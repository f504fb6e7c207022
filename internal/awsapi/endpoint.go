package awsapi

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// stsEndpoint is the base endpoint (AWS_ENDPOINT_URL, endpoint_url) of
// the configuration being loaded, for the STS clients of credential
// providers. The SDK builds those clients before it resolves the base
// endpoint (config's resolvers run resolveCredentials before
// resolveBaseEndpoint), so without this a role or web identity profile
// would send AssumeRole to AWS's public STS endpoint while every other
// call goes to AWS_ENDPOINT_URL (a proxy, a VPC endpoint, the sandbox).
// It is set once the configuration is loaded; the providers call STS
// lazily, after that.
type stsEndpoint struct{ v atomic.Pointer[string] }

func (e *stsEndpoint) set(v *string) {
	if v != nil {
		e.v.Store(v)
	}
}

// option sets the endpoint on an STS call whose client has none (a
// service-specific AWS_ENDPOINT_URL_STS is already there).
func (e *stsEndpoint) option() func(*sts.Options) {
	return func(o *sts.Options) {
		if o.BaseEndpoint == nil {
			o.BaseEndpoint = e.v.Load()
		}
	}
}

// webIdentityOptions routes AssumeRoleWithWebIdentity (web_identity_token_file
// profiles, AWS_WEB_IDENTITY_TOKEN_FILE) to the configured endpoint.
func webIdentityOptions(ep *stsEndpoint) config.LoadOptionsFunc {
	return config.WithWebIdentityRoleCredentialOptions(func(o *stscreds.WebIdentityRoleOptions) {
		if _, done := o.Client.(*webIdentityClient); !done && o.Client != nil {
			o.Client = &webIdentityClient{inner: o.Client, ep: ep}
		}
	})
}

type webIdentityClient struct {
	inner stscreds.AssumeRoleWithWebIdentityAPIClient
	ep    *stsEndpoint
}

func (c *webIdentityClient) AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	return c.inner.AssumeRoleWithWebIdentity(ctx, in, append(optFns, c.ep.option())...)
}
