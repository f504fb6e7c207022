package apis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/placekey"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

const (
	idMI        = "mi-0aaaaaaaaaaaaaaa1"
	idMIOffline = "mi-0aaaaaaaaaaaaaaa2"
)

func withManaged() []world.Instance {
	return append(testInstances(),
		world.Instance{ID: idMI, Hostname: "rack-1", State: "running", PrivateIP: "192.168.1.5", LaunchTime: launch,
			Tags: map[string]string{"Name": "rack-1"}, SSMOnline: true, Managed: true},
		world.Instance{ID: idMIOffline, Hostname: "rack-2", State: "running", PrivateIP: "192.168.1.6", LaunchTime: launch,
			Tags: map[string]string{"Name": "rack-2"}, Managed: true})
}

func newSSHKey(t *testing.T) ssh.PublicKey {
	return testkeys.Public(t)
}

// TestSendCommandPlacesKeysOnManagedInstances runs the key-placement
// script on a managed instance through the SDK (and its waiter), and
// checks that nothing else runs anywhere.
func TestSendCommandPlacesKeysOnManagedInstances(t *testing.T) {
	e := newEnv(t, withManaged())
	cl := e.ssm(alice)
	ctx := context.Background()
	key := newSSHKey(t)
	script, err := placekey.Script("carol", key, time.Now().Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	send := func(id string, commands []string) string {
		t.Helper()
		out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{
			InstanceIds: []string{id}, DocumentName: aws.String(RunShellScript),
			Parameters: map[string][]string{"commands": commands}, Comment: aws.String("jitssh key"),
		})
		if err != nil {
			t.Fatalf("SendCommand to %s: %v", id, err)
		}
		if out.Command.Status != ssmtypes.CommandStatusPending || aws.ToString(out.Command.DocumentName) != RunShellScript || len(out.Command.InstanceIds) != 1 {
			t.Errorf("command %+v", out.Command)
		}
		return aws.ToString(out.Command.CommandId)
	}
	invocation := func(cid, id string) *ssm.GetCommandInvocationOutput {
		t.Helper()
		out, err := cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cid), InstanceId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetCommandInvocation: %v", err)
		}
		return out
	}

	cid := send(idMI, script)
	if err := ssm.NewCommandExecutedWaiter(cl).Wait(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cid), InstanceId: aws.String(idMI)}, 10*time.Second); err != nil {
		t.Fatalf("the SDK's waiter: %v", err)
	}
	if inv := invocation(cid, idMI); inv.Status != ssmtypes.CommandInvocationStatusSuccess || inv.ResponseCode != 0 || aws.ToString(inv.PluginName) != "aws:runShellScript" {
		t.Errorf("invocation %+v", inv)
	}
	placed := e.world.PlacedKeys(idMI, "carol")
	if len(placed) != 1 || !strings.HasPrefix(placed[0].PublicKey, "ssh-ed25519 ") || placed[0].CommandID != cid ||
		placed[0].Expires.Before(time.Now().Add(time.Minute)) {
		t.Fatalf("placed keys %+v", placed)
	}

	// Anything else fails like a failing script, and places nothing.
	for _, c := range []struct {
		id       string
		commands []string
		want     string
	}{
		{idMI, []string{"id", "cat /etc/shadow"}, "runs only the jitssh key-placement script"},
		{idMI, append(append([]string{}, script...), "rm -rf /"), "the key-placement form has"},
		{idWeb1, script, "EC2 Instance Connect only"},
	} {
		cid := send(c.id, c.commands)
		inv := invocation(cid, c.id)
		if inv.Status != ssmtypes.CommandInvocationStatusFailed || inv.ResponseCode != 1 || !strings.Contains(aws.ToString(inv.StandardErrorContent), c.want) {
			t.Errorf("%v on %s: %s %d %q", c.commands, c.id, inv.Status, inv.ResponseCode, aws.ToString(inv.StandardErrorContent))
		}
		err := ssm.NewCommandExecutedWaiter(cl).Wait(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cid), InstanceId: aws.String(c.id)}, 5*time.Second)
		if err == nil {
			t.Errorf("the SDK's waiter took a failed invocation for success")
		}
	}
	if n := len(e.world.PlacedKeys(idMI, "carol")); n != 1 {
		t.Errorf("%d keys placed after the refused scripts, want the 1", n)
	}

	// AWS's errors.
	_, err = cl.SendCommand(ctx, &ssm.SendCommandInput{InstanceIds: []string{idMIOffline}, DocumentName: aws.String(RunShellScript),
		Parameters: map[string][]string{"commands": script}})
	wantAPIError(t, err, "InvalidInstanceId", "Instances [["+idMIOffline+"]] not in a valid state for account "+testAccount)
	_, err = cl.SendCommand(ctx, &ssm.SendCommandInput{InstanceIds: []string{idMI}, DocumentName: aws.String("AWS-RunPowerShellScript"),
		Parameters: map[string][]string{"commands": script}})
	wantAPIError(t, err, "InvalidDocument", "AWS-RunPowerShellScript")
	_, err = cl.SendCommand(ctx, &ssm.SendCommandInput{InstanceIds: []string{idMI}, DocumentName: aws.String(RunShellScript)})
	wantAPIError(t, err, "InvalidParameters", "commands")
	_, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String("00000000-0000-4000-8000-000000000000"), InstanceId: aws.String(idMI)})
	wantAPIError(t, err, "InvalidCommandId", "")
	_, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cid), InstanceId: aws.String(idWeb2)})
	wantAPIError(t, err, "InvocationDoesNotExist", "")
}
