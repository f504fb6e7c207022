package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/awscreds"
	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/eice"
	"github.com/jitssh/jitssh/internal/keypush"
	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
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
		// AWS's refusals: one-line errors, the advice on its own line with
		// the command that helps.
		{fmt.Errorf("push: %w", &awsapi.APIError{Action: "ec2-instance-connect:SendSSHPublicKey", Code: "AccessDenied", Message: "no", Advice: "your IAM identity is not allowed ec2-instance-connect:SendSSHPublicKey", Fix: awsapi.FixPolicyUser}),
			[]string{"push: ec2-instance-connect:SendSSHPublicKey failed: AccessDenied: no\n  your IAM identity is not allowed ec2-instance-connect:SendSSHPublicKey: `jitssh policy user` prints a policy that grants what jitssh needs"}},
		{&awsapi.APIError{Action: "ssm:SendCommand", Code: "AccessDeniedException", Advice: "your IAM identity is not allowed ssm:SendCommand, which jitssh needs to place a key on an SSM managed (mi-) instance", Fix: awsapi.FixPolicyManaged},
			[]string{"(mi-) instance: `jitssh policy user --managed-instances` prints a policy that grants it (AWS-RunShellScript on managed instances only)"}},
		{&awsapi.APIError{Action: "ssm:StartSession", Code: "TargetNotConnected", Advice: "the instance is not connected to SSM: check it is running and its instance profile has AmazonSSMManagedInstanceCore", Fix: awsapi.FixDoctor},
			[]string{"\n  the instance is not connected to SSM: check it is running and its instance profile has AmazonSSMManagedInstanceCore (try `jitssh doctor`)"}},
		{&awsapi.APIError{Action: "ec2-instance-connect:SendSSHPublicKey", Code: "AccessDeniedException", Advice: "log in as that user, or ask an administrator", Fix: awsapi.FixImpersonation},
			[]string{"or ask an administrator (`jitssh policy scp` prints the impersonation SCP; --user names the OS user)"}},
		{&awsapi.APIError{Action: "ssm:StartSession", Code: "ExpiredTokenException", Advice: "your AWS credentials are invalid or expired: sign in again (a new SSO token, MFA code or role session) and retry", Fix: awsapi.FixSignIn},
			[]string{"and retry: `jitssh login` (with the --profile you use) signs in without the AWS CLI"}},
		{&awsapi.APIError{Action: "ssm:StartSession", Code: "EC2InstanceNotFoundException", Advice: "no such instance in this account and region: check the id", Fix: awsapi.FixRegionProfile},
			[]string{"\n  no such instance in this account and region: check the id and --region/--profile"}},
		{&awsapi.APIError{Action: "ssm:StartSession", Code: "ThrottlingException", Advice: "AWS kept throttling this call"}, []string{"failed: ThrottlingException: \n  AWS kept throttling this call"}},
		{fmt.Errorf("awsapi: %w", awsapi.ErrNoRegion), []string{"no AWS region configured: pass --region, set AWS_REGION, or set region in your AWS profile"}},
		{&eice.UpgradeError{Endpoint: "eice-1", Status: 403, Advice: "your IAM identity is not allowed ec2-instance-connect:OpenTunnel", Fix: eice.FixPolicyUser},
			[]string{"refused the tunnel (HTTP 403)\n  your IAM identity is not allowed ec2-instance-connect:OpenTunnel: `jitssh policy user` prints"}},
		{&eice.UpgradeError{Endpoint: "eice-1", Status: 400, Advice: "EC2 Instance Connect Endpoints only tunnel to ports 22 and 3389", Fix: eice.FixOtherTransport},
			[]string{"\n  EC2 Instance Connect Endpoints only tunnel to ports 22 and 3389: use another transport (--transport ssm or direct) for other ports"}},
		// Waits whose cause an instance's state may explain.
		{fmt.Errorf("session: %w", &transport.TimeoutError{Waiting: "the SSM agent", After: time.Second, Cause: transport.CauseAgent, InstanceID: inst.ID, Look: transport.LookAgent}),
			[]string{"or the websocket to ssmmessages blocked (`jitssh doctor " + inst.ID + "`)"}},
		{&transport.TimeoutError{Waiting: "sshd", After: time.Second, Cause: "nothing speaks SSH", InstanceID: inst.ID, Look: transport.LookWithoutSSHD},
			[]string{"nothing speaks SSH; `jitssh shell " + inst.ID + "` reaches it without sshd"}},
		{fmt.Errorf("resolve: %w", &transport.TimeoutError{Waiting: "EC2", After: time.Second, Cause: transport.CauseAPI, Look: transport.LookCalls}),
			[]string{"(proxy, VPN, firewall) or heavy throttling; run with -v to see each call"}},
		{fmt.Errorf("sts:GetCallerIdentity: %w", &awsapi.CallTimeoutError{After: time.Second}), []string{"no answer from AWS within 1s: a slow or blocked network path to the AWS endpoint (proxy, VPN, firewall) or heavy throttling; run with -v to see each call"}},
		{&keypush.PlaceKeyError{InstanceID: "mi-0123456789abcdef0", User: "bob", CommandID: "c-1", Invocation: awsapi.Invocation{Status: "TimedOut"}},
			[]string{"ended TimedOut\n  the SSM agent did not run it in time: check the agent is online and not busy with other commands (`jitssh doctor mi-0123456789abcdef0`)"}},
		{&keypush.PlaceKeyError{InstanceID: "mi-0123456789abcdef0", User: "bob", CommandID: "c-1", Invocation: awsapi.Invocation{Status: "Failed", ResponseCode: 1, Stderr: "no such user"}},
			[]string{"ended Failed (exit status 1): no such user\n  the script runs as root through the SSM agent and needs the user bob"}},
		// Pins, the agent, the login name.
		{fmt.Errorf("bastion: jump host i-1: %w", &knownhosts.ChangedError{Alias: "i-1", File: "/p/known_hosts", ForgetCommand: "jitssh known-hosts forget"}),
			[]string{"bastion: jump host i-1: host key for i-1 has changed: ", "\n  Either the instance was rebuilt", "intercepting", "run `jitssh known-hosts forget i-1` (or delete the i-1 line from /p/known_hosts)"}},
		{fmt.Errorf("proxy: %w", &knownhosts.AccountMismatchError{Alias: "i-1", PinnedAccount: "111111111111", Account: "222222222222", File: "/p/known_hosts"}),
			[]string{"proxy: the host key of i-1 was pinned in account 111111111111, but this i-1 is in account 222222222222 (pin in /p/known_hosts)\n  The pin was learned for i-1 in account 111111111111; this instance is in account 222222222222.",
				"another machine claiming the id", "run `jitssh known-hosts forget i-1` and connect again"}},
		{&connect.NoTrustedChannelError{Instance: inst, Pins: "/p/known_hosts"}, []string{"serves its VPC vpc-1\n  jitssh never trusts a host key first seen over a direct", "to /p/known_hosts"}},
		{&knownhosts.NoPinError{Host: "web-1"}, []string{"no host key is pinned for web-1: jitssh learns an instance's key when `jitssh proxy` (the ProxyCommand) first connects to it"}},
		{&knownhosts.NoPinError{Host: "web-1", InstanceID: inst.ID}, []string{"(" + inst.ID + "): jitssh learns it when `jitssh proxy` first connects to it; was the proxy run with --no-pin?"}},
		{fmt.Errorf("ssh: %w", &sshkeys.AgentAddError{Socket: "/tmp/agent", Err: errors.New("refused")}), []string{"add the key to the ssh-agent at /tmp/agent: refused (it may refuse keys with a lifetime; use --key-store file)"}},
		{&targets.UserNameError{ARN: "arn:aws:iam::1:root", Why: "not an assumed role, IAM user or federated user"}, []string{"cannot derive a user name from arn:aws:iam::1:root (not an assumed role, IAM user or federated user): pass --user or set default_user"}},
		// An unreachable instance whose endpoint lookup was refused: the
		// refusal's advice too.
		{&transport.UnreachableError{Instance: inst, Facts: transport.Facts{SSM: "ConnectionLost", EndpointErr: &awsapi.APIError{Action: "ec2:DescribeInstanceConnectEndpoints", Code: "UnauthorizedOperation", Advice: "your IAM identity is not allowed ec2:DescribeInstanceConnectEndpoints", Fix: awsapi.FixPolicyUser}}},
			[]string{"(`jitssh doctor " + inst.ID + "`)\n  your IAM identity is not allowed ec2:DescribeInstanceConnectEndpoints: `jitssh policy user`"}},
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
	once := advise(connect.ErrNoKeyFile)
	if twice := advise(fmt.Errorf("x: %w", once)); twice.Error() != "x: "+once.Error() {
		t.Errorf("advise twice = %q", twice)
	}
	plain := errors.New("plain")
	if advise(plain) != plain {
		t.Error("advise changed an error it has no advice for")
	}
}

// Library errors are one line: their advice is apart, for advise to add.
func TestLibraryErrorsAreOneLine(t *testing.T) {
	for _, err := range []error{
		&awsapi.APIError{Action: "ssm:StartSession", Code: "TargetNotConnected", Message: "i-1 is not connected.", Advice: "the instance is not connected to SSM", Fix: awsapi.FixDoctor},
		&eice.UpgradeError{Endpoint: "eice-1", Status: 403, Code: "AccessDenied", Message: "no", Advice: "not allowed", Fix: eice.FixPolicyUser},
		&keypush.PlaceKeyError{InstanceID: "mi-1", User: "bob", CommandID: "c-1", Invocation: awsapi.Invocation{Status: "Failed", Stderr: "no such user"}},
		&transport.TimeoutError{Waiting: "x", After: time.Second, Cause: transport.CauseAgent, InstanceID: "i-1", Look: transport.LookAgent},
		&knownhosts.NoPinError{Host: "web-1", InstanceID: "i-1"},
		&sshkeys.AgentAddError{Socket: "/s", Err: errors.New("refused")},
		&targets.UserNameError{ARN: "arn:aws:iam::1:root", Why: "root"},
		&connect.NoTrustedChannelError{Instance: targets.Instance{ID: "i-1"}, Pins: "/p"},
		&knownhosts.ChangedError{Alias: "i-1", File: "/p"},
		&awsapi.CallTimeoutError{After: time.Second},
	} {
		if s := err.Error(); strings.Contains(s, "\n") || strings.Contains(s, "jitssh ") || strings.Contains(s, "--") {
			t.Errorf("%T.Error() = %q: want one line naming no command or flag", err, s)
		}
	}
}

// A wait on AWS that timed out (transport.Within with CauseAPI) points at
// -v, as it did when the transport package said so itself.
func TestAdviseAPITimeoutNamesVerbose(t *testing.T) {
	err := transport.Within(context.Background(), time.Millisecond, "EC2 to describe web-1", transport.CauseAPI, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if got := advise(err).Error(); !strings.HasSuffix(got, "or heavy throttling; run with -v to see each call") || strings.Contains(err.Error(), "-v") {
		t.Errorf("advise(%q) = %q", err, got)
	}
}

// TestAdviseExportedCredentialsExpired: expired credentials exported in
// the environment are not mended by signing in again; the advice says
// what is.
func TestAdviseExportedCredentialsExpired(t *testing.T) {
	err := fmt.Errorf("connection lost and cannot be resumed: %w", &awsapi.APIError{Action: "ssm:ResumeSession", Code: "ExpiredTokenException",
		Advice: "your AWS credentials are invalid or expired: sign in again (a new SSO token, MFA code or role session) and retry", Fix: awsapi.FixSignIn})
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEEXAMPLE01")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	got := adviceLines(err)
	if !strings.Contains(got, "exported in AWS_SESSION_TOKEN have expired") || strings.Contains(got, "jitssh login") {
		t.Errorf("with exported temporary credentials: %q", got)
	}
	t.Setenv("AWS_SESSION_TOKEN", "")
	if got := adviceLines(err); !strings.Contains(got, "jitssh login") {
		t.Errorf("without: %q", got)
	}
}

// TestAdviseMFAMidSession: an MFA code wanted to resume a session keeps
// the account of the lost connection and says what to do.
func TestAdviseMFAMidSession(t *testing.T) {
	err := advise(fmt.Errorf("ssm connection to i-1: connection lost (eof) and cannot be resumed: %w", &awscreds.NoTerminalError{Profile: "mfa", MidSession: true}))
	for _, want := range []string{"connection lost (eof) and cannot be resumed", `profile "mfa" needs a new MFA code to go on`, "\n  run \"jitssh login --profile mfa\" and connect again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("advice lacks %q:\n%s", want, err)
		}
	}
}
