// Package eice is the client side of EC2 Instance Connect Endpoint (EICE)
// tunnels: choosing an endpoint for an instance, building and
// SigV4-presigning the OpenTunnel websocket URL exactly as the AWS CLI does,
// and speaking the websocket as a raw byte pipe to a port of the instance.
//
// It imports no AWS service package: the caller (internal/connect, with
// internal/awsapi) lists the endpoints and supplies credentials, region
// and the SDK's custom endpoint for the ec2-instance-connect service, if
// one is configured.
//
// Facts followed here are in the design notes, eic-spec.md §3.2–3.4: the
// discovery rule (same subnet first, else first in the VPC), the URL
// (/openTunnel with instanceConnectEndpointId, remotePort,
// privateIpAddress and maxTunnelDuration), presigning (service
// ec2-instance-connect, X-Amz-Expires=60, payload hash = SHA-256 of the
// empty string, signed header host) and the framing (binary frames of at
// most 65,000 bytes from the client, one at a time; a text frame or a
// close code other than 1000 from the server is an error).
package eice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigningName is the SigV4 service name of OpenTunnel.
const SigningName = "ec2-instance-connect"

// PresignExpiry is how long a presigned OpenTunnel URL is valid, as the
// AWS CLI asks; the service accepts at most 60 seconds.
const PresignExpiry = 60 * time.Second

// EmptyPayloadHash is the SHA-256 of the empty string: the payload hash
// the AWS CLI signs OpenTunnel URLs with (not UNSIGNED-PAYLOAD).
const EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// MaxFrame is the largest binary frame the client sends.
const MaxFrame = 65000

// MaxTunnelDuration is the longest tunnel the service allows, in seconds.
const MaxTunnelDuration = 3600

// UsableStates are the endpoint states the AWS CLI connects through.
var UsableStates = []string{"create-complete", "update-in-progress", "update-failed", "update-complete"}

// Endpoint is an EC2 Instance Connect Endpoint as discovery needs it.
type Endpoint struct {
	ID       string
	DNSName  string
	FIPSName string
	VpcID    string
	SubnetID string
	State    string
}

// Usable reports whether the AWS CLI would connect through an endpoint in
// this state.
func Usable(state string) bool {
	for _, s := range UsableStates {
		if s == state {
			return true
		}
	}
	return false
}

// ErrNoEndpoint is returned by Choose when no usable endpoint is in the
// instance's VPC.
var ErrNoEndpoint = errors.New("no available EC2 Instance Connect Endpoint in the instance's VPC")

// Choose applies the AWS CLI's discovery rule to endpoints listed (in the
// order the API returned them) for the instance's VPC: the first usable
// endpoint in the instance's subnet, else the first usable one in the VPC.
func Choose(endpoints []Endpoint, vpcID, subnetID string) (Endpoint, error) {
	var first *Endpoint
	for i := range endpoints {
		e := &endpoints[i]
		if e.VpcID != vpcID || !Usable(e.State) {
			continue
		}
		if e.SubnetID == subnetID {
			return *e, nil
		}
		if first == nil {
			first = e
		}
	}
	if first == nil {
		return Endpoint{}, fmt.Errorf("%w (%s)", ErrNoEndpoint, vpcID)
	}
	return *first, nil
}

// Target is where a tunnel leads.
type Target struct {
	PrivateIP  string
	RemotePort int
	// MaxDuration is maxTunnelDuration in seconds (1..3600); 0 leaves it
	// out (the service's default, 3600).
	MaxDuration int
}

// URL returns the unsigned OpenTunnel URL for target through endpoint.
// base is the SDK's custom endpoint for ec2-instance-connect (from
// AWS_ENDPOINT_URL_EC2_INSTANCE_CONNECT, AWS_ENDPOINT_URL or the profile),
// "" for none: with a custom endpoint the tunnel goes to its host and port
// (http becomes ws, https wss); otherwise to wss://<endpoint DNS name>.
func URL(base string, ep Endpoint, t Target) (*url.URL, error) {
	if ep.ID == "" {
		return nil, errors.New("EC2 Instance Connect Endpoint id is empty")
	}
	if t.PrivateIP == "" {
		return nil, errors.New("the instance has no private IP address to tunnel to")
	}
	if t.RemotePort < 1 || t.RemotePort > 65535 {
		return nil, fmt.Errorf("remote port %d out of range", t.RemotePort)
	}
	if t.MaxDuration < 0 || t.MaxDuration > MaxTunnelDuration {
		return nil, fmt.Errorf("max tunnel duration %d s out of range 1-%d", t.MaxDuration, MaxTunnelDuration)
	}
	u := &url.URL{Path: "/openTunnel"}
	if base != "" {
		b, err := url.Parse(base)
		if err != nil || b.Host == "" {
			return nil, fmt.Errorf("custom ec2-instance-connect endpoint %q is not a URL", base)
		}
		switch b.Scheme {
		case "http", "ws":
			u.Scheme = "ws"
		case "https", "wss":
			u.Scheme = "wss"
		default:
			return nil, fmt.Errorf("custom ec2-instance-connect endpoint %q: scheme must be http or https", base)
		}
		u.Host = b.Host
	} else {
		if ep.DNSName == "" {
			return nil, fmt.Errorf("EC2 Instance Connect Endpoint %s has no DNS name (is it still being created?)", ep.ID)
		}
		u.Scheme, u.Host = "wss", ep.DNSName
	}
	// Written in the CLI's order; SigV4 sorts the canonical query anyway.
	q := "instanceConnectEndpointId=" + url.QueryEscape(ep.ID) +
		"&remotePort=" + strconv.Itoa(t.RemotePort) +
		"&privateIpAddress=" + url.QueryEscape(t.PrivateIP)
	if t.MaxDuration > 0 {
		q += "&maxTunnelDuration=" + strconv.Itoa(t.MaxDuration)
	}
	u.RawQuery = q
	return u, nil
}

// Presign adds SigV4 query authentication to an OpenTunnel URL, valid for
// PresignExpiry from now: X-Amz-Algorithm, -Credential, -Date, -Expires,
// -SignedHeaders (host: the host and port actually dialled),
// -Security-Token with session credentials, and -Signature.
func Presign(ctx context.Context, creds aws.Credentials, region string, u *url.URL, now time.Time) (string, error) {
	if region == "" {
		return "", errors.New("presign OpenTunnel: no region")
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", fmt.Errorf("presign OpenTunnel: scheme %q is not ws or wss", u.Scheme)
	}
	su := *u
	q := su.RawQuery
	if q != "" {
		q += "&"
	}
	su.RawQuery = q + "X-Amz-Expires=" + strconv.Itoa(int(PresignExpiry/time.Second))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, su.String(), nil)
	if err != nil {
		return "", fmt.Errorf("presign OpenTunnel: %w", err)
	}
	signed, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, EmptyPayloadHash, SigningName, region, now.UTC())
	if err != nil {
		return "", fmt.Errorf("presign OpenTunnel: %w", err)
	}
	if !strings.Contains(signed, "X-Amz-Signature=") {
		return "", errors.New("presign OpenTunnel: the signer produced no signature")
	}
	return signed, nil
}
