// Package sandbox composes the local AWS: one HTTP listener on 127.0.0.1
// serving the AWS APIs (EC2, EC2 Instance Connect, SSM, STS, and IAM
// Identity Center's OIDC, portal and sign-in pages), the SSM
// data-channel websocket and the EC2 Instance Connect Endpoint's
// /openTunnel websocket, plus per simulated instance an IMDS listener, a
// jitssh-host configuration and an SSH server (the real OpenSSH sshd, or an
// embedded one). It is what `jitssh-sandbox up`, the demo, the end-to-end
// tests and the benchmarks run. Production code never imports it.
package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/sandbox/agent"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/cwlogs"
	"github.com/jitssh/jitssh/internal/sandbox/fault"
	"github.com/jitssh/jitssh/internal/sandbox/kms"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/netns"
	"github.com/jitssh/jitssh/internal/sandbox/passwdns"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/sso"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Defaults of the built-in account.
const (
	DefaultRegion  = config.DefaultRegion
	DefaultAccount = config.DefaultAccount
	DefaultRole    = config.DefaultRole
)

// Config configures a sandbox. Zero fields take the built-in defaults.
type Config struct {
	// Addr is the API listen address; default 127.0.0.1:0 (any free port).
	// It must be a loopback address unless AllowNonLoopback: the sandbox
	// hands out credentials to anyone who can reach it.
	Addr string
	// AllowNonLoopback lets Addr be a non-loopback address
	// (`jitssh-sandbox up --addr … --allow-non-loopback`).
	AllowNonLoopback bool
	// AdminToken is the secret the /_sandbox/ admin endpoints require
	// (header "Authorization: Bearer <token>"); "" means a random one.
	// The env file carries it as JITSSH_SANDBOX_ADMIN_TOKEN.
	AdminToken string
	// Account is the simulated account: region, identities (the first is
	// the default one, in the env file), SCPs and instances. Nil means the
	// built-in account (config.Builtin), whose default identity is named
	// after the local user.
	Account *config.Account
	// Region, when set, must be the account's region.
	Region string
	// Instances, when set, replace the account's instances.
	Instances []world.Instance
	// StateDir holds host keys, sshd configs, logs and audit files;
	// default a new temporary directory removed by Close.
	StateDir string
	// HostBinary is the jitssh-host binary used as sshd's
	// AuthorizedKeysCommand in OpenSSH mode. Default: jitssh-host next to
	// the running executable, else on PATH. Without it the embedded SSH
	// server is used.
	HostBinary string
	// SSHMode selects the SSH server; default sshd.Auto.
	SSHMode sshd.Mode
	// JIT runs a jitssh-host userdb service for each instance with
	// jit = true (JITOff, the default; JITAuto; JITOn): its OpenSSH sshd
	// then creates unknown users with a valid pushed key on first login.
	JIT string
	// Faults are injected on every data-channel connection (SetFaults and
	// the /_sandbox/faults endpoint change them at run time).
	Faults fault.Config
	// FastAgent selects the sandbox's fast agent (AgentMaxPayload-sized
	// messages at once, acknowledgements on receipt) instead of the
	// default AWS-like one (agent.AWSLike: 1024-byte messages 1 ms
	// apart, acknowledgement after delivery), for tests that need speed.
	FastAgent bool
	// IdleSessionTimeout and MaxSessionDuration override the account's
	// Session Manager preferences (config's [session_preferences]) when
	// not zero: a session with no stream data for IdleSessionTimeout, or
	// any session at MaxSessionDuration, is ended with channel_closed as
	// Session Manager does.
	IdleSessionTimeout, MaxSessionDuration time.Duration
	// TrailGenerate describes synthetic CloudTrail records (package
	// trail's Generate) the trail starts with, for LookupEvents at scale
	// (`jitssh-sandbox up --generate-trail N`); a Count of 0 means none.
	// Region and Account default to the home world's, Start to 24 hours
	// ago and End to now.
	TrailGenerate trail.GenerateSpec
	// AgentMaxPayload is the payload size the fast agent sends; 0
	// means 32 KiB.
	AgentMaxPayload int
	// Latency and Throttle are per-API rules (package knobs), e.g.
	// {"ec2:DescribeInstances": "200ms"} and {"ssm:StartSession": "25%"};
	// SetLatency, SetThrottle and the admin endpoints change them at run
	// time.
	Latency, Throttle map[string]string
	// TLS serves the API listener (APIs, the data channel, EICE's
	// /openTunnel, Identity Center) over HTTPS and WSS with a certificate
	// of a CA made for this sandbox, written to the state directory
	// (CAFile) and named by the env file's AWS_CA_BUNDLE
	// (`jitssh-sandbox up --tls`).
	TLS bool
	// HostName, when set, is the host name in the sandbox's URLs and (with
	// TLS) its certificate instead of the listener's IP address: a name
	// that resolves nowhere, for clients that reach the sandbox through a
	// proxy, which Go's proxy selection never uses for loopback addresses
	// (`jitssh-sandbox up --host-name`).
	HostName string
	// StreamBase, when set, replaces the scheme, host and port of the
	// stream URLs that StartSession and ResumeSession answer with (e.g.
	// wss://ssmmessages.us-east-1.amazonaws.com:443, as AWS answers even
	// to a client that must use a VPC endpoint): a test of the ssmmessages
	// endpoint override. Default: the sandbox's own URL.
	StreamBase string
	// AcceptFrom, when set, is asked about each connection to the API
	// listener: connections it refuses are closed at once, unserved (a
	// test that must see every connection come through its proxy).
	AcceptFrom func(remote net.Addr) bool
	// Fail are per-API fail rules (the throttle forms): the calls they
	// pick are answered with HTTP 500, as a service failing inside.
	Fail   map[string]string
	Logger *slog.Logger
}

// InstanceInfo describes a simulated instance to users of the sandbox
// (written to the instances JSON file).
type InstanceInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Hostname  string `json:"hostname"`
	State     string `json:"state"`
	PrivateIP string `json:"private_ip"`
	PublicIP  string `json:"public_ip,omitempty"`
	// PublicAddr is "<public ip>:<ssh port>", where the instance's SSH
	// server answers from the sandbox's loopback "internet" (empty for
	// private-only instances).
	PublicAddr string `json:"public_addr,omitempty"`
	SSHServer  string `json:"ssh_server"` // "openssh" or "embedded"
	AuditLog   string `json:"audit_log"`
	SSHDLog    string `json:"sshd_log,omitempty"`
	// JITService is the userdb service (socket name in
	// /run/systemd/userdb) creating just-in-time users for the instance.
	JITService string `json:"jit_service,omitempty"`
	// SSHAddr is a 127.0.0.1 TCP address that reaches the instance's SSH
	// server directly, whatever its network: a back door for benchmarks
	// and tests, not a network path a client would have (see PublicAddr).
	SSHAddr string `json:"ssh_addr"`
	IMDS    string `json:"imds_endpoint,omitempty"`
	// Managed marks an SSM managed (hybrid, mi-…) instance: no IMDS, not
	// in EC2.
	Managed bool `json:"managed,omitempty"`
	// Account and Region are an organization's instance's when not the
	// management account's home region (empty: that one).
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
	// Homes (as root, OwnAccounts) is the directory of the instance's
	// home directories: its accounts are the machine's, each with its
	// home moved to Homes/<name>, and RootUser (docs/sandbox.md).
	Homes string `json:"homes,omitempty"`
}

// Sandbox is a running local AWS.
type Sandbox struct {
	URL string // API and data-channel endpoint, http://127.0.0.1:PORT (https:// with Config.TLS; Config.HostName for the address)
	// CABundle is the PEM file of the sandbox's CA certificate with
	// Config.TLS (AWS_CA_BUNDLE in Env and the env file), else "".
	CABundle string
	// AdminToken is the secret of the /_sandbox/ admin endpoints (see
	// Config.AdminToken).
	AdminToken string
	World      *world.World
	// Org is the organization: the management account (World in its
	// home region) and its member accounts, each with a world per
	// enabled region (world.Single(World) without [organization]).
	Org           *world.Org
	orgAccessRole string         // the members' access role ("" without an organization)
	Identity      world.Identity // the default identity's credentials
	Instances     []InstanceInfo
	StateDir      string
	// SSHPort is the port the SSH servers of public instances listen on at
	// their public IPs: 22 when the sandbox could bind it, else a free one.
	SSHPort int
	// CloudTrail is the path of the CloudTrail JSON-lines log.
	CloudTrail string
	// SSO is the account's IAM Identity Center (ssosvc.go).
	SSO *sso.Service
	// Logs is the default world's CloudWatch Logs, served on URL (LogsOf:
	// another account's or region's).
	Logs     *cwlogs.Store
	logsMu   sync.Mutex
	logs     map[*world.World]*cwlogs.Store
	ssoSetup ssoSetup

	identities []world.Identity // every identity, default first
	sts        stsState

	log         *slog.Logger
	servers     []*http.Server
	hosts       map[string]*sshd.Server
	accounts    map[string]*passwdns.DB // managed instances that run the key-placement script
	netns       map[string]*netns.NS    // instances' network namespaces; complete before the first request, as hosts
	faults      faultTable
	faultTotals fault.Counters
	knobs       knobs.Table
	jitMu       sync.Mutex
	jitProcs    map[string]*jitProc // userdb services by instance id (jit.go)
	agent       *agent.Handler
	kms         *kms.Service      // the account's KMS (kmssvc.go)
	shellPrefs  agent.Preferences // KMS key, Run As and shell profile of the preferences
	pub         *publicNet
	mitm        mitmTable
	sni         serverNames // TLS connections by SNI (Config.TLS)
	cleanups    []func()
	closeOnce   sync.Once
	hostRun     hostRunner // Run Command's jitssh-host (hostrun.go)
}

// DefaultInstances is the built-in fleet: two web servers and a database,
// all running with SSM online.
func DefaultInstances() []world.Instance {
	a, err := config.Builtin().Resolve("developer")
	if err != nil {
		panic("sandbox: built-in account: " + err.Error())
	}
	return a.Instances
}

func (sb *Sandbox) serve(ln net.Listener, h http.Handler) {
	// The server's own complaints (a client that hung up during the TLS
	// handshake, ...) go to the sandbox's log, not to stderr.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(sb.log.Handler(), slog.LevelDebug)}
	sb.servers = append(sb.servers, srv)
	go srv.Serve(ln)
}

// listenSSH accepts TCP connections on 127.0.0.1 and hands each to srv.
func (sb *Sandbox) listenSSH(id string, srv *sshd.Server) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen for direct SSH: %w", err)
	}
	sb.cleanups = append(sb.cleanups, func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if err := sb.checkRunning(id); err != nil {
					sb.log.Info("direct SSH connection refused", "err", err)
					c.Close()
					return
				}
				sb.pipeSSH(c, srv)
			}()
		}
	}()
	return ln.Addr().String(), nil
}

// pipeSSH connects c to a new connection of srv until either side ends.
func (sb *Sandbox) pipeSSH(c net.Conn, srv *sshd.Server) {
	defer c.Close()
	dst, err := srv.Open(context.Background())
	if err != nil {
		sb.log.Warn("direct SSH connection refused", "err", err)
		return
	}
	defer dst.Close()
	go func() {
		io.Copy(dst, c)
		dst.CloseWrite()
	}()
	io.Copy(c, dst)
}

// dial connects from an instance to host:port: the sandbox's VPC routing.
// host "" (or localhost) is the instance itself; otherwise it must name a
// running instance of the same VPC by private IP or private DNS name.
// Each instance serves SSH on port 22 and the echo service (RFC 862) on
// port 7, which the tunnel tests use.
func (sb *Sandbox) dial(ctx context.Context, instanceID, host string, port int) (agent.Conn, error) {
	id := instanceID
	if host != "" && host != "localhost" && host != "127.0.0.1" {
		w := sb.worldOf(instanceID)
		from, ok := w.Instance(instanceID)
		if !ok {
			return nil, fmt.Errorf("dial %s:%d: no instance %s", host, port, instanceID)
		}
		return sb.dialVPC(ctx, w, from.VpcID, host, port)
	}
	return sb.dialInstance(ctx, id, port)
}

// dialVPC connects to host:port in a VPC of world w, host being a private
// IP or private DNS name of a running instance there.
func (sb *Sandbox) dialVPC(ctx context.Context, w *world.World, vpcID, host string, port int) (agent.Conn, error) {
	id := ""
	for _, in := range w.Instances() {
		if in.VpcID == vpcID && (host == in.PrivateIP || host == in.PrivateDNS) {
			id = in.ID
			if in.State != "running" {
				return nil, fmt.Errorf("dial %s:%d: connection timed out (instance %s is %s)", host, port, in.ID, in.State)
			}
		}
	}
	if id == "" {
		return nil, fmt.Errorf("dial %s:%d: no such host in %s", host, port, vpcID)
	}
	return sb.dialInstance(ctx, id, port)
}

func (sb *Sandbox) dialInstance(ctx context.Context, id string, port int) (agent.Conn, error) {
	srv, ok := sb.hosts[id]
	if !ok {
		return nil, fmt.Errorf("instance %s has no SSH server", id)
	}
	if err := sb.checkRunning(id); err != nil {
		return nil, err
	}
	switch port {
	case 22:
		return srv.Open(ctx)
	case 7:
		r, w := io.Pipe()
		return echoConn{r, w}, nil
	}
	return nil, fmt.Errorf("connection refused: nothing listens on port %d of %s", port, id)
}

// checkRunning fails for an instance that is not running: nothing on it
// answers.
func (sb *Sandbox) checkRunning(id string) error {
	if in, ok := sb.worldOf(id).Instance(id); ok && in.State != "running" {
		return fmt.Errorf("connect to %s: the instance is %s", id, in.State)
	}
	return nil
}

// echoConn returns what is written to it; CloseWrite ends the echo.
type echoConn struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (e echoConn) Read(p []byte) (int, error)  { return e.r.Read(p) }
func (e echoConn) Write(p []byte) (int, error) { return e.w.Write(p) }
func (e echoConn) CloseWrite() error           { return e.w.Close() }
func (e echoConn) Close() error                { e.w.Close(); return e.r.Close() }

// Env returns the environment that points AWS clients (jitssh, the SDK, the
// aws CLI) at the sandbox with the default identity.
func (sb *Sandbox) Env() []string {
	return append([]string{
		"AWS_ENDPOINT_URL=" + sb.URL,
		// The Go SDK's assume-role and web identity credential providers
		// resolve their STS client's endpoint before AWS_ENDPOINT_URL is
		// applied (aws-sdk-go-v2 config): the service variable reaches them.
		"AWS_ENDPOINT_URL_STS=" + sb.URL,
		"AWS_ACCESS_KEY_ID=" + sb.Identity.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + sb.Identity.SecretAccessKey,
		"AWS_REGION=" + sb.World.Region,
		"AWS_DEFAULT_REGION=" + sb.World.Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}, append(sb.caEnv(), sb.ssoEnv()...)...)
}

// caEnv is AWS_CA_BUNDLE naming the sandbox's CA with Config.TLS.
func (sb *Sandbox) caEnv() []string {
	if sb.CABundle == "" {
		return nil
	}
	return []string{"AWS_CA_BUNDLE=" + sb.CABundle}
}

// DefaultUser is the OS user jitssh logs in as with the default identity:
// its role session or IAM user name (RootUser as root with the sandbox's
// own accounts, for the built-in account). It is JITSSH_SANDBOX_USER in
// the env file.
func (sb *Sandbox) DefaultUser() string {
	return sb.Identity.ARN[strings.LastIndex(sb.Identity.ARN, "/")+1:]
}

// WriteFiles writes the instances JSON file and then envFile, as shell
// lines for `.`: they unset the caller's own AWS credentials and profile,
// point AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE at the sandbox's
// profiles (the default identity is [default], so `aws --profile alice`
// and `AWS_PROFILE=alice jitssh …` work as printed), give jitssh a state
// directory of the sandbox's own (JITSSH_STATE_DIR: its pins and push
// records never mix with the user's real ones, nor survive a restart), and
// name JITSSH_SANDBOX_INSTANCES (the JSON file), the admin endpoints'
// secret (EnvAdminToken) and JITSSH_SANDBOX_USER (DefaultUser).
func (sb *Sandbox) WriteFiles(envFile string) error {
	instPath := filepath.Join(sb.StateDir, "instances.json")
	b, err := json.MarshalIndent(sb.Instances, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(instPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write instances file: %w", err)
	}
	var sbld strings.Builder
	sbld.WriteString("# jitssh-sandbox environment: source this file (. FILE), then run jitssh or aws.\n")
	sbld.WriteString("# Your own AWS credentials and profile do not apply here: the sandbox's profiles do.\n")
	sbld.WriteString("unset " + strings.Join(shadowedAWSVars, " ") + "\n")
	awsConfig, awsCreds, err := sb.writeProfiles()
	if err != nil {
		return err
	}
	clientDir, err := sb.clientStateDir()
	if err != nil {
		return err
	}
	vars := []string{
		"AWS_ENDPOINT_URL=" + sb.URL,
		"AWS_ENDPOINT_URL_STS=" + sb.URL, // see Env
		"AWS_REGION=" + sb.World.Region,
		"AWS_DEFAULT_REGION=" + sb.World.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + awsConfig,
		"AWS_SHARED_CREDENTIALS_FILE=" + awsCreds,
		"JITSSH_STATE_DIR=" + clientDir,
		"JITSSH_SANDBOX_INSTANCES=" + instPath,
		EnvAdminToken + "=" + sb.AdminToken,
		"JITSSH_SANDBOX_AWS_CONFIG=" + awsConfig,
		"JITSSH_SANDBOX_AWS_CREDENTIALS=" + awsCreds,
		"JITSSH_SANDBOX_CLOUDTRAIL=" + sb.CloudTrail,
		fmt.Sprintf("JITSSH_SANDBOX_SSH_PORT=%d", sb.SSHPort),
		"JITSSH_SANDBOX_USER=" + sb.DefaultUser(),
	}
	vars = append(vars, sb.caEnv()...)
	vars = append(vars, sb.ssoEnv()...)
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&sbld, "export %s=%s\n", k, shellQuote(v))
	}
	tmp := envFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(sbld.String()), 0o600); err != nil {
		return fmt.Errorf("write env file: %w", err)
	}
	return os.Rename(tmp, envFile)
}

// shadowedAWSVars are the variables that would make a client use other
// credentials or another profile than the sandbox's config files say.
var shadowedAWSVars = []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_CA_BUNDLE"}

// clientStateDir is JITSSH_STATE_DIR in the env file: jitssh's keys, pins
// and ssh_config for this sandbox. Its push records (keys/) are emptied at
// every start: the keys they remember were pushed to a sandbox that is
// gone, so the next connection must push again.
func (sb *Sandbox) clientStateDir() (string, error) {
	dir, err := filepath.Abs(filepath.Join(sb.StateDir, "jitssh"))
	if err != nil {
		return "", err
	}
	if err := os.RemoveAll(filepath.Join(dir, "keys")); err != nil {
		return "", fmt.Errorf("clear jitssh's push records: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create jitssh's state directory: %w", err)
	}
	return dir, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Close stops every server and removes temporary state.
func (sb *Sandbox) Close() error {
	sb.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, s := range sb.servers {
			s.Shutdown(ctx)
		}
		for _, h := range sb.hosts {
			h.Close()
		}
		sb.mitm.mu.Lock()
		if sb.mitm.impostor != nil {
			sb.mitm.impostor.Close()
		}
		sb.mitm.mu.Unlock()
		for i := len(sb.cleanups) - 1; i >= 0; i-- {
			sb.cleanups[i]()
		}
	})
	return nil
}

func findHostBinary() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "jitssh-host")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	if p, err := execLookPath("jitssh-host"); err == nil {
		return p
	}
	return ""
}

var execLookPath = exec.LookPath

// embeddedAuthorizer runs the same authorization code as `jitssh-host
// authorized-keys`, in process, for the embedded SSH server.
func embeddedAuthorizer(hostConf string) func(ctx context.Context, user, fingerprint string) ([]string, error) {
	return func(ctx context.Context, user, fingerprint string) ([]string, error) {
		accepted, err := authkeys.Run(ctx, hostConf, user, fingerprint)
		if err != nil {
			return nil, err
		}
		lines := make([]string, len(accepted))
		for i, a := range accepted {
			lines[i] = a.KeyLine
		}
		return lines, nil
	}
}

// chainEnter runs the sshd.Config.Enter hooks in order (nil ones skipped).
func chainEnter(fs ...func() error) func() error {
	var hooks []func() error
	for _, f := range fs {
		if f != nil {
			hooks = append(hooks, f)
		}
	}
	if len(hooks) == 0 {
		return nil
	}
	return func() error {
		for _, f := range hooks {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}
}

// trueBinary is the AuthorizedKeysCommand of an instance without EC2
// Instance Connect: it prints no keys.
func trueBinary() string {
	for _, p := range []string{"/usr/bin/true", "/bin/true"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/bin/true"
}
