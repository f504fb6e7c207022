package awsapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// The network settings jitssh's own connections share with the SDK's: the
// SSM data channel and EICE tunnels are websockets the SDK does not make,
// so they are dialled with an HTTP client built from the SDK's (the CA
// bundle of AWS_CA_BUNDLE or the profile's ca_bundle, HTTPS_PROXY,
// HTTP_PROXY and NO_PROXY), and the data channel's stream URL honours the
// ssmmessages endpoint override.

// HTTPClient is the client for jitssh's connections besides the SDK's API
// calls (the data channel's and EICE's websockets): the same trusted
// roots and proxy as the API calls. Nil for a Client not made by New.
func (c *Client) HTTPClient() *http.Client { return c.http }

// SSMMessagesService is the SDK service ID of the SSM data channel's
// service: AWS_ENDPOINT_URL_SSMMESSAGES, or `ssmmessages = endpoint_url
// = …` in a profile's services section, overrides its endpoint.
const SSMMessagesService = "ssmmessages"

// serviceEndpoint returns the endpoint configured for the service sdkID
// in the SDK's configuration sources (the environment's
// AWS_ENDPOINT_URL_<ID>, then the profile's services section), as the
// SDK's own service clients resolve it; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
// turns it off. The global AWS_ENDPOINT_URL is not used: the stream URL
// is the service's answer, only a service-specific setting replaces it.
func serviceEndpoint(ctx context.Context, sdkID string, sources []any) (string, error) {
	type ignorer interface {
		GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error)
	}
	type provider interface {
		GetServiceBaseEndpoint(context.Context, string) (string, bool, error)
	}
	for _, s := range sources {
		if p, ok := s.(ignorer); ok {
			if v, found, _ := p.GetIgnoreConfiguredEndpoints(ctx); found {
				if v {
					return "", nil
				}
				break
			}
		}
	}
	for _, s := range sources {
		if p, ok := s.(provider); ok {
			v, found, err := p.GetServiceBaseEndpoint(ctx, sdkID)
			if err != nil {
				return "", fmt.Errorf("the %s endpoint setting: %w", sdkID, err)
			}
			if found {
				return v, nil
			}
		}
	}
	return "", nil
}

// EndpointError is an endpoint setting that is not an http(s) URL.
type EndpointError struct {
	Service string
	Value   string
	Reason  string
}

func (e *EndpointError) Error() string {
	return fmt.Sprintf("the configured %s endpoint %q is not usable: %s", e.Service, e.Value, e.Reason)
}

// parseEndpoint checks an endpoint override: an absolute https:// (or
// http://) URL with a host and at most a path of "/".
func parseEndpoint(service, v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil {
		return nil, &EndpointError{Service: service, Value: v, Reason: "not a URL"}
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, &EndpointError{Service: service, Value: v, Reason: "not an https:// URL"}
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, &EndpointError{Service: service, Value: v, Reason: "no host name"}
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return nil, &EndpointError{Service: service, Value: v, Reason: "only a scheme, host and port may be given"}
	}
	return u, nil
}

// RewriteStreamURL returns the data channel's stream URL (from
// StartSession or ResumeSession) with its scheme, host and port replaced
// by the ssmmessages endpoint override ep (https → wss, http → ws),
// keeping its path and query (the session ID and role); ep "" leaves it
// as the service returned it. This is how a PrivateLink (VPC) endpoint
// without private DNS, or a FIPS endpoint, is reached: the service always
// answers with its public regional host name.
func RewriteStreamURL(streamURL, ep string) (string, error) {
	if ep == "" {
		return streamURL, nil
	}
	e, err := parseEndpoint(SSMMessagesService, ep)
	if err != nil {
		return "", err
	}
	s, err := url.Parse(streamURL)
	if err != nil || (s.Scheme != "wss" && s.Scheme != "ws") {
		return "", fmt.Errorf("the data channel's stream URL %q from SSM is not a websocket URL", streamURL)
	}
	s.Scheme = map[string]string{"https": "wss", "http": "ws"}[e.Scheme]
	s.Host = e.Host
	return s.String(), nil
}

// notRetryable tells the SDK's retryer that a refused server certificate
// or a proxy that could not be used is final: the SDK retries every
// failed send, and trying again only delays the explanation by the whole
// retry budget (6 attempts with backoff: about 18 s).
var notRetryable = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	if IsConfigurationError(err) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
})

// IsConfigurationError reports whether err is a TLS certificate that was
// not accepted or a proxy that could not be used (not reached, or it
// refused its credentials): failures that only a change of configuration
// (CA bundle, proxy URL) or of the network cures, which retrying only
// delays.
func IsConfigurationError(err error) bool {
	var (
		verify *tls.CertificateVerificationError
		ca     x509.UnknownAuthorityError
		host   x509.HostnameError
		inv    x509.CertificateInvalidError
		ue     *url.Error
		pe     *ProxyError
		op     *net.OpError
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &ca), errors.As(err, &host), errors.As(err, &inv):
		return true
	case errors.As(err, &pe), errors.As(err, &op) && op.Op == "proxyconnect":
		return true
	case errors.As(err, &ue) && ue.Err != nil && ue.Err.Error() == "Proxy Authentication Required":
		return true
	}
	return false
}
