package awsapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// ProxyError is a proxy jitssh's connections were to go through
// (HTTPS_PROXY for https:// and wss://, HTTP_PROXY for http:// and ws://)
// that could not be used: it could not be reached, or it refused the
// connection (407: the credentials of its URL). It is final: trying again
// only delays the explanation (the SDK retried an unreachable proxy for
// about 15 s).
type ProxyError struct {
	// Proxy is the proxy's URL with its password redacted.
	Proxy string
	// Variable names the environment variable that selects a proxy for
	// the connection's scheme: HTTPS_PROXY or HTTP_PROXY.
	Variable string
	// Target is the host:port the connection was for.
	Target string
	// Status is the proxy's answer (407 for refused credentials); 0 when
	// the proxy could not be reached.
	Status int
	Err    error
}

func (e *ProxyError) Error() string {
	switch e.Status {
	case 0:
		return fmt.Sprintf("the proxy %s could not be reached: %v", e.Proxy, e.Err)
	case http.StatusProxyAuthRequired:
		return fmt.Sprintf("the proxy %s refused its credentials for %s (407 Proxy Authentication Required)", e.Proxy, e.Target)
	}
	return fmt.Sprintf("the proxy %s refused the connection to %s: %v", e.Proxy, e.Target, e.Err)
}

func (e *ProxyError) Unwrap() error { return e.Err }

// Unreachable reports whether the proxy could not be reached at all (no
// answer to give).
func (e *ProxyError) Unreachable() bool { return e.Status == 0 }

// newProxyError describes proxy p failing a connection to target over
// scheme (the request's: http, https, ws, wss).
func newProxyError(p *url.URL, scheme, target string, status int, err error) *ProxyError {
	v := "HTTPS_PROXY"
	if scheme == "http" || scheme == "ws" {
		v = "HTTP_PROXY"
	}
	return &ProxyError{Proxy: p.Redacted(), Variable: v, Target: target, Status: status, Err: err}
}

// proxyConnectResponse is the transports' http.Transport.OnProxyConnectResponse:
// a CONNECT the proxy did not answer 200 is a *ProxyError (net/http's own
// error is only the status text).
func proxyConnectResponse(_ context.Context, proxy *url.URL, connect *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	// CONNECT is for https:// and wss:// only.
	return newProxyError(proxy, "https", connect.Host, resp.StatusCode, errors.New(resp.Status))
}

// proxyErrors is the SDK's HTTP client for API calls with a proxy that
// could not be used reported as a *ProxyError. A proxy net/http could not
// reach is a "proxyconnect" *net.OpError that names no proxy; a
// plain-HTTP proxy (http:// targets, no CONNECT) refuses credentials with
// a 407 response. (The websockets' client is a bare *http.Transport, which
// the data channel clones to batch its writes: it has the CONNECT
// refusals typed, proxyConnectResponse, and the rest is worded from
// net/http's errors.)
type proxyErrors struct {
	sdk   aws.HTTPClient
	proxy func(*http.Request) (*url.URL, error)
}

func (p *proxyErrors) Do(r *http.Request) (*http.Response, error) {
	resp, err := p.sdk.Do(r)
	if resp, perr := p.typed(r, resp, err); perr != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.Err = perr
			return nil, ue
		}
		return resp, &url.Error{Op: urlOp(r.Method), URL: r.URL.String(), Err: perr}
	}
	return resp, err
}

// urlOp is net/http's url.Error Op for a method ("Get", "Post").
func urlOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// typed returns the *ProxyError that resp or err of request r stand for,
// or nil; a 407 response is closed.
func (p *proxyErrors) typed(r *http.Request, resp *http.Response, err error) (*http.Response, *ProxyError) {
	if p.proxy == nil {
		return resp, nil
	}
	var (
		op *net.OpError
		pe *ProxyError
	)
	switch {
	case err != nil && !errors.As(err, &pe) && errors.As(err, &op) && op.Op == "proxyconnect":
		if u, _ := p.proxy(r); u != nil {
			return nil, newProxyError(u, r.URL.Scheme, canonicalHost(r.URL), 0, op)
		}
	case err == nil && resp != nil && resp.StatusCode == http.StatusProxyAuthRequired:
		if u, _ := p.proxy(r); u != nil {
			resp.Body.Close()
			return nil, newProxyError(u, r.URL.Scheme, canonicalHost(r.URL), resp.StatusCode, errors.New(resp.Status))
		}
	}
	return resp, nil
}

// canonicalHost is u's host:port, with the scheme's default port.
func canonicalHost(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" || u.Scheme == "wss" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// sdkHTTPClient is the HTTP client configuration loads with: the SDK's
// default, with CONNECT refusals typed (proxyConnectResponse). Loading
// adds the CA bundle to it.
func sdkHTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.OnProxyConnectResponse = proxyConnectResponse
	})
}

// networkClients returns, from the loaded SDK client c, the client for
// API calls and the one for the websockets: the same transport
// configuration (CA bundle, proxy selection), proxy failures typed.
func networkClients(c aws.HTTPClient) (aws.HTTPClient, *http.Client) {
	b, ok := c.(*awshttp.BuildableClient)
	if !ok {
		if hc, ok := c.(*http.Client); ok {
			return c, hc
		}
		b = sdkHTTPClient()
	}
	tr := b.GetTransport()
	return &proxyErrors{sdk: b, proxy: tr.Proxy}, &http.Client{Transport: tr}
}
