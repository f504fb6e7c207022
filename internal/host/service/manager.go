package service

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/jituser"
	"github.com/jitssh/jitssh/internal/imds"
	"github.com/jitssh/jitssh/internal/varlink"
)

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

// peerUID is the uid of the process a userdb call comes from.
func peerUID(ctx context.Context) (uint32, bool) {
	p, ok := varlink.PeerOf(ctx)
	return p.UID, ok
}

// Manager is the JIT user manager with what it holds open: the audit
// trail, and for the service its IMDS clients and rate-limited audit.
type Manager struct {
	*jituser.Manager
	// Config is the host configuration it was opened with.
	Config hostconfig.Config
	w      *audit.Writer
	// keys is the verification configuration of io.jitssh.Keys: the same
	// signer cache as the lookups, an IMDS client of its own, the audit
	// trail unfiltered.
	keys    authkeys.Config
	limited *audit.Limited
	clients []*imds.Client
}

// Audit is the audit trail the manager records to.
func (m *Manager) Audit() audit.Recorder { return m.w }

// Close releases the IMDS clients and closes the audit trail.
func (m *Manager) Close() {
	for _, c := range m.clients {
		c.Close()
	}
	if m.limited != nil {
		m.limited.Close()
	}
	m.w.Close()
}

// OpenAdmin opens the JIT user manager for an administrator's command
// (list, remove, kill): it creates no user.
func OpenAdmin(configPath string) (*Manager, error) {
	hc, err := hostconfig.Load(configPath)
	if err != nil {
		return nil, err
	}
	return open(hc, slog.New(slog.DiscardHandler), false)
}

// open builds the JIT user manager from the host configuration.
//
// For the service (serve) every kind of caller gets its own IMDS client
// (kept-alive connections, one IMDSv2 token a minute), so that none queues
// behind another's requests: io.jitssh.Keys (sshd's key lookups), root's
// user lookups (sshd's getpwnam at login), and every other user's lookups,
// which jituser.Limits bound besides. Otherwise the manager creates no
// user.
func open(hc hostconfig.Config, log *slog.Logger, serve bool) (*Manager, error) {
	cfg, w, err := authkeys.Setup(hc)
	if err != nil {
		if w != nil {
			w.Close()
		}
		return nil, err
	}
	mg := &Manager{Config: hc, w: w}
	cfg.Signers = authkeys.NewSignerCache(0)
	verify := func(context.Context, string) ([]authkeys.Accepted, error) {
		return nil, errors.New("this command creates no user")
	}
	if serve {
		if verify, err = mg.serviceVerify(cfg); err != nil {
			mg.Close()
			return nil, err
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

// serviceVerify opens the service's three IMDS clients (keys, root's
// lookups, other users' lookups) and the rate-limited audit trail, and
// returns the verification the user lookups use.
func (mg *Manager) serviceVerify(cfg authkeys.Config) (jituser.Verifier, error) {
	var clients [3]*imds.Client
	for i := range clients {
		c, err := authkeys.NewSharedIMDS(cfg)
		if err != nil {
			return nil, err
		}
		clients[i] = c
		mg.clients = append(mg.clients, c)
	}
	mg.keys = cfg
	mg.keys.IMDS = clients[0]
	mg.limited = audit.NewLimited(mg.w, auditBurst, auditWindow)
	cfg.Audit = userdbAudit{w: mg.limited}
	rootCfg, userCfg := cfg, cfg
	rootCfg.IMDS, userCfg.IMDS = clients[1], clients[2]
	return func(ctx context.Context, user string) ([]authkeys.Accepted, error) {
		if uid, ok := peerUID(ctx); ok && uid != 0 {
			return authkeys.Authorize(ctx, userCfg, user, "")
		}
		return authkeys.Authorize(ctx, rootCfg, user, "")
	}, nil
}
