package eice

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The AWS CLI's functional-test vector for its EICE signer (eic-spec.md
// §3.4), recomputed and confirmed there.
func TestPresignMatchesCLITestVector(t *testing.T) {
	u, err := URL("", Endpoint{ID: "eice-123", DNSName: "eice-123.ec2-instance-connect-endpoint.us-west-2.amazonaws.com"},
		Target{PrivateIP: "10.0.0.0", RemotePort: 22, MaxDuration: 1})
	if err != nil {
		t.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: "access_key", SecretAccessKey: "secret_key"}
	now := time.Date(2020, 1, 1, 1, 1, 1, 0, time.UTC)
	signed, err := Presign(context.Background(), creds, "us-west-2", u, now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	want := map[string]string{
		"X-Amz-Signature":           "3a56740422a5b9aebd22d860b7a30c729e459a6f71a83bc0de3a2b44b7353f28",
		"X-Amz-Algorithm":           "AWS4-HMAC-SHA256",
		"X-Amz-Credential":          "access_key/20200101/us-west-2/ec2-instance-connect/aws4_request",
		"X-Amz-Date":                "20200101T010101Z",
		"X-Amz-Expires":             "60",
		"X-Amz-SignedHeaders":       "host",
		"instanceConnectEndpointId": "eice-123",
		"remotePort":                "22",
		"privateIpAddress":          "10.0.0.0",
		"maxTunnelDuration":         "1",
	}
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("%s = %q, want %q\nURL: %s", k, got, v, signed)
		}
	}
	if q.Has("X-Amz-Security-Token") {
		t.Error("a security token without session credentials")
	}
	if p.Scheme != "wss" || p.Host != "eice-123.ec2-instance-connect-endpoint.us-west-2.amazonaws.com" || p.Path != "/openTunnel" {
		t.Errorf("URL = %s", signed)
	}
	// Session credentials: the token is signed in, so the signature differs.
	creds.SessionToken = "tok"
	signed2, err := Presign(context.Background(), creds, "us-west-2", u, now)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := url.Parse(signed2)
	if p2.Query().Get("X-Amz-Security-Token") != "tok" || p2.Query().Get("X-Amz-Signature") == want["X-Amz-Signature"] {
		t.Errorf("with a session token: %s", signed2)
	}
}

func TestURLCustomEndpoint(t *testing.T) {
	ep := Endpoint{ID: "eice-0a1b2c3d4e5f60001", DNSName: "eice-0a1b2c3d4e5f60001.abc.ec2-instance-connect-endpoint.us-east-1.amazonaws.com"}
	tg := Target{PrivateIP: "10.0.2.15", RemotePort: 22}
	for base, want := range map[string]string{
		"":                       "wss://eice-0a1b2c3d4e5f60001.abc.ec2-instance-connect-endpoint.us-east-1.amazonaws.com/openTunnel?instanceConnectEndpointId=eice-0a1b2c3d4e5f60001&remotePort=22&privateIpAddress=10.0.2.15",
		"http://127.0.0.1:4566":  "ws://127.0.0.1:4566/openTunnel?instanceConnectEndpointId=eice-0a1b2c3d4e5f60001&remotePort=22&privateIpAddress=10.0.2.15",
		"https://eice.example/x": "wss://eice.example/openTunnel?instanceConnectEndpointId=eice-0a1b2c3d4e5f60001&remotePort=22&privateIpAddress=10.0.2.15",
	} {
		u, err := URL(base, ep, tg)
		if err != nil {
			t.Fatalf("%q: %v", base, err)
		}
		if u.String() != want {
			t.Errorf("URL(%q) = %s, want %s", base, u, want)
		}
	}
	for _, bad := range []struct {
		base string
		ep   Endpoint
		t    Target
	}{
		{"ftp://x", ep, tg},
		{"::", ep, tg},
		{"", Endpoint{ID: "eice-1"}, tg},
		{"", ep, Target{RemotePort: 22}},
		{"", ep, Target{PrivateIP: "10.0.0.1", RemotePort: 0}},
		{"", ep, Target{PrivateIP: "10.0.0.1", RemotePort: 22, MaxDuration: 3601}},
	} {
		if u, err := URL(bad.base, bad.ep, bad.t); err == nil {
			t.Errorf("URL(%q, %+v, %+v) = %s, want an error", bad.base, bad.ep, bad.t, u)
		}
	}
}

func TestChoose(t *testing.T) {
	eps := []Endpoint{
		{ID: "eice-other-vpc", VpcID: "vpc-2", SubnetID: "subnet-a", State: "create-complete"},
		{ID: "eice-deleting", VpcID: "vpc-1", SubnetID: "subnet-a", State: "delete-in-progress"},
		{ID: "eice-b", VpcID: "vpc-1", SubnetID: "subnet-b", State: "update-complete"},
		{ID: "eice-a", VpcID: "vpc-1", SubnetID: "subnet-a", State: "create-complete"},
	}
	for _, c := range []struct{ vpc, subnet, want string }{
		{"vpc-1", "subnet-a", "eice-a"}, // same subnet wins
		{"vpc-1", "subnet-c", "eice-b"}, // else first in the VPC
		{"vpc-2", "subnet-z", "eice-other-vpc"},
	} {
		got, err := Choose(eps, c.vpc, c.subnet)
		if err != nil || got.ID != c.want {
			t.Errorf("Choose(%s, %s) = %v, %v; want %s", c.vpc, c.subnet, got.ID, err, c.want)
		}
	}
	if _, err := Choose(eps, "vpc-3", "subnet-a"); !errors.Is(err, ErrNoEndpoint) || !strings.Contains(err.Error(), "vpc-3") {
		t.Errorf("no endpoint: err = %v", err)
	}
}
