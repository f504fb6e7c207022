package cli

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/targets"
)

// TestProxyFlags: proxy's arguments (ssh's %r %h %p) and flags →
// proxyOptions, and what ssh could pass that makes no connection (a bad
// port or target, a user@ that is not the login) refused before any AWS
// call. What the flags leave unset (the hand-off, the environment, the
// config file) is filled in by runProxy, not here.
func TestProxyFlags(t *testing.T) {
	scrubAWS(t)
	id := "i-0123456789abcdef0"
	idSpec := targets.Spec{Kind: targets.KindInstanceID, Value: id}
	for _, c := range []struct {
		args []string
		want proxyOptions
		err  string
	}{
		{[]string{"alice", id, "22"}, proxyOptions{User: "alice", Host: id, Target: idSpec, Port: 22}, ""},
		{[]string{"alice", "web-1.eu-west-1", "2222"}, proxyOptions{User: "alice", Host: "web-1.eu-west-1", Port: 2222,
			Target: targets.Spec{Kind: targets.KindName, Value: "web-1", Region: "eu-west-1"}}, ""},
		// user@ in the host is allowed when it is the login itself
		{[]string{"alice", "alice@" + id, "22"}, proxyOptions{User: "alice", Host: "alice@" + id, Port: 22,
			Target: targets.Spec{User: "alice", Kind: targets.KindInstanceID, Value: id}}, ""},
		{[]string{"--identity-file", "/k/alice@web", "--public-key", "/k/own.pub", "--reason", "INC-1", "--transport", "eice",
			"--via", "bastion-1", "--no-pin", "--ssm-payload-size", "4096", "alice", id, "22"},
			proxyOptions{User: "alice", Host: id, Target: idSpec, Port: 22, KeyFile: "/k/alice@web", PublicKeyFile: "/k/own.pub",
				Reason: "INC-1", Transport: "eice", Via: "bastion-1", NoPin: true, PayloadSize: 4096}, ""},
		// the Windows ProxyCommand puts -- before the arguments
		{[]string{"--", "alice", id, "22"}, proxyOptions{User: "alice", Host: id, Target: idSpec, Port: 22}, ""},
		{[]string{"alice", id, "ssh"}, proxyOptions{}, `invalid port "ssh"`},
		{[]string{"alice", id, "0"}, proxyOptions{}, `invalid port "0"`},
		{[]string{"alice", id, "65536"}, proxyOptions{}, `invalid port "65536"`},
		{[]string{"alice", "i-0123", "22"}, proxyOptions{}, "looks like an instance id but is not one"},
		{[]string{"alice", "web\x01", "22"}, proxyOptions{}, "control or non-ASCII character"},
		{[]string{"alice", "bob@" + id, "22"}, proxyOptions{}, "names user bob but ssh logs in as alice"},
		{[]string{"alice", id}, proxyOptions{}, "accepts 3 arg(s), received 2"},
		{[]string{"alice", id, "22", "--ssm-payload-size", "big"}, proxyOptions{}, `invalid argument "big"`},
		{[]string{"alice", id, "22", "--no-pin=maybe"}, proxyOptions{}, `invalid argument "maybe"`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			g := &globals{}
			got := parseFlags(t, func(runF func(context.Context, *proxyOptions) error) *cobra.Command { return newProxyCmd(g, runF) }, c.args, c.err)
			if got == nil {
				return
			}
			if got.API == nil || got.g != g {
				t.Error("no API constructor, or not the command's globals")
			}
			got.API, got.g, got.IO = nil, nil, IOStreams{}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("options\n %+v, want\n %+v", *got, c.want)
			}
		})
	}
}
