package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/handoff"
	"github.com/jitssh/jitssh/internal/targets"
)

// TestSSHFlags: ssh's target, ssh arguments and flags → sshOptions; what
// follows the target (after -- or not) is ssh's, never jitssh's flags;
// a target that names no instance is refused before any AWS call.
func TestSSHFlags(t *testing.T) {
	scrubAWS(t)
	id := "i-0123456789abcdef0"
	web := targets.Spec{Kind: targets.KindName, Value: "web-1"}
	for _, c := range []struct {
		args []string
		want sshOptions
		err  string
	}{
		{[]string{"web-1"}, sshOptions{Target: "web-1", Spec: web, SSHArgs: []string{}}, ""},
		{[]string{"web-1", "uptime"}, sshOptions{Target: "web-1", Spec: web, SSHArgs: []string{"uptime"}}, ""},
		{[]string{"admin@web-1.eu-west-1", "--", "-L", "8080:localhost:80", "-N"}, sshOptions{Target: "admin@web-1.eu-west-1",
			Spec:    targets.Spec{User: "admin", Kind: targets.KindName, Value: "web-1", Region: "eu-west-1"},
			SSHArgs: []string{"-L", "8080:localhost:80", "-N"}}, ""},
		// after --, -l is ssh's: jitssh's --user stays unset
		{[]string{"web-1", "--", "-l", "root"}, sshOptions{Target: "web-1", Spec: web, SSHArgs: []string{"-l", "root"}}, ""},
		{[]string{"-l", "bob", "-i", "/k/id_ed25519", "--reason", "INC-1", "--transport", "eice", "--via", "bastion-1",
			"--key-store", "file", "--agent-lifetime", "90s", id},
			sshOptions{Target: id, Spec: targets.Spec{Kind: targets.KindInstanceID, Value: id}, SSHArgs: []string{},
				Login: "bob", Identity: "/k/id_ed25519", Reason: "INC-1", Transport: "eice", Via: "bastion-1", KeyStore: "file", AgentLifetime: 90e9}, ""},
		{[]string{"--user=carol", "tag:Team=pay"}, sshOptions{Target: "tag:Team=pay", Spec: targets.Spec{Kind: targets.KindTag, TagKey: "Team", Value: "pay"},
			SSHArgs: []string{}, Login: "carol"}, ""},
		{nil, sshOptions{}, "requires at least 1 arg(s)"},
		{[]string{""}, sshOptions{}, "empty target"},
		{[]string{"i-0123"}, sshOptions{}, "looks like an instance id but is not one"},
		{[]string{"web-1", "--agent-lifetime", "soon"}, sshOptions{}, `invalid argument "soon"`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			g := &globals{}
			got := parseFlags(t, func(runF func(context.Context, *sshOptions) error) *cobra.Command { return newSSHCmd(g, runF) }, c.args, c.err)
			if got == nil {
				return
			}
			if got.Where == nil || got.SSH == nil || got.g != g {
				t.Error("no Where or SSH constructor, or not the command's globals")
			}
			got.Where, got.SSH, got.g, got.IO = nil, nil, nil, IOStreams{}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("options\n %+v, want\n %+v", *got, c.want)
			}
		})
	}
}

// fakeSSH writes an ssh that prints its arguments, leaves report as the
// proxy's report (the file the hand-off names), and exits with code.
func fakeSSH(t *testing.T, code int, report string) string {
	t.Helper()
	if report == "" {
		report = "{}" // a proxy that had nothing to explain
	}
	p := filepath.Join(t.TempDir(), "ssh")
	script := fmt.Sprintf(`#!/bin/sh
echo "ssh $*"
report=$(printf '%%s' "$%s" | sed -n 's/.*"report":"\([^"]*\)".*/\1/p')
[ -n "$report" ] && printf '%%s' '%s' > "$report"
exit %d
`, handoff.Var, report, code)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSSHExitCodes: runSSHCmd's errors → exit codes. ssh's exit status is
// jitssh's, printing nothing of its own (the remote command's status, or
// ssh's 255 with the proxy's account of why: the refused login only
// then); jitssh's own failures before ssh runs are 255 with the reason.
func TestSSHExitCodes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake ssh is a shell script")
	}
	scrubAWS(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	id := "i-0123456789abcdef0"
	web1 := &fakeAWS{instances: []awsapi.Instance{{ID: id, Name: "web-1", State: "running", PrivateIP: "10.0.0.1"}}}
	refused := `{"login":"jitssh: the instance refused the key for alice","ended":"jitssh: i-0123456789abcdef0 is stopping"}`
	for _, c := range []struct {
		name      string
		opts      sshOptions // Target, Login, Transport, KeyStore
		api       *fakeAWS
		whereErr  error
		ssh       int    // ssh's exit status; -1: no ssh found
		report    string // the proxy's report
		code      int
		stdout    string
		stderr    string // also what Main prints
		notStderr string
	}{
		{name: "remote command succeeds", api: web1, code: 0, stdout: "-l alice " + id},
		{name: "remote command's status", api: web1, ssh: 3, code: 3, stdout: "-l alice " + id},
		{name: "remote command killed", api: web1, ssh: 130, code: 130},
		{name: "ssh's 255 with the proxy's account", api: web1, ssh: 255, report: refused, code: 255,
			stderr: "the instance refused the key for alice\n" + anotherUser + "\njitssh: " + id + " is stopping"},
		{name: "refused login shown only on 255", api: web1, ssh: 1, report: refused, code: 1,
			stderr: id + " is stopping", notStderr: "refused"},
		{name: "login from the AWS identity", opts: sshOptions{Login: "-"},
			api:  &fakeAWS{instances: web1.instances, caller: &awsapi.Caller{ARN: "arn:aws:sts::123456789012:assumed-role/Developer/carol"}},
			code: 0, stdout: "-l carol " + id},
		{name: "no ssh", api: web1, ssh: -1, code: 255, stderr: "find ssh: "},
		{name: "no such instance", api: &fakeAWS{}, code: 255, stderr: id, notStderr: "ssh -"},
		{name: "EC2 denied", api: &fakeAWS{ec2: denied("ec2:DescribeInstances")}, code: 255, stderr: "ec2:DescribeInstances"},
		{name: "no credentials", whereErr: errors.New("no AWS credentials"), code: 255, stderr: "no AWS credentials"},
		{name: "bad --transport", opts: sshOptions{Transport: "pigeon"}, api: web1, code: 255, stderr: `--transport "pigeon"`},
		{name: "bad --key-store", opts: sshOptions{KeyStore: "vault"}, api: web1, code: 255, stderr: `--key-store "vault"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut strings.Builder
			io := IOStreams{In: strings.NewReader(""), Out: &out, Err: &errOut}
			o := c.opts
			o.IO, o.g = io, &globals{io: io}
			o.Target, o.Spec = id, targets.Spec{Kind: targets.KindInstanceID, Value: id}
			switch o.Login {
			case "":
				o.Login = "alice"
			case "-":
				o.Login = ""
			}
			if o.KeyStore == "" {
				o.KeyStore = keyStoreFile
			}
			o.Where = func(context.Context, targets.Spec) (sshAPI, string, string, *targets.Instance, error) {
				if c.whereErr != nil {
					return nil, "", "", nil, c.whereErr
				}
				return c.api, testRegion, "", nil, nil
			}
			ssh := fakeSSH(t, c.ssh, c.report)
			o.SSH = func() (string, error) {
				if c.ssh < 0 {
					return "", errors.New(`exec: "ssh": executable file not found in $PATH`)
				}
				return ssh, nil
			}
			code, printed := codeOf(runSSHCmd(context.Background(), &o))
			stderr := errOut.String() + printed
			if code != c.code || !strings.Contains(out.String(), c.stdout) || !strings.Contains(stderr, c.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q and %q", code, out.String(), stderr, c.code, c.stdout, c.stderr)
			}
			if c.notStderr != "" && strings.Contains(stderr+out.String(), c.notStderr) {
				t.Errorf("%q in the output: %q %q", c.notStderr, out.String(), stderr)
			}
			if c.code != 255 || c.ssh == 255 {
				if printed != "" {
					t.Errorf("ssh's status %d, yet jitssh prints %q", c.ssh, printed)
				}
			}
		})
	}
}
