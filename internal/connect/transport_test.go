package connect

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/eice"
	"github.com/jitssh/jitssh/internal/targets"
)

func TestAutoRules(t *testing.T) {
	inst := targets.Instance{ID: "i-0a1b2c3d4e5f00005", Name: "app-1", VpcID: "vpc-1", SubnetID: "subnet-2"}
	ep := &eice.Endpoint{ID: "eice-1", VpcID: "vpc-1"}
	for _, c := range []struct {
		f    Facts
		want string
		why  string
	}{
		{Facts{SSM: "Online", Endpoint: ep, PublicIP: "127.100.0.1"}, NameSSM, "online"},
		{Facts{SSM: "ConnectionLost", Endpoint: ep, PublicIP: "127.100.0.1"}, NameEICE, "eice-1"},
		{Facts{Endpoint: ep}, NameEICE, "not registered"},
		{Facts{SSM: "Inactive", PublicIP: "127.100.0.1"}, NameDirect, "127.100.0.1"},
	} {
		got, why, err := Auto(inst, c.f)
		if err != nil || got != c.want || !strings.Contains(why, c.why) {
			t.Errorf("Auto(%+v) = %q, %q, %v; want %s because …%s…", c.f, got, why, err, c.want, c.why)
		}
		if r := c.f.Reachable(); len(r) == 0 || r[0] != c.want {
			t.Errorf("Reachable(%+v) = %v, want %s first", c.f, r, c.want)
		}
	}
	_, _, err := Auto(inst, Facts{SSM: "ConnectionLost", EndpointErr: eice.ErrNoEndpoint})
	if err == nil {
		t.Fatal("Auto chose a transport for an unreachable instance")
	}
	for _, want := range []string{inst.ID, "app-1", "ConnectionLost", "vpc-1", "no public IP", "--via", "jitssh doctor"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Auto's error lacks %q: %v", want, err)
		}
	}
	_, _, err = Auto(inst, Facts{EndpointErr: errors.New("AccessDenied on ec2:DescribeInstanceConnectEndpoints")})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("Auto with a failed endpoint lookup: %v", err)
	}
}

func TestValidTransport(t *testing.T) {
	for _, n := range TransportNames {
		if !ValidTransport(n) {
			t.Errorf("%s not valid", n)
		}
	}
	if ValidTransport("carrier-pigeon") || ValidTransport("") {
		t.Error("unknown transport accepted")
	}
	if !Trusted(NameSSM) || !Trusted(NameEICE) || Trusted(NameDirect) || Trusted(NameBastion) || Trusted(NameAuto) {
		t.Error("Trusted is wrong: only ssm and eice paths are authenticated by AWS")
	}
}

func TestDirectNeedsPublicIP(t *testing.T) {
	_, err := Direct{}.Dial(context.Background(), targets.Instance{ID: "i-0a1b2c3d4e5f00003", Name: "db-1"}, 22)
	if err == nil || !strings.Contains(err.Error(), "no public IP") || !strings.Contains(err.Error(), "--transport ssm") {
		t.Fatalf("err = %v", err)
	}
	// A refused port is an error naming the address.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	_, err = Direct{Timeout: time.Second}.Dial(context.Background(), targets.Instance{ID: "i-1", PublicIP: "127.0.0.1"}, addr.Port)
	if err == nil || !strings.Contains(err.Error(), addr.String()) {
		t.Fatalf("refused port: err = %v", err)
	}
}

// splice on a TCP connection: stdin's end half-closes, and what the far
// side sends after that still reaches stdout.
func TestSpliceHalfClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		got, _ := io.ReadAll(c) // until our half-close
		c.Write(append([]byte("echo:"), got...))
	}()
	c, err := Direct{}.Dial(context.Background(), targets.Instance{ID: "i-1", PublicIP: "127.0.0.1"}, l.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out bytes.Buffer
	if _, err := splice(context.Background(), c, spliceOptions{what: "test"}, strings.NewReader("hello"), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "echo:hello" {
		t.Fatalf("stdout = %q", out.String())
	}
}
