package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/awscreds"
	"github.com/jitssh/jitssh/internal/eice"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

func TestAutoRules(t *testing.T) {
	inst := targets.Instance{ID: "i-0a1b2c3d4e5f00005", Name: "app-1", State: "running", PrivateIP: "10.0.2.31", VpcID: "vpc-1", SubnetID: "subnet-2"}
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
		if r := Reaches(inst, c.f); len(r) == 0 || r[0] != c.want {
			t.Errorf("Reachable(%+v) = %v, want %s first", c.f, r, c.want)
		}
	}
	_, _, err := Auto(inst, Facts{SSM: "ConnectionLost", EndpointErr: eice.ErrNoEndpoint})
	if err == nil {
		t.Fatal("Auto chose a transport for an unreachable instance")
	}
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Instance.ID != inst.ID {
		t.Errorf("Auto's error is not an *UnreachableError for %s: %#v", inst.ID, err)
	}
	for _, want := range []string{inst.ID, "app-1", "ConnectionLost", "vpc-1", "no public IP"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Auto's error lacks %q: %v", want, err)
		}
	}
	_, _, err = Auto(inst, Facts{EndpointErr: errors.New("AccessDenied on ec2:DescribeInstanceConnectEndpoints")})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("Auto with a failed endpoint lookup: %v", err)
	}
}

func TestValid(t *testing.T) {
	for _, n := range Names {
		if !Valid(n) {
			t.Errorf("%s not valid", n)
		}
	}
	if Valid("carrier-pigeon") || Valid("") {
		t.Error("unknown transport accepted")
	}
	if !Trusted(NameSSM) || !Trusted(NameEICE) || Trusted(NameDirect) || Trusted(NameBastion) || Trusted(NameAuto) {
		t.Error("Trusted is wrong: only ssm and eice paths are authenticated by AWS")
	}
}

func TestDirectNeedsPublicIP(t *testing.T) {
	_, err := Direct{}.Dial(context.Background(), targets.Instance{ID: "i-0a1b2c3d4e5f00003", Name: "db-1"}, 22)
	var npe *NoPublicIPError
	if !errors.As(err, &npe) || npe.Instance.ID != "i-0a1b2c3d4e5f00003" || !strings.Contains(err.Error(), "no public IP") {
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
	var de *DirectError
	if !errors.As(err, &de) || de.Addr != addr.String() || !strings.Contains(err.Error(), addr.String()) {
		t.Fatalf("refused port: err = %v", err)
	}
}

// blackHoleJumpHost is an SSH server (x/crypto/ssh) on loopback that lets
// anyone in and never answers a direct-tcpip request, as a jump host whose
// TCP connect to the target hangs (a dropped SYN): OpenSSH's sshd opens
// the forwarding channel only once its connect succeeds or fails.
func blackHoleJumpHost(t *testing.T) (addr string, hostKey ssh.PublicKey) {
	t.Helper()
	signer := testkeys.Signer(t)
	conf := &ssh.ServerConfig{NoClientAuth: true}
	conf.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				_, chans, reqs, err := ssh.NewServerConn(nc, conf)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				for range chans {
					// never accepted, never rejected
				}
			}()
		}
	}()
	return ln.Addr().String(), signer.PublicKey()
}

// A jump host that cannot reach the target fails within the Forward
// deadline, saying what was awaited and why, instead of hanging.
func TestBastionUnreachableTargetTimesOut(t *testing.T) {
	addr, hostKey := blackHoleJumpHost(t)
	host, port, _ := net.SplitHostPort(addr)
	signer := testkeys.Signer(t)
	b := Bastion{
		Via:      targets.Instance{ID: "i-0a1b2c3d4e5f00004", Name: "bastion-1", PublicIP: host},
		Hop:      Direct{},
		Port:     mustAtoi(t, port),
		User:     "u",
		Signer:   signer,
		HostKeys: []ssh.PublicKey{hostKey},
		Timeouts: Timeouts{Forward: 500 * time.Millisecond},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := b.Dial(ctx, targets.Instance{ID: "i-0a1b2c3d4e5f00005", PrivateIP: "10.0.2.31"}, 22)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial through a jump host that never connects: %v, want a *TimeoutError", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want about the 500ms deadline", d)
	}
	for _, want := range []string{"gave up after 500ms", "jump host i-0a1b2c3d4e5f00004 (bastion-1) to connect to 10.0.2.31:22 (i-0a1b2c3d4e5f00005)", "cannot reach the target"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Route holds the rules of transport and jump host, for Proxy and the
// command line alike.
func TestRoute(t *testing.T) {
	for _, c := range []struct {
		name    string
		via     bool
		want    string
		problem RouteProblem
	}{
		{"", false, NameAuto, 0},
		{"", true, NameBastion, 0},
		{NameAuto, true, NameBastion, 0},
		{NameBastion, true, NameBastion, 0},
		{NameSSM, false, NameSSM, 0},
		{NameBastion, false, "", BastionWithoutVia},
		{NameDirect, true, "", ViaWithoutBastion},
		{"carrier-pigeon", false, "", UnknownTransport},
		{"carrier-pigeon", true, "", UnknownTransport},
	} {
		got, err := Route(c.name, c.via)
		var re *RouteError
		if c.problem == 0 && (err != nil || got != c.want) || c.problem != 0 && (!errors.As(err, &re) || re.Problem != c.problem || re.Name != c.name) {
			t.Errorf("Route(%q, %v) = %q, %v; want %q, problem %d", c.name, c.via, got, err, c.want, c.problem)
		}
	}
}

func TestResumeRefused(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&awsapi.APIError{Action: "ssm:ResumeSession", Code: "ExpiredTokenException", Fix: awsapi.FixSignIn}, true},
		{fmt.Errorf("resume: %w", &awsapi.APIError{Action: "ssm:ResumeSession", Code: "AccessDeniedException"}), true},
		{fmt.Errorf("resume session s-1: %w", awsapi.ErrSessionTimedOut), true},
		{fmt.Errorf("refresh cached credentials: %w", &awscreds.NoTerminalError{Profile: "mfa", MidSession: true}), true},
		{&awsapi.APIError{Action: "ssm:ResumeSession", Code: "ThrottlingException"}, false},
		{&awsapi.APIError{Action: "ssm:ResumeSession", Code: "InternalServerError"}, false},
		{errors.New("dial tcp: connection refused"), false},
	} {
		if got := resumeRefused(c.err); got != c.want {
			t.Errorf("resumeRefused(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
