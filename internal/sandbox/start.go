package sandbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/host/install"
	"github.com/jitssh/jitssh/internal/sandbox/agent"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/cwlogs"
	"github.com/jitssh/jitssh/internal/sandbox/imdssvc"
	"github.com/jitssh/jitssh/internal/sandbox/netns"
	"github.com/jitssh/jitssh/internal/sandbox/passwdns"
	"github.com/jitssh/jitssh/internal/sandbox/signer"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Start's steps, in order, and the start of one simulated instance.

// Start starts a sandbox. Close stops it.
func Start(ctx context.Context, cfg Config) (_ *Sandbox, err error) {
	acct, err := resolveAccount(cfg)
	if err != nil {
		return nil, err
	}
	if err := applyDefaults(&cfg, acct); err != nil {
		return nil, err
	}
	sb := &Sandbox{log: cfg.Logger, hosts: map[string]*sshd.Server{}, accounts: map[string]*passwdns.DB{}, netns: map[string]*netns.NS{}}
	defer func() {
		if err != nil {
			sb.Close()
		}
	}()
	if err := sb.makeStateDir(&cfg); err != nil {
		return nil, err
	}
	sb.Identity, sb.identities = acct.Identities[0], acct.Identities
	sb.ssoSetup = ssoSetupOf(acct)
	mode, hostBin, err := sb.chooseSSHServer(&cfg)
	if err != nil {
		return nil, err
	}
	// API + data channel listener, first: the OIDC issuer's URL, which
	// the roles' web identity trust names, is on it.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	tlsCfg, err := sb.setURL(cfg, ln.Addr().(*net.TCPAddr))
	if err != nil {
		return nil, err
	}
	if err := sb.setupSTS(cfg.StateDir, acct); err != nil {
		return nil, err
	}
	if err := sb.buildWorld(&cfg, acct); err != nil {
		return nil, err
	}
	if err := sb.setupKMS(acct); err != nil {
		return nil, err
	}
	sig, rootsPath, err := sb.newSigner(cfg)
	if err != nil {
		return nil, err
	}
	if mode == sshd.OpenSSH {
		p, cleanup, err := sshd.InstallSafeBinary(hostBin)
		if err != nil {
			return nil, err
		}
		sb.cleanups = append(sb.cleanups, cleanup)
		hostBin = p
	}
	mux, err := sb.routes(cfg, ln.Addr().String())
	if err == nil {
		err = sb.startInstances(ctx, cfg, mode, sig, rootsPath, hostBin)
	}
	if err != nil {
		return nil, err
	}
	// Coalesce writes as the client does: the data channel sends many
	// small frames (docs/benchmarks.md).
	// TLS above the batching: each batch is one write of records.
	var served net.Listener = ln
	if cfg.AcceptFrom != nil {
		served = filterListener{ln, cfg.AcceptFrom}
	}
	served = datachannel.BatchListener(served)
	if tlsCfg != nil {
		served = tls.NewListener(served, tlsCfg)
	}
	sb.serve(served, mux)
	return sb, nil
}

// setURL sets sb.URL for the API listener at addr: https:// with
// Config.TLS (then the CA and the server's TLS configuration are made and
// sb.CABundle set), the host name Config.HostName else the address.
func (sb *Sandbox) setURL(cfg Config, addr *net.TCPAddr) (*tls.Config, error) {
	host := addr.IP.String()
	if cfg.HostName != "" {
		host = cfg.HostName
	}
	hostPort := net.JoinHostPort(host, strconv.Itoa(addr.Port))
	if !cfg.TLS {
		sb.URL = "http://" + hostPort
		return nil, nil
	}
	tlsCfg, ca, err := newTLS(cfg.StateDir, addr.IP, cfg.HostName)
	if err != nil {
		return nil, err
	}
	sb.URL, sb.CABundle = "https://"+hostPort, ca
	sb.sni.watch(tlsCfg)
	return tlsCfg, nil
}

// filterListener closes the connections its accept function refuses
// (Config.AcceptFrom).
type filterListener struct {
	net.Listener
	accept func(net.Addr) bool
}

func (l filterListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.accept(c.RemoteAddr()) {
			return c, err
		}
		c.Close()
	}
}

// ErrNoHostBinary: the real sshd was asked for (sshd.OpenSSH) and
// Config.HostBinary is empty and no jitssh-host was found next to the
// executable or on PATH.
var ErrNoHostBinary = errors.New("OpenSSH mode needs the jitssh-host binary, and none was found next to this program or on PATH")

// applyDefaults completes cfg from the account and the built-in defaults,
// and refuses a non-loopback address unless allowed.
func applyDefaults(cfg *Config, acct *config.Account) error {
	cfg.Region, cfg.Instances = acct.Region, acct.Instances
	if cfg.Latency == nil {
		cfg.Latency = acct.Latency
	}
	if cfg.Throttle == nil {
		cfg.Throttle = acct.Throttle
	}
	if cfg.Fail == nil {
		cfg.Fail = acct.Fail
	}
	if cfg.IdleSessionTimeout == 0 {
		cfg.IdleSessionTimeout = acct.IdleSessionTimeout
	}
	if cfg.MaxSessionDuration == 0 {
		cfg.MaxSessionDuration = acct.MaxSessionDuration
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if err := CheckLoopback(cfg.Addr); err != nil && !cfg.AllowNonLoopback {
		return err
	}
	if err := checkHostName(cfg.HostName); err != nil {
		return fmt.Errorf("sandbox configuration: %w", err)
	}
	if cfg.AgentMaxPayload == 0 {
		cfg.AgentMaxPayload = 32 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// makeStateDir creates the state directory (a temporary one removed by
// Close if cfg names none).
func (sb *Sandbox) makeStateDir(cfg *Config) error {
	if cfg.StateDir == "" {
		dir, err := os.MkdirTemp("", "jitssh-sandbox-")
		if err != nil {
			return fmt.Errorf("create state directory: %w", err)
		}
		sb.cleanups = append(sb.cleanups, func() { os.RemoveAll(dir) })
		cfg.StateDir = dir
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	sb.StateDir = cfg.StateDir
	return nil
}

// chooseSSHServer resolves the SSH server mode and the jitssh-host binary
// it needs, and gives the instances the machine's hostname where the
// mode cannot simulate theirs.
func (sb *Sandbox) chooseSSHServer(cfg *Config) (sshd.Mode, string, error) {
	mode := cfg.SSHMode
	hostBin := cfg.HostBinary
	if mode != sshd.Embedded && hostBin == "" {
		hostBin = findHostBinary()
	}
	if mode == sshd.Auto {
		mode = sshd.ResolveAuto()
		if mode == sshd.OpenSSH && hostBin == "" {
			sb.log.Warn("jitssh-host not found: using the embedded SSH server instead of OpenSSH sshd")
			mode = sshd.Embedded
		}
	}
	if mode == sshd.OpenSSH && hostBin == "" {
		return mode, "", ErrNoHostBinary
	}
	simulated := sshd.SimulatedHostnames(mode)
	realHost, _ := os.Hostname()
	for i := range cfg.Instances {
		if !simulated {
			cfg.Instances[i].Hostname = realHost
		}
	}
	return mode, hostBin, nil
}

// buildWorld gives the instances their public IPs (listening on them) and
// creates the account's state.
func (sb *Sandbox) buildWorld(cfg *Config, acct *config.Account) error {
	cfg.Instances = append([]world.Instance(nil), cfg.Instances...)
	pub, err := assignPublicIPs(acct.Region, cfg.Instances)
	if err != nil {
		return err
	}
	sb.pub, sb.SSHPort = pub, pub.port
	for _, ln := range pub.lns {
		sb.cleanups = append(sb.cleanups, func() { ln.Close() })
	}
	w, err := world.New(world.Config{Region: acct.Region, Account: acct.Account, AccountAlias: acct.Alias, Identities: acct.Identities, Instances: cfg.Instances, SCPs: acct.SCPs,
		VPCs: acct.VPCs, Subnets: acct.Subnets, Endpoints: acct.Endpoints, Roles: sb.sts.roles, MFADevices: sb.sts.devices})
	if err != nil {
		return err
	}
	sb.World = w
	return sb.buildOrg(acct)
}

// newSigner creates the sandbox's EC2 Instance Connect signer and writes
// its root certificate, which the instances trust, to the state directory.
func (sb *Sandbox) newSigner(cfg Config) (*signer.Signer, string, error) {
	sig, err := signer.New(cfg.Region)
	if err != nil {
		return nil, "", fmt.Errorf("create sandbox signer: %w", err)
	}
	rootsPath := filepath.Join(cfg.StateDir, "signer-root.pem")
	if cfg.Region != sb.World.Region {
		rootsPath = filepath.Join(cfg.StateDir, "signer-root-"+cfg.Region+".pem")
	}
	if err := os.WriteFile(rootsPath, sig.RootPEM(), 0o644); err != nil {
		return nil, "", err
	}
	return sig, rootsPath, nil
}

// routes sets the run-time knobs and returns the handler of the API
// listener at addr: the data channel, the admin endpoints, the EICE
// websocket, IAM Identity Center (by path) and the signed AWS APIs, with
// the CloudTrail log opened.
func (sb *Sandbox) routes(cfg Config, addr string) (http.Handler, error) {
	wsBase := "ws" + strings.TrimPrefix(sb.URL, "http") // ws:// or wss://
	if cfg.StreamBase != "" {
		wsBase = strings.TrimSuffix(cfg.StreamBase, "/")
	}
	if err := sb.setKnobs(cfg); err != nil {
		return nil, err
	}
	dcHandler := &agent.Handler{World: sb.World, Logger: sb.log.With("component", "agent"), MaxPayload: cfg.AgentMaxPayload,
		Fast: cfg.FastAgent, Faults: sb.faults.lookup, FaultCounters: &sb.faultTotals, Dial: sb.dial,
		Netns:       func(id string) *netns.NS { return sb.netns[id] },
		WorldOf:     sb.sessionWorld,
		Preferences: sb.shellPrefs}
	dcHandler.Preferences.IdleTimeout, dcHandler.Preferences.MaxDuration = cfg.IdleSessionTimeout, cfg.MaxSessionDuration
	sb.agent = dcHandler
	mux := http.NewServeMux()
	mux.Handle("/v1/data-channel/", dcHandler)
	admin := http.NewServeMux()
	admin.HandleFunc("/_sandbox/faults", sb.faultsHandler)
	admin.HandleFunc("/_sandbox/datachannel", sb.dataChannelHandler)
	admin.HandleFunc("/_sandbox/instances/", sb.instancesAdminHandler)
	sb.registerAdmin(admin)
	sb.registerSTSAdmin(admin)
	if sb.AdminToken = cfg.AdminToken; sb.AdminToken == "" {
		sb.AdminToken = rand.Text()
	}
	mux.Handle("/_sandbox/", requireToken(sb.AdminToken, admin))
	sb.CloudTrail = filepath.Join(cfg.StateDir, "cloudtrail.jsonl")
	tl, err := trail.Open(sb.CloudTrail)
	if err != nil {
		return nil, err
	}
	sb.cleanups = append(sb.cleanups, func() { tl.Close() })
	if g := cfg.TrailGenerate; g.Count > 0 {
		now := time.Now().UTC().Truncate(time.Second)
		if g.Start.IsZero() {
			g.Start, g.End = now.Add(-24*time.Hour), now
		}
		g.Region, g.Account = cmp.Or(g.Region, sb.World.Region), cmp.Or(g.Account, sb.World.Account)
		if _, err := tl.WriteGenerated(g); err != nil {
			return nil, fmt.Errorf("generate CloudTrail records: %w", err)
		}
	}
	dcHandler.OnPreferenceEnd = func(id string, why datachannel.EndReason) { sb.recordPreferenceEnd(tl, id, why) }
	dcHandler.DecryptKey = sb.agentDecryptKey(tl)
	sb.startSSO(mux, admin, tl)
	mux.Handle("/openTunnel", sb.newEICERouter(tl))
	mux.Handle(oidcPath+"/", sb.sts.issuer.Handler())
	if err := sb.startWebIdentityTokens(); err != nil {
		return nil, err
	}
	sb.Logs = sb.LogsOf(sb.World)
	mux.Handle("/", apis.NewRouter(sb.Org, apis.Options{
		LogsOf:        sb.LogsOf,
		OIDC:          sb.sts.issuer,
		OIDCAudiences: sb.sts.audiences,
		StreamURL:     func(id string) string { return wsBase + "/v1/data-channel/" + id + "?role=publish_subscribe" },
		Logger:        sb.log.With("component", "api"),
		Trail:         tl,
		Knobs:         &sb.knobs,
		PlaceKey:      sb.runPlacement,
		KMS:           sb.kms,
		RunHost:       sb.runHost,
	}))
	return mux, nil
}

// setKnobs sets the configured faults, latency, throttle and fail rules.
func (sb *Sandbox) setKnobs(cfg Config) error {
	if err := sb.SetFaults("", cfg.Faults); err != nil {
		return err
	}
	if err := sb.SetLatency(cfg.Latency); err != nil {
		return err
	}
	if err := sb.SetThrottle(cfg.Throttle); err != nil {
		return err
	}
	return sb.SetFail(cfg.Fail)
}

// startInstances starts every instance that is not API-only, then serves
// the public instances' SSH on their public IPs. The handlers read
// sb.hosts without a lock, so it must be complete before the first request.
func (sb *Sandbox) startInstances(ctx context.Context, cfg Config, mode sshd.Mode, sig *signer.Signer, rootsPath, hostBin string) error {
	signers := map[string]regionSigner{sb.World.Region: {sig, rootsPath}}
	for _, w := range sb.Org.Worlds() {
		if err := sb.startWorldInstances(ctx, w, cfg, mode, signers, hostBin); err != nil {
			return err
		}
	}
	for id, ln := range sb.pub.lns {
		if srv, ok := sb.hosts[id]; ok {
			sb.servePublic(id, srv, ln)
		}
	}
	return nil
}

// regionSigner is a region's EC2 Instance Connect signer and the file of
// its root certificate.
type regionSigner struct {
	sig       *signer.Signer
	rootsPath string
}

// startWorldInstances starts the instances of w that are not API-only,
// with the signer of w's region (made on first use: its RSA keys are
// slow to generate).
func (sb *Sandbox) startWorldInstances(ctx context.Context, w *world.World, cfg Config, mode sshd.Mode, signers map[string]regionSigner, hostBin string) error {
	for _, in := range w.Instances() {
		if in.Virtual {
			continue // API-only (scale): no IMDS, no SSH server
		}
		rs, ok := signers[w.Region]
		if !ok {
			rcfg := cfg
			rcfg.Region = w.Region
			sig, roots, err := sb.newSigner(rcfg)
			if err != nil {
				return err
			}
			rs = regionSigner{sig, roots}
			signers[w.Region] = rs
		}
		info, err := sb.startInstance(ctx, w, in, cfg, mode, rs.sig, rs.rootsPath, hostBin)
		if err != nil {
			return fmt.Errorf("start instance %s: %w", in.ID, err)
		}
		if w != sb.World {
			info.Account, info.Region = w.Account, w.Region
		}
		sb.Instances = append(sb.Instances, info)
	}
	return nil
}

// startInstance starts one simulated instance: its IMDS, its jitssh-host
// configuration (and userdb service), and its SSH server in its accounts
// and network.
func (sb *Sandbox) startInstance(ctx context.Context, w *world.World, in world.Instance, cfg Config, mode sshd.Mode, sig *signer.Signer, rootsPath, hostBin string) (InstanceInfo, error) {
	dir := filepath.Join(cfg.StateDir, in.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return InstanceInfo{}, err
	}
	if in.Managed {
		info, err := sb.startManaged(in, dir, mode)
		if db := sb.accounts[in.ID]; err == nil && db != nil && mode == sshd.OpenSSH && hostBin != "" {
			err = sb.hostRun.addManaged(hostBin, in.ID, dir, db)
		}
		return info, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return InstanceInfo{}, fmt.Errorf("listen for IMDS: %w", err)
	}
	imds := imdssvc.New(w, in.ID, sig)
	sb.serve(ln, imds)
	info := InstanceInfo{
		ID: in.ID, Name: in.Name(), Hostname: in.Hostname, State: in.State,
		PrivateIP: in.PrivateIP, PublicIP: in.PublicIP,
		AuditLog: filepath.Join(dir, "audit.jsonl"), IMDS: "http://" + ln.Addr().String(),
	}
	hostConf, err := sb.writeHostConfig(&info, cfg, mode, in, dir, rootsPath, hostBin)
	if err != nil {
		return InstanceInfo{}, err
	}
	if in.Bastion {
		// A bastion forwards ssh -J connections into its VPC through the
		// sandbox's routing; a real sshd would dial 10.x for real.
		mode = sshd.Embedded
	}
	scfg := sshd.Config{
		InstanceID: in.ID,
		Hostname:   in.Hostname,
		StateDir:   dir,
		Mode:       mode,
		Logger:     sb.log.With("component", "sshd", "instance", in.ID),
	}
	pam := sb.instancePAM(in, mode, dir, hostBin, hostConf)
	if err := sb.enterInstance(&scfg, &info, in, dir, ln.Addr().String(), imds, pam); err != nil {
		return InstanceInfo{}, err
	}
	sb.authorization(&scfg, in, hostBin, hostConf)
	srv, err := sshd.New(scfg)
	if err != nil {
		return InstanceInfo{}, err
	}
	sb.hosts[in.ID] = srv
	info.SSHServer = mode.String()
	if mode == sshd.OpenSSH {
		info.SSHDLog = srv.LogPath()
	}
	if info.SSHAddr, err = sb.listenSSH(in.ID, srv); err != nil {
		return InstanceInfo{}, err
	}
	if ln, ok := sb.pub.lns[in.ID]; ok {
		info.PublicAddr = ln.Addr().String()
	}
	return info, nil
}

// writeHostConfig writes the instance's jitssh-host configuration (its
// IMDS, the signer's roots, its own audit file and block list, never the
// machine's) and starts its userdb service if it has JIT users; it
// returns the configuration's path.
func (sb *Sandbox) writeHostConfig(info *InstanceInfo, cfg Config, mode sshd.Mode, in world.Instance, dir, rootsPath, hostBin string) (string, error) {
	hostConf := filepath.Join(dir, "host.toml")
	conf := fmt.Sprintf("# jitssh-host configuration of simulated instance %s\nimds_endpoint = %q\ntrusted_roots = %q\naudit_file = %q\nsyslog = false\ntimeout = \"3s\"\nblock_file = %q\n",
		in.ID, info.IMDS, rootsPath, info.AuditLog, filepath.Join(dir, "blocked"))
	jit, err := sb.newJIT(cfg.JIT, mode, in, cfg.StateDir, dir)
	if err != nil {
		return "", err
	}
	conf += jit.conf()
	if jit != nil && in.LogGroup != "" {
		conf += sb.cloudWatchConf(in, dir)
	}
	if err := os.WriteFile(hostConf, []byte(conf), 0o644); err != nil {
		return "", err
	}
	if mode == sshd.OpenSSH && hostBin != "" {
		sb.hostRun.add(hostBin, in.ID, hostConf)
	}
	if jit != nil {
		if err := sb.startJIT(in.ID, jit, hostBin, hostConf, dir); err != nil {
			return "", err
		}
		info.JITService = jit.name
	}
	return hostConf, nil
}

// instancePAM writes the instance's own /etc/pam.d/sshd when it ships
// events to CloudWatch Logs: the machine's, with the session hook
// `jitssh-host install` adds (install.Layout.WithPAMHook), so that its
// real sshd records session-opened and session-closed; "" when there is
// none (embedded server, no shipping, no PAM or no own accounts).
func (sb *Sandbox) instancePAM(in world.Instance, mode sshd.Mode, dir, hostBin, hostConf string) string {
	l := install.DefaultLayout()
	if mode != sshd.OpenSSH || in.Bastion || !in.JIT || in.LogGroup == "" || !OwnAccounts() {
		return ""
	}
	machine, err := os.ReadFile(l.PAM)
	if err != nil {
		sb.log.Warn("no PAM service for sshd: session events are not recorded", "instance", in.ID, "err", err)
		return ""
	}
	l.Bin, l.Config = hostBin, hostConf
	body, _ := l.WithPAMHook(machine)
	p := filepath.Join(dir, "pam.d-sshd")
	if err := os.WriteFile(p, body, 0o644); err != nil {
		sb.log.Warn("instance PAM service", "instance", in.ID, "err", err)
		return ""
	}
	return p
}

// cloudWatchConf is the [cloudwatch] table of an instance that ships its
// audit events to the sandbox's CloudWatch Logs (log_group), whose group
// it creates; the spool lives in the instance's state directory.
func (sb *Sandbox) cloudWatchConf(in world.Instance, dir string) string {
	w := sb.worldOf(in.ID)
	sb.LogsOf(w).CreateGroup(in.LogGroup)
	conf := fmt.Sprintf("\n[cloudwatch]\nlog_group = %q\nregion = %q\nendpoint = %q\nspool_dir = %q\nflush_interval = %q\n",
		in.LogGroup, w.Region, sb.URL, filepath.Join(dir, "spool"), CloudWatchFlush.String())
	if sb.CABundle != "" {
		conf += fmt.Sprintf("ca_bundle = %q\n", sb.CABundle)
	}
	return conf
}

// LogsOf returns the CloudWatch Logs of an (account, region) world,
// made on first use: each world has its own, as CloudWatch Logs is
// regional (Logs is the default world's).
func (sb *Sandbox) LogsOf(w *world.World) *cwlogs.Store {
	sb.logsMu.Lock()
	defer sb.logsMu.Unlock()
	if sb.logs == nil {
		sb.logs = map[*world.World]*cwlogs.Store{}
	}
	s, ok := sb.logs[w]
	if !ok {
		s = cwlogs.New(w.Region, w.Account, w.Now)
		sb.logs[w] = s
	}
	return s
}

// CloudWatchFlush is how long the instances' shippers let events wait for
// a batch: short, so tests and the demo see them soon.
const CloudWatchFlush = 500 * time.Millisecond

// enterInstance makes what scfg's server starts run on the instance: in
// its own accounts (as root, OwnAccounts) and in its network namespace
// (as root or with the real sshd), and forward through the sandbox's
// routing on a bastion.
func (sb *Sandbox) enterInstance(scfg *sshd.Config, info *InstanceInfo, in world.Instance, dir, imdsAddr string, imds http.Handler, pam string) error {
	if OwnAccounts() {
		// The instance's own accounts: the machine's, homes under its
		// state directory, and RootUser (docs/sandbox.md).
		db, err := sb.instanceAccounts(dir)
		if err != nil {
			return fmt.Errorf("accounts of %s: %w", in.ID, err)
		}
		if pam != "" {
			db.Extra = append(db.Extra, [2]string{pam, install.DefaultLayout().PAM})
		}
		scfg.Enter, scfg.LookupUser = db.Enter, db.Lookup
		info.Homes = filepath.Dir(db.Home("root"))
	}
	if scfg.Mode == sshd.OpenSSH || os.Geteuid() == 0 {
		// What runs on the instance (the real sshd and its forwarding,
		// sessions' programs, SSM shells) would reach simulated addresses
		// (10.x) on the machine's real network: give it the instance's
		// network only.
		ns, err := sb.instanceNet(in, imdsAddr, imds)
		switch {
		case err != nil && scfg.Mode == sshd.OpenSSH:
			sb.log.Warn("no network namespace for the instance's sshd: port forwarding through it is turned off", "instance", in.ID, "err", err)
			scfg.DisableForwarding = true
		case err != nil:
			sb.log.Info("no network namespace for the instance: its sessions use this machine's network", "instance", in.ID, "err", err)
		default:
			sb.netns[in.ID] = ns
			scfg.Enter = chainEnter(scfg.Enter, ns.Enter)
		}
	}
	if in.Bastion {
		id := in.ID
		scfg.Forward = func(ctx context.Context, host string, port int) (sshd.Conn, error) {
			return sb.dial(ctx, id, host, port)
		}
	}
	return nil
}

// authorization sets how scfg's server finds a user's keys: none on an
// image without EC2 Instance Connect, else jitssh-host authorized-keys
// (the real sshd's AuthorizedKeysCommand, or run in process).
func (sb *Sandbox) authorization(scfg *sshd.Config, in world.Instance, hostBin, hostConf string) {
	switch {
	case in.NoEIC && scfg.Mode == sshd.OpenSSH:
		// No ec2-instance-connect package: nothing ever serves pushed keys.
		scfg.AuthorizedKeysCommand = []string{trueBinary()}
	case in.NoEIC:
		scfg.Authorize = func(context.Context, string, string) ([]string, error) {
			return nil, errors.New("this image has no EC2 Instance Connect")
		}
	case scfg.Mode == sshd.OpenSSH:
		scfg.AuthorizedKeysCommand = []string{hostBin, "authorized-keys", "--config", hostConf, "--", "%u", "%f"}
	default:
		scfg.Authorize = embeddedAuthorizer(hostConf)
	}
}

// recordPreferenceEnd writes the CloudTrail record of a session Session
// Manager ended under the account's preferences: a TerminateSession by
// the service itself (userIdentity AWSService), with the reason.
func (sb *Sandbox) recordPreferenceEnd(tl *trail.Log, id string, why datachannel.EndReason) {
	w := sb.World
	if sw := sb.sessionWorld(id); sw != nil {
		w = sw
	}
	e := trail.New(time.Now(), "ssm", "TerminateSession", w.Region, w.Account)
	e.UserIdentity = trail.UserIdentity{Type: "AWSService"}
	e.SourceIPAddress, e.UserAgent = "ssm.amazonaws.com", "ssm.amazonaws.com"
	e.EventType = "AwsServiceEvent"
	e.RequestParameters = map[string]string{"sessionId": id}
	e.ResponseElements = map[string]string{"sessionId": id, "reason": string(why)}
	e.RequestID, e.EventID = uuid.NewString(), uuid.NewString()
	if err := tl.Write(e); err != nil {
		sb.log.Warn("CloudTrail record not written", "err", err)
	}
}
