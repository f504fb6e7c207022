package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/progress"
	"github.com/jitssh/jitssh/internal/targets"
)

// TestTunnelFlags: tunnel's forwardings and flags → tunnelOptions: the
// flags apply to the forwardings, and every bad one is refused before
// anything listens or calls AWS.
func TestTunnelFlags(t *testing.T) {
	for _, c := range []struct {
		args  []string
		specs []portSpec
		err   string
	}{
		{[]string{"web-1", "8080"}, []portSpec{{Bind: "127.0.0.1", RemotePort: 8080}}, ""},
		{[]string{"web-1", "80", "--local-port", "8080"}, []portSpec{{Bind: "127.0.0.1", LocalPort: 8080, RemotePort: 80}}, ""},
		{[]string{"web-1", "80", "--local-port", "0"}, []portSpec{{Bind: "127.0.0.1", RemotePort: 80}}, ""},
		{[]string{"db", "5432", "--remote-host", "mydb.example.com"}, []portSpec{{Bind: "127.0.0.1", RemoteHost: "mydb.example.com", RemotePort: 5432}}, ""},
		{[]string{"web-1", "8080:80", "9090:9090", "--bind", "::1"}, []portSpec{{Bind: "::1", LocalPort: 8080, LocalSet: true, RemotePort: 80}, {Bind: "::1", LocalPort: 9090, LocalSet: true, RemotePort: 9090}}, ""},
		{[]string{"web-1", "0.0.0.0:8080:localhost:80", "81"}, []portSpec{{Bind: "0.0.0.0", LocalPort: 8080, LocalSet: true, RemotePort: 80}, {Bind: "127.0.0.1", RemotePort: 81}}, ""},
		{[]string{"web-1", "80", "-o", "yaml"}, nil, `--output "yaml": use text or json`},
		{[]string{"web-1", "80:"}, nil, `forwarding "80:"`},
		{[]string{"web-1", "80", "--local-port", "65536"}, nil, "--local-port 65536"},
		{[]string{"web-1", "80", "--remote-host", "bad host"}, nil, `--remote-host "bad host"`},
		{[]string{"web-1", "80", "--bind", "localhost"}, nil, `--bind "localhost"`},
		{[]string{"web-1", "80", "81", "--local-port", "8080"}, nil, "go with a single PORT"},
		{[]string{"web-1", "8080:80", "--remote-host", "db"}, nil, "go with a single PORT"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			got := parseFlags(t, func(runF func(context.Context, *tunnelOptions) error) *cobra.Command {
				return newTunnelCmd(&globals{}, runF)
			}, c.args, c.err)
			if got == nil {
				return
			}
			if got.Target != c.args[0] || !reflect.DeepEqual(got.Specs, c.specs) || got.Resolve == nil || got.Progress == nil || got.Logger == nil {
				t.Errorf("options %+v, want specs %+v", *got, c.specs)
			}
		})
	}
}

// resolvesTo is a Resolve that answers api and an instance, or err.
func resolvesTo(api connect.API, err error, called *bool) sessionStarter {
	return sessionStarter{
		Resolve: func(context.Context, string) (connect.API, targets.Instance, error) {
			*called = true
			if err != nil {
				return nil, targets.Instance{}, err
			}
			return api, targets.Instance{ID: "i-0123456789abcdef0", Name: "web-1", State: "running"}, nil
		},
		Progress: func(string) *progress.Line { return nil },
		Logger:   func() *slog.Logger { return slog.New(slog.DiscardHandler) },
	}
}

// TestTunnelExitCodes: runTunnel's errors → exit codes. A local port in
// use fails before the target is resolved; a target that does not resolve
// or a session SSM refuses is 255.
func TestTunnelExitCodes(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	for _, c := range []struct {
		name        string
		specs       []portSpec
		resolveErr  error
		api         *fakeAWS
		code        int
		stderr      string
		wantResolve bool
	}{
		{"port in use", []portSpec{{Bind: "127.0.0.1", LocalPort: busyPort, LocalSet: true, RemotePort: 80}}, nil, &fakeAWS{}, 255, "port " + strconv.Itoa(busyPort), false},
		{"no such target", []portSpec{{Bind: "127.0.0.1", RemotePort: 80}}, errors.New(`no instance matches name "web-9"`), nil, 255, "web-9", true},
		{"StartSession denied", []portSpec{{Bind: "127.0.0.1", RemotePort: 80}, {Bind: "127.0.0.1", RemotePort: 81}}, nil, &fakeAWS{ssm: denied("ssm:StartSession")}, 255, "ssm:StartSession", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut strings.Builder
			resolved := false
			o := &tunnelOptions{IO: IOStreams{Out: &out, Err: &errOut}, Target: "web-1", Specs: c.specs, Output: "text",
				sessionStarter: resolvesTo(c.api, c.resolveErr, &resolved)}
			code, printed := codeOf(runTunnel(context.Background(), o))
			if code != c.code || !strings.Contains(printed, c.stderr) || resolved != c.wantResolve {
				t.Errorf("exit %d, %q, resolved %v; want %d, %q, %v", code, printed, resolved, c.code, c.stderr, c.wantResolve)
			}
		})
	}
}
