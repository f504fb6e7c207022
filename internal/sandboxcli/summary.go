package sandboxcli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/textwidth"
)

// openLog opens where `up` logs: path, "-" for stderr, or by default
// sandbox.log in the state directory (when one is given) or a new file in
// the temporary directory, kept after the sandbox stops. Warnings and
// errors also go to stderr, so the terminal shows what needs attention
// and not a line per API call.
func openLog(path, stateDir string, verbose bool, stderr io.Writer) (*slog.Logger, string, func(), error) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	if path == "-" {
		return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), "", func() {}, nil
	}
	var f *os.File
	var err error
	switch {
	case path != "":
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	case stateDir != "":
		if err = os.MkdirAll(stateDir, 0o755); err == nil {
			f, err = os.OpenFile(filepath.Join(stateDir, "sandbox.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		}
	default:
		f, err = os.CreateTemp("", "jitssh-sandbox-*.log")
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("open the log file (--log): %w", err)
	}
	h := fanout{
		slog.NewTextHandler(f, &slog.HandlerOptions{Level: level}),
		slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}),
	}
	return slog.New(h), f.Name(), func() { f.Close() }, nil
}

// fanout sends each record to every handler that wants it.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var first error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

type summaryInfo struct {
	envFile, logPath string
	keptState        bool
}

// maxListed is how many instances the summary lists by name.
const maxListed = 10

// printSummary prints what runs and how to use it, on one screen.
func printSummary(w io.Writer, sb *sandbox.Sandbox, acct *config.Account, si summaryInfo) {
	fmt.Fprintf(w, "jitssh-sandbox: a local AWS (account %s, %s) is ready at %s\n", acct.Account, acct.Region, sb.URL)
	idWidth, nameWidth, sshWidth := summaryWidths(sb.Instances)
	for i, in := range sb.Instances {
		if i == maxListed {
			fmt.Fprintf(w, "  … and %d more (%s)\n", len(sb.Instances)-maxListed, filepath.Join(sb.StateDir, "instances.json"))
			break
		}
		where := in.PrivateIP
		if in.PublicAddr != "" {
			where += "  public " + in.PublicAddr
		}
		if in.State != "running" {
			where += "  (" + in.State + ")"
		}
		fmt.Fprintf(w, "  %-*s  %s  ssh: %-*s  %s\n", idWidth, in.ID, textwidth.Pad(in.Name, nameWidth), sshWidth, in.SSHServer, where)
	}
	total := 0
	for _, wld := range sb.Org.Worlds() {
		total += len(wld.Instances())
	}
	if n := total - len(sb.Instances); n > 0 {
		fmt.Fprintf(w, "  and %d API-only instances\n", n)
	}
	printOrg(w, sb)
	names := make([]string, 0, len(acct.Identities))
	for _, id := range acct.Identities {
		names = append(names, id.Name)
	}
	fmt.Fprintf(w, "  profiles: %s (default: %s)\n", strings.Join(names, ", "), acct.Identities[0].ARN)
	if len(acct.RoleProfiles) > 0 {
		roles := make([]string, 0, len(acct.RoleProfiles))
		for _, p := range acct.RoleProfiles {
			switch {
			case p.MFASerial != "":
				roles = append(roles, p.Name+" (MFA: ctl mfa-code "+p.Name+")")
			case p.WebIdentity:
				roles = append(roles, p.Name+" (web identity)")
			default:
				roles = append(roles, p.Name)
			}
		}
		fmt.Fprintf(w, "  role profiles: %s\n", strings.Join(roles, ", "))
	}
	if si.envFile != "" {
		fmt.Fprintf(w, "Use it from any shell (your own AWS settings do not apply there):\n")
		fmt.Fprintf(w, "  . %s\n", si.envFile)
		target, profile := "", names[len(names)-1]
		if len(names) > 1 {
			profile = names[1]
		}
		for _, in := range sb.Instances {
			if in.State == "running" && !in.Managed {
				target = or(in.Name, in.ID)
				break
			}
		}
		fmt.Fprintf(w, "  jitssh ls; aws --profile %s sts get-caller-identity\n", profile)
		if target != "" {
			fmt.Fprintf(w, "  jitssh ssh %s -- hostname\n", target)
			fmt.Fprintf(w, "  jitssh-sandbox ctl --env-file %s instance %s stop   # faults, latency, throttle too\n", si.envFile, target)
		}
		if sb.SSO != nil && len(sb.SSO.Users()) > 0 {
			fmt.Fprintf(w, "  jitssh login --profile %s --use-device-code; jitssh-sandbox ctl --env-file %s sso approve   # IAM Identity Center\n", sandbox.SSOProfile, si.envFile)
		}
	} else {
		fmt.Fprintf(w, "No --env-file: pass one to get an environment to source (AWS_ENDPOINT_URL, profiles, jitssh's state).\n")
	}
	switch {
	case si.logPath != "":
		fmt.Fprintf(w, "Log: %s (warnings are shown here too)\n", si.logPath)
	default:
		fmt.Fprintf(w, "Log: this terminal\n")
	}
	if si.keptState {
		fmt.Fprintf(w, "Ctrl-C stops it; %s is kept.\n", sb.StateDir)
	} else {
		fmt.Fprintf(w, "Ctrl-C stops it and removes %s.\n", sb.StateDir)
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// summaryWidths are the widths of the id, name and SSH server columns over
// the instances the summary lists, so that long names and mi- ids keep the
// rows aligned.
func summaryWidths(ins []sandbox.InstanceInfo) (id, name, ssh int) {
	for i, in := range ins {
		if i == maxListed {
			break
		}
		id = max(id, len(in.ID))
		name = max(name, textwidth.Width(in.Name))
		ssh = max(ssh, len(in.SSHServer))
	}
	return id, name, ssh
}

// printOrg describes the organization, when there is one: its accounts
// with their regions and AWS profiles, and its disabled regions.
func printOrg(w io.Writer, sb *sandbox.Sandbox) {
	accounts := sb.Org.Accounts()
	if len(accounts) == 1 && len(accounts[0].Regions) == 1 {
		return
	}
	const listed = 6
	var parts []string
	for i, a := range accounts {
		if i == listed {
			parts = append(parts, fmt.Sprintf("… %d more", len(accounts)-listed))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s", a.Name, a.ID))
	}
	fmt.Fprintf(w, "  organization: %d accounts (%s); regions %s", len(accounts), strings.Join(parts, ", "), strings.Join(accounts[0].RegionNames(), ", "))
	if len(accounts[0].Disabled) > 0 {
		fmt.Fprintf(w, "; not enabled: %s", strings.Join(accounts[0].Disabled, ", "))
	}
	fmt.Fprintln(w)
	if len(accounts) > 1 {
		var names []string
		for i, a := range accounts[1:] {
			if i == listed {
				names = append(names, "…")
				break
			}
			names = append(names, a.Name)
		}
		fmt.Fprintf(w, "  member profiles (the default identity assumes each OrganizationAccountAccessRole): %s\n", strings.Join(names, ", "))
	}
}
