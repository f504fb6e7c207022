package hostcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/blocklist"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/jituser"
	"github.com/jitssh/jitssh/internal/host/keyservice"
	"github.com/jitssh/jitssh/internal/host/userdb"
	"github.com/jitssh/jitssh/internal/imds"
	"github.com/jitssh/jitssh/internal/varlink"
)

// expiryInterval is how often the userdb service removes expired users.
const expiryInterval = time.Hour

func newUserdbCmd(stderr io.Writer) *cobra.Command {
	var configPath, socketDir string
	cmd := &cobra.Command{
		Use:   "userdb [--config PATH]",
		Short: "Serve just-in-time users to glibc through systemd's userdb (nss-systemd)",
		Long: `userdb is the just-in-time user service. It listens on
` + userdb.Dir + `/<service> (service from [jit] in the configuration, default
` + hostconfig.DefaultService + `) and answers io.systemd.UserDatabase calls, which glibc's
nss-systemd sends for every getpwnam/getpwuid/getgrnam/initgroups that
/etc/passwd and /etc/group cannot answer ("passwd: files systemd" in
/etc/nsswitch.conf).

A user is created on its first lookup, and only if IMDS holds a valid,
verified EC2 Instance Connect key for that name right now: the same checks
as authorized-keys. Names must be lower-case POSIX names of at most 32
characters, and never shadow /etc/passwd, /etc/group or a reserved name.
UIDs are derived from the name (the same on every host) in [jit] uid_min..
uid_max and never reused; the home directory is made from /etc/skel;
supplementary groups come from [[jit.groups]] rules on the key's IAM caller.

It also answers io.jitssh.Keys on keys_socket (default
/run/jitssh/io.jitssh.Keys, root only) for jitssh-authkeys, sshd's
AuthorizedKeysCommand: every call verifies the user's keys as
authorized-keys does and records each key served, reusing the verified
signer chain (at most 5 minutes), an IMDS client and its token.

Anyone may look up names, so the service bounds what they cause: key
lookups, root's lookups (sshd's) and other users' lookups each have their
own IMDS client; other users' verifications are rate-limited per uid and
their misses remembered (negative_ttl), root's never; connections are
capped per uid and in total, messages to 4 KiB and 2 s (docs/instance.md,
"Limits and priorities").

It runs as root under systemd (jitssh-userdb.service, see install) and logs
to stderr; users created, keys served and refusals go to the audit trail.`,
		Example: `  jitssh-host userdb
  jitssh-host userdb --config /etc/jitssh/host.toml
  SYSTEMD_LOG_LEVEL=debug getent passwd alice   # watch nss-systemd ask it`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUserdb(cmd.Context(), stderr, configPath, socketDir)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (default "+hostconfig.DefaultPath+", if it exists)")
	cmd.Flags().StringVar(&socketDir, "socket-dir", userdb.Dir, "directory of the socket (nss-systemd only reads "+userdb.Dir+")")
	return cmd
}

// userdbAudit passes the userdb service's verification refusals to the
// audit trail, marked as its own; keys it verified were not served to
// sshd, so key-served events are dropped (user-created says it instead).
type userdbAudit struct{ w audit.Recorder }

func (a userdbAudit) Record(e audit.Event) error {
	if e.Event == audit.EventKeyServed {
		return nil
	}
	e.Source = "userdb"
	return a.w.Record(e)
}

// Limits of the userdb service's two sockets (docs/instance.md, "Limits").
// nss-systemd and jitssh-authkeys send one small call per connection, at
// once: a few hundred bytes.
const (
	// maxRequest is the largest message read on either socket.
	maxRequest = 4096
	// messageTimeout: a message started must arrive whole within it.
	messageTimeout = 2 * time.Second
	// idleTimeout closes a connection that sends nothing.
	idleTimeout = 10 * time.Second
	// Connections open at once on the userdb socket: from root (sshd,
	// PAM, the administrator), from any one other uid, and from every
	// other uid together. Over a cap a connection is closed at once.
	maxRootConns    = 256
	maxConnsPerPeer = 32
	maxUserConns    = 256
	// maxKeysConns bounds io.jitssh.Keys connections (root only; sshd
	// runs one AuthorizedKeysCommand per key tried, bounded by its
	// MaxStartups).
	maxKeysConns = 128
	// maxHeld connections over a cap from uids other than root are held
	// open, unanswered, for holdOver before they are closed, so that a
	// process looping on connect waits instead of spinning against the
	// service (the CPU it would burn competes with sshd's logins).
	maxHeld  = 1024
	holdOver = 2 * time.Second
	// Audit: request-refused events of the userdb service (lookups of
	// names nobody pushed a key for, when IMDS fails) recorded one by one
	// per auditWindow; the rest summed up in one event.
	auditBurst  = 20
	auditWindow = time.Minute
)

// connCaps are the connection caps of both sockets.
type connCaps struct{ root, perPeer, users, keys, held int }

// fdReserve is what the service keeps for itself beyond its connection
// caps: standard streams, listeners, the audit and state files, IMDS
// connections (three clients of four), syslog.
const fdReserve = 64

// capsFor returns the connection caps for a file-descriptor limit: the
// defaults when they fit under it with fdReserve to spare, else every cap
// scaled down alike (at least 1), so that connections alone can never use
// up the service's descriptors.
func capsFor(nofile uint64) connCaps {
	c := connCaps{root: maxRootConns, perPeer: maxConnsPerPeer, users: maxUserConns, keys: maxKeysConns, held: maxHeld}
	need := uint64(c.root + c.users + c.keys + c.held + fdReserve)
	if nofile >= need {
		return c
	}
	avail := uint64(0)
	if nofile > fdReserve {
		avail = nofile - fdReserve
	}
	scale := func(v int) int {
		return max(1, int(uint64(v)*avail/uint64(c.root+c.users+c.keys+c.held)))
	}
	return connCaps{root: scale(c.root), perPeer: min(scale(c.perPeer), scale(c.users)), users: scale(c.users), keys: scale(c.keys), held: scale(c.held)}
}

// peerUID is the uid of the process a userdb call comes from.
func peerUID(ctx context.Context) (uint32, bool) {
	p, ok := varlink.PeerOf(ctx)
	return p.UID, ok
}

// manager is the JIT user manager with what it holds open.
type manager struct {
	*jituser.Manager
	w *audit.Writer
	// keys is the verification configuration of io.jitssh.Keys: the same
	// signer cache as the lookups, an IMDS client of its own, the audit
	// trail unfiltered.
	keys    authkeys.Config
	limited *audit.Limited
	clients []*imds.Client
}

func (m *manager) Close() {
	for _, c := range m.clients {
		c.Close()
	}
	if m.limited != nil {
		m.limited.Close()
	}
	m.w.Close()
}

// openManager builds the JIT user manager from the host configuration.
//
// For the service (source "userdb") every kind of caller gets its own IMDS
// client (kept-alive connections, one IMDSv2 token a minute), so that none
// queues behind another's requests: io.jitssh.Keys (sshd's key lookups),
// root's user lookups (sshd's getpwnam at login), and every other user's
// lookups, which jituser.Limits bound besides.
func openManager(configPath string, log *slog.Logger, source string) (*manager, error) {
	hc, err := hostconfig.Load(configPath)
	if err != nil {
		return nil, err
	}
	cfg, w, err := authkeys.Setup(hc)
	if err != nil {
		if w != nil {
			w.Close()
		}
		return nil, err
	}
	mg := &manager{w: w}
	cfg.Signers = authkeys.NewSignerCache(0)
	verify := func(context.Context, string) ([]authkeys.Accepted, error) {
		return nil, errors.New("this command creates no user")
	}
	if source == "userdb" {
		var clients [3]*imds.Client
		for i := range clients {
			if clients[i], err = authkeys.NewSharedIMDS(cfg); err != nil {
				mg.Close()
				return nil, err
			}
			mg.clients = append(mg.clients, clients[i])
		}
		mg.keys = cfg
		mg.keys.IMDS = clients[0]
		mg.limited = audit.NewLimited(w, auditBurst, auditWindow)
		cfg.Audit = userdbAudit{w: mg.limited}
		rootCfg, userCfg := cfg, cfg
		rootCfg.IMDS, userCfg.IMDS = clients[1], clients[2]
		verify = func(ctx context.Context, user string) ([]authkeys.Accepted, error) {
			if uid, ok := peerUID(ctx); ok && uid != 0 {
				return authkeys.Authorize(ctx, userCfg, user, "")
			}
			return authkeys.Authorize(ctx, rootCfg, user, "")
		}
	}
	m, err := jituser.New(jituser.Options{Policy: hc.JIT, Verify: verify, VerifyTimeout: hc.Timeout, Audit: w, Log: log, Peer: peerUID, BlockFile: hc.BlockFile})
	if err != nil {
		mg.Close()
		return nil, err
	}
	mg.Manager = m
	return mg, nil
}

func runUserdb(ctx context.Context, stderr io.Writer, configPath, socketDir string) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	hc, err := hostconfig.Load(configPath)
	if err != nil {
		return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
	}
	m, err := openManager(configPath, log, "userdb")
	if err != nil {
		return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
	}
	defer m.Close()
	sock := filepath.Join(socketDir, hc.JIT.Service)
	ln, err := varlink.Listen(sock, 0o666)
	if err != nil {
		return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
	}
	svc := &userdb.Service{Name: hc.JIT.Service, Dir: m, Log: log}
	log.Info("userdb: serving just-in-time users", "socket", sock, "uid_range", fmt.Sprintf("%d-%d", hc.JIT.UIDMin, hc.JIT.UIDMax), "state", hc.JIT.StateFile)
	caps := capsFor(1 << 20)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		caps = capsFor(rl.Cur)
	}
	log.Info("userdb: connection caps", "root", caps.root, "per_uid", caps.perPeer, "non_root", caps.users, "keys", caps.keys, "held", caps.held)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Each server closes its listener (removing its socket) when it stops;
	// the first to stop for good stops the other, and the service exits
	// with an error for systemd to restart it. Until then jitssh-authkeys
	// finds no socket and falls back to verifying by itself.
	type result struct {
		name string
		err  error
	}
	done := make(chan result, 2)
	servers := 1
	if hc.KeysSocket != "" {
		// io.jitssh.Keys for jitssh-authkeys: root only (mode 0600 and
		// SO_PEERCRED), in a directory only root can write.
		if err := os.MkdirAll(filepath.Dir(hc.KeysSocket), 0o755); err != nil {
			ln.Close()
			return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
		}
		kln, err := varlink.Listen(hc.KeysSocket, 0o600)
		if err != nil {
			ln.Close()
			return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
		}
		ks := &keyservice.Service{Config: m.keys, Log: log, Served: m.NoteLogin}
		log.Info("userdb: serving io.jitssh.Keys for jitssh-authkeys", "socket", hc.KeysSocket)
		servers++
		go func() {
			err := (&varlink.Server{
				Handler: ks.Handler(), Log: log,
				MaxRequest: maxRequest, MessageTimeout: messageTimeout, IdleTimeout: idleTimeout,
				MaxRootConns: caps.keys, MaxConns: 1, MaxConnsPerPeer: 1,
			}).Serve(ctx, keyservice.RootOnly(kln, log))
			done <- result{"io.jitssh.Keys", err}
		}()
	}
	go func() {
		t := time.NewTicker(expiryInterval)
		defer t.Stop()
		for {
			if removed, err := m.Expire(); err != nil {
				log.Error("userdb: expiry", "err", err)
			} else if len(removed) > 0 {
				log.Info("userdb: expired users removed", "users", removed)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	go func() {
		err := (&varlink.Server{
			Handler: svc.Handler(), Log: log,
			MaxRequest: maxRequest, MessageTimeout: messageTimeout, IdleTimeout: idleTimeout,
			MaxRootConns: caps.root, MaxConns: caps.users, MaxConnsPerPeer: caps.perPeer,
			HoldOver: holdOver, MaxHeld: caps.held,
		}).Serve(ctx, ln)
		done <- result{"userdb", err}
	}()
	var failed []string
	for i := 0; i < servers; i++ {
		r := <-done
		if r.err == nil && ctx.Err() == nil {
			r.err = errors.New("stopped")
		}
		if r.err != nil {
			log.Error("userdb: "+r.name+" server stopped; stopping the service (jitssh-authkeys falls back to verifying by itself)", "err", r.err)
			failed = append(failed, r.name+": "+r.err.Error())
		}
		cancel()
	}
	if len(failed) > 0 {
		return &exitError{code: ExitRefused, msg: oneLine(strings.Join(failed, "; "))}
	}
	log.Info("userdb: stopped")
	return nil
}

func newUsersCmd(stdout io.Writer) *cobra.Command {
	var configPath, output string
	cmd := &cobra.Command{
		Use:   "users",
		Short: "List, remove and block just-in-time users, and end their sessions",
		Long: `users manages the users the userdb service created (never any other).

  list            the JIT users, their UIDs, groups, creation and last-seen times
  remove NAME...  kill NAME's processes, delete the home directory and the user;
                  the UID stays retired: never given to another name
  kill NAME...    the incident-response step: SIGKILL every process of NAME,
                  including sshd's session processes, ending every SSH session,
                  until none is left (the user may log in again with a new key)
  block NAME...   put NAME on the block list (block_file, default
                  ` + hostconfig.DefaultBlockFile + `): no EC2 Instance Connect key is served
                  for it and it is never created, until unblock; block first,
                  then kill or remove, or the next login undoes the remove
  unblock NAME... take NAME off the block list
  blocked         print the block list`,
		Example: `  jitssh-host users list
  jitssh-host users list --output json
  jitssh-host users kill alice
  jitssh-host users block alice && jitssh-host users remove alice
  jitssh-host users unblock alice`,
	}
	cmd.PersistentFlags().StringVar(&configPath, "config", "", "configuration file (default "+hostconfig.DefaultPath+", if it exists)")
	list := &cobra.Command{
		Use:   "list [--output text|json]",
		Short: "List just-in-time users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openManager(configPath, slog.New(slog.DiscardHandler), "cli")
			if err != nil {
				return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
			}
			defer m.Close()
			st, err := m.State()
			if err != nil {
				return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
			}
			recs := st.Sorted()
			switch output {
			case "json":
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(recs)
			case "text":
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tUID\tGROUPS\tCREATED\tLAST SEEN\tCALLER")
				for _, r := range recs {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Name, r.UID, strings.Join(r.Groups, ","),
						r.Created.UTC().Format(time.RFC3339), r.LastSeen.UTC().Format(time.RFC3339), r.Caller)
				}
				return tw.Flush()
			}
			return fmt.Errorf("--output %q: want text or json", output)
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	remove := &cobra.Command{
		Use:   "remove NAME...",
		Short: "Remove just-in-time users (kills their processes first)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openManager(configPath, slog.New(slog.DiscardHandler), "cli")
			if err != nil {
				return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
			}
			defer m.Close()
			var errs []string
			for _, name := range args {
				r, err := m.Remove(name, "removed by an administrator", "cli")
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintf(stdout, "removed %s (uid %d, home %s)\n", r.Name, r.UID, r.Home)
			}
			if len(errs) > 0 {
				return &exitError{code: ExitRefused, msg: oneLine(strings.Join(errs, "; "))}
			}
			return nil
		},
	}
	kill := &cobra.Command{
		Use:   "kill NAME...",
		Short: "Kill every process of users, ending their SSH sessions",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openManager(configPath, slog.New(slog.DiscardHandler), "cli")
			if err != nil {
				return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
			}
			defer m.Close()
			st, err := m.State()
			if err != nil {
				return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
			}
			var errs []string
			for _, name := range args {
				uid, ok := uint32(0), false
				if r, found := st.Users[name]; found {
					uid, ok = r.UID, true
				} else {
					uid, ok = passwdUID(name)
				}
				if !ok || uid == 0 {
					errs = append(errs, fmt.Sprintf("%s: no such user (or root)", audit.Sanitize(name, 64)))
					continue
				}
				n, err := jituser.KillSessions(uid, name)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: %v", name, err))
					continue
				}
				_ = m.w.Record(audit.Event{Event: audit.EventSessionsKilled, Source: "cli", OSUser: name, UID: uid, Reason: "killed by an administrator", Detail: fmt.Sprintf("%d processes", n)})
				fmt.Fprintf(stdout, "killed %d processes of %s (uid %d)\n", n, name, uid)
			}
			if len(errs) > 0 {
				return &exitError{code: ExitRefused, msg: oneLine(strings.Join(errs, "; "))}
			}
			return nil
		},
	}
	blockCmd := func(use, short string, add bool) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				hc, err := hostconfig.Load(configPath)
				if err != nil {
					return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
				}
				if hc.BlockFile == "" {
					return &exitError{code: ExitRefused, msg: "block_file is \"\" in the configuration: there is no block list"}
				}
				_, w, err := authkeys.Setup(hc)
				if err != nil {
					if w != nil {
						w.Close()
					}
					return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
				}
				defer w.Close()
				change, event, verb := blocklist.Add, audit.EventUserBlocked, "blocked"
				if !add {
					change, event, verb = blocklist.Remove, audit.EventUserUnblocked, "unblocked"
				}
				changed, err := change(hc.BlockFile, args...)
				if err != nil {
					return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
				}
				for _, name := range changed {
					if err := w.Record(audit.Event{Time: time.Now(), Event: event, Source: "cli", OSUser: name, Reason: verb + " by an administrator", Detail: hc.BlockFile}); err != nil {
						return &exitError{code: ExitRefused, msg: oneLine(fmt.Sprintf("%s %s, but the audit failed: %v", verb, name, err))}
					}
					fmt.Fprintf(stdout, "%s %s\n", verb, name)
				}
				for _, name := range args {
					if !slices.Contains(changed, name) {
						fmt.Fprintf(stdout, "%s was already %s\n", name, verb)
					}
				}
				return nil
			},
		}
	}
	blocked := &cobra.Command{
		Use:   "blocked",
		Short: "Print the block list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hc, err := hostconfig.Load(configPath)
			if err != nil {
				return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
			}
			names, err := blocklist.Read(hc.BlockFile)
			if hc.BlockFile == "" {
				names, err = nil, nil
			}
			if err != nil {
				return &exitError{code: ExitRefused, msg: oneLine(err.Error())}
			}
			sorted := slices.Sorted(maps.Keys(names))
			for _, n := range sorted {
				fmt.Fprintln(stdout, n)
			}
			return nil
		},
	}
	cmd.AddCommand(list, remove, kill,
		blockCmd("block NAME...", "Block names: no key is served for them and they are never created", true),
		blockCmd("unblock NAME...", "Take names off the block list", false),
		blocked)
	return cmd
}

// passwdUID finds name in /etc/passwd (not through NSS).
func passwdUID(name string) (uint32, bool) {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			uid, err := strconv.ParseUint(f[2], 10, 32)
			return uint32(uid), err == nil
		}
	}
	return 0, false
}
