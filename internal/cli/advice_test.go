package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

// The libraries' typed errors name no flags; the command line adds them,
// however deep the error is wrapped, and keeps the error's type.
func TestAdviseTypedErrors(t *testing.T) {
	inst := targets.Instance{ID: "i-0a1b2c3d4e5f00005", Name: "app-1", VpcID: "vpc-1"}
	for _, c := range []struct {
		err  error
		want []string
	}{
		{&transport.UnreachableError{Instance: inst, Facts: transport.Facts{SSM: "ConnectionLost"}}, []string{"no transport can reach", "--via BASTION", "jitssh doctor " + inst.ID}},
		{&transport.UnreachableError{Instance: targets.Instance{ID: "mi-0123456789abcdef0", Managed: true}}, []string{"get the agent online", "`jitssh doctor mi-0123456789abcdef0`"}},
		{fmt.Errorf("bastion: reach jump host: %w", &transport.NoPublicIPError{Instance: inst}), []string{"bastion: reach jump host: direct: i-0a1b2c3d4e5f00005 (app-1) has no public IP address; reach it with --transport ssm"}},
		{fmt.Errorf("x: %w", &connect.ManagedError{Instance: targets.Instance{ID: "mi-0123456789abcdef0", Managed: true}, Transport: "eice"}), []string{"only the ssm transport reaches it", "not eice; use --transport ssm or auto"}},
		{&connect.ManagedError{Instance: targets.Instance{ID: "mi-0123456789abcdef0", Managed: true}, JumpHost: true}, []string{"cannot be a jump host", "; reach managed instances with --transport ssm"}},
		{&connect.NoPrivateKeyError{Err: errors.New("no agent")}, []string{"needs the private half of the key it pushes: no agent (with your own key (-i / --public-key)"}},
		{fmt.Errorf("resolve: %w", &targets.NotFoundError{Spec: targets.Spec{Kind: targets.KindInstanceID, Value: "i-0fffffffffffffff0"}}), []string{"instance id i-0fffffffffffffff0 not found in this account and region: check the id and --region/--profile (`jitssh ls` lists instances)"}},
		{&targets.NotFoundError{Spec: targets.Spec{Kind: targets.KindName, Value: "web-9"}}, []string{"(terminated instances are not targets); `jitssh ls` lists instances"}},
		{connect.ErrNoKeyFile, []string{"no identity file path: pass --identity-file"}},
		{&transport.DirectError{Instance: inst, Addr: "127.0.0.1:22", Err: errors.New("connection refused")}, []string{"connection refused", "network ACL may block it); try --transport ssm or eice"}},
	} {
		got := advise(c.err)
		if !errors.Is(got, c.err) {
			t.Errorf("advise(%v) lost the error", c.err)
		}
		for _, w := range c.want {
			if !strings.Contains(got.Error(), w) {
				t.Errorf("advise(%v) = %q, lacks %q", c.err, got, w)
			}
		}
	}
	plain := errors.New("plain")
	if advise(plain) != plain {
		t.Error("advise changed an error it has no advice for")
	}
}
