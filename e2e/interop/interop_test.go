package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

// binDir holds the official plugin, built from AWS's packages as
// session-manager-plugin (the name the aws CLI runs), and jitssh-host for
// the real sshd's AuthorizedKeysCommand.
var binDir string

const sshDocument = "AWS-StartSSHSession"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jitssh-interop-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, args := range [][]string{
		// -mod=mod: the plugin's dependencies are shared with the main
		// module's (x/sys, x/crypto, smux); a version bump there must not
		// break this build for want of a go.sum line.
		{"build", "-mod=mod", "-o", filepath.Join(dir, "session-manager-plugin"), "./plugin"},
		{"-C", "../..", "build", "-o", filepath.Join(dir, "jitssh-host"), "./cmd/jitssh-host"},
	} {
		build := exec.Command("go", args...)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "go %s: %v\n", strings.Join(args, " "), err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a running sandbox and a client environment that holds nothing but
// the sandbox's fake credentials.
type env struct {
	t    *testing.T
	sb   *sandbox.Sandbox
	aws  map[string]string // the sandbox's AWS_* variables
	cfg  aws.Config        // real SDK v2 configuration pointed at the sandbox
	home string
	vars []string // environment of the plugin, ssh and the aws CLI
}

func newEnv(t *testing.T, mode sshd.Mode, opts ...func(*sandbox.Config)) *env {
	t.Helper()
	for _, b := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("OpenSSH client (%s) not installed", b)
		}
	}
	// JITSSH_INTEROP_LOG=1 shows the sandbox's side of passing runs too.
	// HTTPS/WSS with the sandbox's CA unless JITSSH_E2E_TLS=0, as AWS
	// serves (opts may change it).
	cfg := sandbox.Config{
		StateDir:   t.TempDir(),
		HostBinary: filepath.Join(binDir, "jitssh-host"),
		SSHMode:    mode,
		TLS:        sandboxenv.TLS(t),
	}
	for _, o := range opts {
		o(&cfg)
	}
	sb := sandboxenv.Start(t, cfg, os.Getenv("JITSSH_INTEROP_LOG") != "")
	if got := sb.Instances[0].SSHServer; got != mode.String() {
		t.Fatalf("sandbox runs %s, want %s", got, mode)
	}
	if cfg.TLS != strings.HasPrefix(sb.URL, "https://") {
		t.Fatalf("sandbox URL %s: want https:// with Config.TLS (the default unless JITSSH_E2E_TLS=0)", sb.URL)
	}
	e := &env{t: t, sb: sb, aws: map[string]string{}, home: t.TempDir()}
	for _, kv := range sb.Env() {
		k, v, _ := strings.Cut(kv, "=")
		e.aws[k] = v
	}
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if e.aws[k] == "" {
			t.Fatalf("sandbox environment lacks %s: %v", k, sb.Env())
		}
	}
	// The SDK reads nothing from this process's environment or files: only
	// the sandbox's endpoint and fake credentials.
	e.cfg = aws.Config{
		Region:       e.aws["AWS_REGION"],
		BaseEndpoint: aws.String(e.aws["AWS_ENDPOINT_URL"]),
		Credentials:  credentials.NewStaticCredentialsProvider(e.aws["AWS_ACCESS_KEY_ID"], e.aws["AWS_SECRET_ACCESS_KEY"], ""),
		HTTPClient:   sandboxenv.HTTPClient(t, sb),
	}
	// Children get no real AWS credentials, no profile, no agent and no
	// instance metadata service (sb.Env sets AWS_EC2_METADATA_DISABLED).
	e.vars = sandboxenv.Environ(sb, e.home, binDir)
	if sb.CABundle != "" {
		// The aws CLI and the plugin's own API calls (AWS SDK for Go v1)
		// trust AWS_CA_BUNDLE, but the plugin dials the data channel's
		// wss:// with gorilla/websocket's default dialer: Go's system
		// roots, which SSL_CERT_FILE replaces (crypto/x509 on Unix).
		// Without it the plugin prints its greeting and then retries the
		// refused handshake silently (tried: no banner after 20 s).
		e.vars = append(e.vars, "SSL_CERT_FILE="+sb.CABundle)
	}
	return e
}

// startSession calls StartSession for the SSH document on port through the
// SDK, as the aws CLI does, and returns what the CLI hands the plugin: the
// response JSON (SessionId, TokenValue, StreamUrl) and the request JSON.
func (e *env) startSession(ctx context.Context, instanceID string, port int) (id, response, request string) {
	return e.startDocument(ctx, instanceID, sshDocument, map[string][]string{"portNumber": {fmt.Sprint(port)}})
}

func (e *env) startDocument(ctx context.Context, instanceID, document string, params map[string][]string) (id, response, request string) {
	e.t.Helper()
	out, err := ssm.NewFromConfig(e.cfg).StartSession(ctx, &ssm.StartSessionInput{
		Target:       aws.String(instanceID),
		DocumentName: aws.String(document),
		Parameters:   params,
	})
	if err != nil {
		e.t.Fatalf("StartSession: %v", err)
	}
	resp, err := json.Marshal(map[string]string{
		"SessionId":  aws.ToString(out.SessionId),
		"TokenValue": aws.ToString(out.TokenValue),
		"StreamUrl":  aws.ToString(out.StreamUrl),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := json.Marshal(map[string]any{"Target": instanceID, "DocumentName": document, "Parameters": params})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.SessionId), string(resp), string(req)
}

// pluginArgs is the argv the aws CLI gives session-manager-plugin (after
// argv[0]): the response (or the name of the variable holding it), region,
// operation, profile, request parameters and SSM endpoint URL.
func (e *env) pluginArgs(response, request string) []string {
	return []string{response, e.aws["AWS_REGION"], "StartSession", "", request, e.aws["AWS_ENDPOINT_URL"]}
}

const responseVar = "AWS_SSM_START_SESSION_RESPONSE"

// TestOfficialPluginAsSSHProxyCommand runs the real ssh through AWS's
// plugin and the sandbox to the instance's SSH server: first with the
// plugin invoked as the aws CLI invokes it (response in an environment
// variable), then with the aws CLI itself as the ProxyCommand, which
// starts the session and runs the plugin as a user's ssh_config would.
func TestOfficialPluginAsSSHProxyCommand(t *testing.T) {
	for _, mode := range sandboxenv.Modes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			e := newEnv(t, mode)
			in := e.sb.Instances[0]
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()

			// An ephemeral key pushed with EC2 Instance Connect for the
			// caller's own user, as jitssh does.
			user, err := targets.UserFromARN(e.sb.Identity.ARN)
			if err != nil {
				t.Fatal(err)
			}
			key := filepath.Join(e.home, "id_ed25519")
			if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "interop", "-f", key).CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen: %v\n%s", err, out)
			}
			pub, err := os.ReadFile(key + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ec2instanceconnect.NewFromConfig(e.cfg).SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
				InstanceId: aws.String(in.ID), InstanceOSUser: aws.String(user), SSHPublicKey: aws.String(string(pub)),
			}); err != nil {
				t.Fatalf("SendSSHPublicKey: %v", err)
			}

			ssh := func(proxy string, extraEnv []string, stdin []byte, command string) ([]byte, error) {
				cmd := exec.CommandContext(ctx, "ssh", "-F", "/dev/null", "-T",
					"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", key,
					"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
					"-o", "ProxyCommand="+proxy, user+"@"+in.ID, command)
				cmd.Env = append(append([]string{}, e.vars...), extraEnv...)
				cmd.Stdin = bytes.NewReader(stdin)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					return out, fmt.Errorf("ssh %s: %w\nstderr: %s", command, err, stderr.String())
				}
				return out, nil
			}
			viaPlugin := func(stdin []byte, command string) []byte {
				t.Helper()
				_, resp, req := e.startSession(ctx, in.ID, 22)
				proxy := shellJoin(append([]string{filepath.Join(binDir, "session-manager-plugin")}, e.pluginArgs(responseVar, req)...))
				out, err := ssh(proxy, []string{"SSM_PLUGIN_SKIP_CLIENT_CONFIGURE=true", responseVar + "=" + resp}, stdin, command)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}

			// A remote command: its output comes back, and nothing of the
			// plugin's own chatter ("Starting session with SessionId…")
			// reaches ssh's stdout.
			start := time.Now()
			if got := strings.TrimSpace(string(viaPlugin(nil, "hostname"))); got != in.Hostname {
				t.Fatalf("hostname through the official plugin = %q, want %q", got, in.Hostname)
			}
			t.Logf("ssh hostname through the official plugin: %v", time.Since(start).Round(time.Millisecond))

			// A byte stream both ways: random bytes up through the plugin's
			// 1024-byte messages, and back down.
			data := make([]byte, 256<<10)
			rand.Read(data)
			start = time.Now()
			if got := viaPlugin(data, "cat"); !bytes.Equal(got, data) {
				t.Fatalf("cat through the official plugin returned %d bytes, want the %d sent", len(got), len(data))
			}
			t.Logf("%d KiB up and back through ssh, the official plugin and the sandbox in %v", len(data)>>10, time.Since(start).Round(time.Millisecond))

			// The user's way: the aws CLI as ProxyCommand starts the session
			// and runs session-manager-plugin from PATH (it asks its
			// --version: for this build's "1.2.0.0", the version in AWS's
			// source, it passes the response JSON in argv). Without
			// SSM_PLUGIN_SKIP_CLIENT_CONFIGURE the plugin signs the
			// websocket upgrade with the sandbox's credentials.
			if _, err := exec.LookPath("aws"); err != nil {
				t.Skip("aws CLI not installed")
			}
			start = time.Now()
			out, err := ssh("aws ssm start-session --target %h --document-name "+sshDocument+" --parameters portNumber=%p", nil, nil, "hostname")
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(out)); got != in.Hostname {
				t.Fatalf("hostname through the aws CLI and the official plugin = %q, want %q", got, in.Hostname)
			}
			t.Logf("ssh hostname through the aws CLI and the official plugin: %v", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestOfficialPluginStreams drives the plugin's stdin and stdout directly:
// its text before the SSH banner, its exit on stdin EOF, a byte stream
// through the sandbox's echo port, its lone "\n" → "\r" rewrite, and its
// exit on the channel_closed the sandbox sends after TerminateSession.
func TestOfficialPluginStreams(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	in := e.sb.Instances[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("banner and stdin EOF", func(t *testing.T) {
		id, resp, req := e.startSession(ctx, in.ID, 22)
		p := e.startPlugin(ctx, t, resp, req)
		prefix := "\nStarting session with SessionId: " + id + "\n"
		out := p.waitFor(t, "the SSH banner", func(b []byte) bool { return bytes.Contains(b, []byte("\r\n")) && len(b) > len(prefix) })
		if !strings.HasPrefix(string(out), prefix) {
			t.Fatalf("plugin stdout begins %q, want %q", out, prefix)
		}
		if banner := string(out[len(prefix):]); !strings.HasPrefix(banner, "SSH-2.0-") || !strings.HasSuffix(banner, "\r\n") {
			t.Fatalf("after its greeting the plugin wrote %q, want the SSH server's banner", banner)
		}
		// stdin EOF (ssh exited): the plugin just exits, with status 0.
		p.stdin.Close()
		if err := p.wait(t, 10*time.Second); err != nil {
			t.Fatalf("plugin after stdin EOF: %v", err)
		}
	})

	t.Run("echo stream, newline rewrite and channel_closed", func(t *testing.T) {
		id, resp, req := e.startSession(ctx, in.ID, 7) // the instance's echo port
		p := e.startPlugin(ctx, t, resp, req)
		prefix := "\nStarting session with SessionId: " + id + "\n"
		p.waitFor(t, "the plugin's greeting", func(b []byte) bool { return len(b) >= len(prefix) })

		data := make([]byte, 256<<10)
		rand.Read(data)
		start := time.Now()
		go p.stdin.Write(data)
		out := p.waitFor(t, "the echoed stream", func(b []byte) bool { return len(b) >= len(prefix)+len(data) })
		if got := out[len(prefix):]; !bytes.Equal(got, data) {
			t.Fatalf("echo through the official plugin returned %d bytes, want the %d sent (first difference at %d)", len(got), len(data), firstDiff(got, data))
		}
		t.Logf("%d KiB echoed through the official plugin's stdin/stdout in %v", len(data)>>10, time.Since(start).Round(time.Millisecond))

		// The plugin's known quirk: a read of exactly "\n" is sent as "\r";
		// longer payloads are untouched. The sandbox echoes what it got.
		n := len(out)
		for _, c := range []struct{ in, want string }{{"\n", "\r"}, {"two\nlines\n", "two\nlines\n"}} {
			if _, err := p.stdin.Write([]byte(c.in)); err != nil {
				t.Fatal(err)
			}
			out = p.waitFor(t, fmt.Sprintf("the echo of %q", c.in), func(b []byte) bool { return len(b) >= n+len(c.want) })
			if got := string(out[n:]); got != c.want {
				t.Fatalf("wrote %q to the plugin, the echo port returned %q; want %q", c.in, got, c.want)
			}
			n = len(out)
		}

		// TerminateSession: the sandbox sends channel_closed, and the plugin
		// says so and exits with status 0.
		if _, err := ssm.NewFromConfig(e.cfg).TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(id)}); err != nil {
			t.Fatalf("TerminateSession: %v", err)
		}
		if err := p.wait(t, 10*time.Second); err != nil {
			t.Fatalf("plugin after TerminateSession: %v", err)
		}
		if got, want := string(p.out.Bytes()[n:]), "\n\nExiting session with sessionId: "+id+".\n\n"; got != want {
			t.Fatalf("plugin's last words %q, want %q", got, want)
		}
	})
}

// TestOfficialPluginPortForwarding runs a port-forwarding session
// (AWS-StartPortForwardingSession): the plugin listens on a local port and
// multiplexes every connection over smux, to the sandbox instance's echo
// port; several connections at once each get their own bytes back.
func TestOfficialPluginPortForwarding(t *testing.T) {
	e := newEnv(t, sshd.Embedded)
	in := e.sb.Instances[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, resp, req := e.startDocument(ctx, in.ID, "AWS-StartPortForwardingSession",
		map[string][]string{"portNumber": {"7"}, "localPortNumber": {"0"}})
	p := e.startPlugin(ctx, t, resp, req)
	opened := regexp.MustCompile(`Port (\d+) opened for sessionId ` + regexp.QuoteMeta(id) + `\.\nWaiting for connections\.\.\.\n`)
	m := opened.FindSubmatch(p.waitFor(t, "the local port", opened.Match))
	addr := net.JoinHostPort("localhost", string(m[1]))

	const conns, size = 4, 64 << 10
	start := time.Now()
	errs := make(chan error, conns)
	for i := range conns {
		go func() {
			errs <- func() error {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				data := make([]byte, size)
				rand.Read(data)
				go c.Write(data)
				got := make([]byte, size)
				if _, err := io.ReadFull(c, got); err != nil {
					return fmt.Errorf("connection %d: read the echo: %w", i, err)
				}
				if !bytes.Equal(got, data) {
					return fmt.Errorf("connection %d: the echo differs from what was sent (first difference at %d)", i, firstDiff(got, data))
				}
				return nil
			}()
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d connections × %d KiB echoed through the official plugin's smux port forwarding in %v", conns, size>>10, time.Since(start).Round(time.Millisecond))
	// The plugin announces only the first connection.
	if n := strings.Count(p.out.String(), "\nConnection accepted for session ["+id+"]\n"); n != 1 {
		t.Errorf("plugin announced %d accepted connections, want 1", n)
	}

	if _, err := ssm.NewFromConfig(e.cfg).TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(id)}); err != nil {
		t.Fatalf("TerminateSession: %v", err)
	}
	if err := p.wait(t, 10*time.Second); err != nil {
		t.Fatalf("plugin after TerminateSession: %v", err)
	}
	if out := p.out.String(); !strings.HasSuffix(out, "\n\nExiting session with sessionId: "+id+".\n\n") {
		t.Fatalf("plugin's output ends %q, want its exit message", out[max(0, len(out)-200):])
	}
}

// plugin is a running session-manager-plugin whose stdout is collected.
type plugin struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *syncBuffer
	done  chan error
}

// startPlugin runs the plugin with the response JSON itself as argv[1]
// (the form the aws CLI uses for plugins up to 1.2.497.0 and for this
// build; the first ssh test uses the environment-variable form).
func (e *env) startPlugin(ctx context.Context, t *testing.T, response, request string) *plugin {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "session-manager-plugin"), e.pluginArgs(response, request)...)
	cmd.Env = append(append([]string{}, e.vars...), "SSM_PLUGIN_SKIP_CLIENT_CONFIGURE=true")
	p := &plugin{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = p.out, &stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the plugin: %v", err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			b := p.out.Bytes()
			t.Logf("plugin stdout (%d bytes, last 300): %q\nplugin stderr: %s", len(b), b[max(0, len(b)-300):], stderr.String())
		}
	})
	return p
}

// waitFor returns the plugin's stdout once ok accepts it, failing the test
// after 20 s.
func (p *plugin) waitFor(t *testing.T, what string, ok func([]byte) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b := p.out.Bytes()
		if ok(b) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s from the plugin after 20s; stdout has %d bytes, ending %q", what, len(b), b[max(0, len(b)-200):])
		}
		select {
		case err := <-p.done:
			p.done <- err
			if b := p.out.Bytes(); !ok(b) {
				t.Fatalf("plugin exited (%v) before %s; stdout %q", err, what, b[max(0, len(b)-200):])
			}
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// wait waits for the plugin to exit and returns its error (nil: status 0).
func (p *plugin) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("plugin still running after %v", timeout)
		return nil
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Bytes returns a copy of everything written so far.
func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func (s *syncBuffer) String() string { return string(s.Bytes()) }

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// shellJoin quotes args for sh, as ssh runs a ProxyCommand.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
