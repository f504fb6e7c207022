package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/jitssh/jitssh/internal/awsapi"
)

// tlsAdvice explains a TLS certificate jitssh did not accept (API calls,
// the data channel, EICE tunnels), on a line of its own; "" for other
// errors. An unknown authority is, behind a corporate network, usually
// TLS inspection: its CA must be named, never verification turned off.
func tlsAdvice(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		unknownP *x509.UnknownAuthorityError
		host     x509.HostnameError
		hostP    *x509.HostnameError
		invalid  x509.CertificateInvalidError
		invalidP *x509.CertificateInvalidError
	)
	where := "the server"
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			where = "https://" + u.Host
		}
	}
	switch {
	case errors.As(err, &unknown), errors.As(err, &unknownP):
		return fmt.Sprintf("\n  the certificate of %s is not trusted: set AWS_CA_BUNDLE or ca_bundle in your AWS profile to your organisation's CA (TLS inspection), in PEM", where)
	case errors.As(err, &host), errors.As(err, &hostP):
		return fmt.Sprintf("\n  the certificate of %s is for another host name: check AWS_ENDPOINT_URL*, endpoint_url in your AWS profile and HTTPS_PROXY", where)
	case errors.As(err, &invalid), errors.As(err, &invalidP):
		return fmt.Sprintf("\n  the certificate of %s is not valid (expired, not yet valid or not for a server): check this machine's clock, else the server's certificate", where)
	}
	return ""
}

// proxyAdvice explains a proxy (HTTPS_PROXY, HTTP_PROXY) that could not
// be used, on a line of its own; "" for other errors. awsapi types the
// failures of its connections (*awsapi.ProxyError, naming the proxy);
// net/http's own errors (a "proxyconnect" error, a refused CONNECT's
// status text) are worded without the proxy's URL.
func proxyAdvice(err error) string {
	var (
		pe *awsapi.ProxyError
		op *net.OpError
		ue *url.Error
	)
	switch {
	case errors.As(err, &pe) && pe.Unreachable():
		return fmt.Sprintf("\n  %s names the proxy %s, which could not be reached: check that a proxy listens at that address and port, or list the hosts to reach directly in NO_PROXY", pe.Variable, pe.Proxy)
	case errors.As(err, &pe) && pe.Status == http.StatusProxyAuthRequired:
		return fmt.Sprintf("\n  the proxy %s (%s) refused its credentials: put the user and password in the proxy URL, http://USER:PASSWORD@HOST:PORT (percent-encoded)", pe.Proxy, pe.Variable)
	case errors.As(err, &pe):
		return fmt.Sprintf("\n  the proxy %s (%s) refused the connection to %s: ask its administrators to allow that host, or list it in NO_PROXY to reach it directly", pe.Proxy, pe.Variable, pe.Target)
	case errors.As(err, &op) && op.Op == "proxyconnect":
		return "\n  the proxy of HTTPS_PROXY (HTTP_PROXY for http://) could not be reached: check its address, or list the hosts to reach directly in NO_PROXY"
	case errors.As(err, &ue) && ue.Err != nil && ue.Err.Error() == "Proxy Authentication Required":
		return "\n  the proxy refused its credentials: put the user and password in the proxy URL, http://USER:PASSWORD@HOST:PORT (percent-encoded)"
	}
	return ""
}
