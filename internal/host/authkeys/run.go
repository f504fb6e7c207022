package authkeys

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/jitssh/jitssh/internal/host/audit"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
)

// Additional request-level reasons, for failures before IMDS is reached.
const (
	ReasonBadConfig        Reason = "bad-config"
	ReasonAuditUnavailable Reason = "audit-unavailable"
)

// Setup turns a host configuration into a Config: it loads the trusted
// roots (hostconfig.ReadSecureFile rules apply) and opens the audit writer,
// which the caller must Close. If the audit file cannot be opened, Setup
// returns an *Error with ReasonAuditUnavailable together with the Config and
// a writer that still reaches syslog, so the refusal can be recorded.
func Setup(hc hostconfig.Config) (Config, *audit.Writer, error) {
	cfg := Config{IMDSEndpoint: hc.IMDSEndpoint, Timeout: hc.Timeout, BlockFile: hc.BlockFile}
	if hc.TrustedRoots != "" {
		pemBytes, err := hostconfig.ReadSecureFile(hc.TrustedRoots)
		if err != nil {
			return Config{}, nil, &Error{Reason: ReasonBadConfig, Err: fmt.Errorf("trusted_roots: %w", err)}
		}
		cfg.Roots = x509.NewCertPool()
		if !cfg.Roots.AppendCertsFromPEM(pemBytes) {
			return Config{}, nil, refuse(ReasonBadConfig, "trusted_roots: %s holds no PEM certificate", hc.TrustedRoots)
		}
	}
	ao := audit.Options{File: hc.AuditFile, Syslog: hc.Syslog}
	if hc.CloudWatch.Enabled() {
		ao.Spool, ao.SpoolMax = hc.CloudWatch.SpoolDir, hc.CloudWatch.SpoolMaxBytes
	}
	w, err := audit.Open(ao)
	cfg.Audit = w
	if err != nil {
		return cfg, w, &Error{Reason: ReasonAuditUnavailable, Err: err}
	}
	return cfg, w, nil
}

// Run is the whole AuthorizedKeysCommand: it loads the configuration file
// (configPath "" means hostconfig.DefaultPath, or the defaults if that does
// not exist), sets up roots and audit, and calls Authorize. The sandbox's
// embedded SSH server calls it so that it behaves exactly like the command
// sshd runs. Failures before Authorize are recorded to syslog (with the
// configured, or else default, syslog setting).
func Run(ctx context.Context, configPath, user, fingerprint string) ([]Accepted, error) {
	hc, err := hostconfig.Load(configPath)
	if err != nil {
		recordEarly(hostconfig.Default().Syslog, user, fingerprint, &Error{Reason: ReasonBadConfig, Err: err})
		return nil, &Error{Reason: ReasonBadConfig, Err: err}
	}
	return RunConfig(ctx, hc, user, fingerprint)
}

// RunConfig is Run with the configuration already loaded.
func RunConfig(ctx context.Context, hc hostconfig.Config, user, fingerprint string) ([]Accepted, error) {
	cfg, w, err := Setup(hc)
	if w != nil {
		defer w.Close()
	}
	if err != nil {
		if w != nil {
			_ = w.Record(refusalEvent(user, fingerprint, err))
		} else {
			recordEarly(hc.Syslog, user, fingerprint, err)
		}
		return nil, err
	}
	return Authorize(ctx, cfg, user, fingerprint)
}

// recordEarly sends a refusal that happened before an audit writer existed
// to syslog only.
func recordEarly(sys bool, user, fingerprint string, err error) {
	if !sys {
		return
	}
	w, _ := audit.Open(audit.Options{Syslog: true})
	defer w.Close()
	_ = w.Record(refusalEvent(user, fingerprint, err))
}

func refusalEvent(user, fingerprint string, err error) audit.Event {
	if ValidUser(user) != nil {
		user = audit.Sanitize(user, 64)
	}
	if !validFingerprint(fingerprint) {
		fingerprint = audit.Sanitize(fingerprint, 80)
	}
	return audit.Event{
		Event: audit.EventRequestRefused, OSUser: user, Fingerprint: fingerprint,
		Reason: string(ReasonOf(err)), Detail: err.Error(),
	}
}
