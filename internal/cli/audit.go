package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/audit"
)

// DefaultAuditLogGroup is the log group jitssh-host ships its events to
// unless host.toml names another.
const DefaultAuditLogGroup = "/jitssh/instances"

// auditOptions is `jitssh audit` after flag parsing.
type auditOptions struct {
	IO IOStreams
	// Scopes builds the sources of each (profile, region) to read: the
	// scope in effect (--scope, a --profile glob, --region all), else the
	// current profile and region.
	Scopes   func(ctx context.Context) (*auditSources, error)
	Filter   audit.Filter
	Since    string
	Until    string
	LogGroup string
	Output   string
	now      func() time.Time
}

func newAuditCmd(g *globals, runF func(context.Context, *auditOptions) error) *cobra.Command {
	o := &auditOptions{IO: g.io, now: time.Now, Scopes: g.auditScopes}
	cmd := &cobra.Command{
		Use:   "audit [--user U] [--principal ARN] [--instance ID] [--since T] [--until T]",
		Short: "Who did what: CloudTrail's key pushes and sessions joined with the instances' logins",
		Long: `audit prints a timeline of access: CloudTrail's records of SendSSHPublicKey,
StartSession, TerminateSession, OpenTunnel and SendCommand (LookupEvents)
joined with the events jitssh-host ships to CloudWatch Logs (FilterLogEvents
on --log-group): IAM principal → key (request id, fingerprint) → OS user →
instance → login, logout and duration. Both are read at once; LookupEvents
is paced to AWS's 2 calls a second per account and region.

Calls IAM refused are shown as DENIED with AWS's code. What does not join
is flagged, not hidden: GAP no-cloudtrail-record (the instance served a key
or opened a login no CloudTrail record in range explains) and GAP
no-instance-event (an allowed push the instance never recorded serving).

Over a scope (--scope NAME or all, --profile 'GLOB', --region all; see
docs/scopes.md) every account and region is read at once, LookupEvents
paced per account and region (two profiles of one account share its 2
calls a second); the locations and sources that could not be read are
listed at the end with the account, region and fix, and the rest is shown.

--since and --until take RFC 3339 times (2026-12-01T09:00:00Z), dates
(2026-12-01, UTC) or a duration back from now (24h); the default is the
last 24 hours. The caller needs cloudtrail:LookupEvents and
logs:FilterLogEvents on the log group (docs/audit.md).`,
		Example: `  jitssh audit --user alice
  jitssh audit --principal arn:aws:sts::123456789012:assumed-role/Dev/alice --since 2026-12-01
  jitssh audit --instance i-0abc123 --since 2h --output json | jq '.entries[] | select(.gaps)'
  jitssh audit --user alice --scope all --region all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runAudit(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Filter.User, "user", "", "the person's OS user (jitssh's just-in-time user name)")
	f.StringVar(&o.Filter.Principal, "principal", "", "the IAM principal: an ARN, or the role session or IAM user name")
	f.StringVar(&o.Filter.Instance, "instance", "", "one instance id")
	f.StringVar(&o.Since, "since", "24h", "start: RFC 3339 time, date, or duration back from now")
	f.StringVar(&o.Until, "until", "", "end: RFC 3339 time, date, or duration back from now (default now)")
	f.StringVar(&o.LogGroup, "log-group", DefaultAuditLogGroup, "the CloudWatch Logs group jitssh-host ships to")
	f.StringVarP(&o.Output, "output", "o", "table", "table or json")
	return cmd
}

func orDefaultProfile(p string) string {
	if p == "" {
		return "default"
	}
	return p
}

// parseAuditTime reads --since/--until.
func parseAuditTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return now, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: use an RFC 3339 time (2026-12-01T09:00:00Z), a date (2026-12-01) or a duration back from now (24h)", flag, v)
}

func runAudit(ctx context.Context, o *auditOptions) error {
	if o.Output != "table" && o.Output != "json" {
		return fmt.Errorf("--output %q: use table or json", o.Output)
	}
	now := o.now().UTC()
	var err error
	if o.Filter.Since, err = parseAuditTime("since", o.Since, now); err != nil {
		return err
	}
	if o.Filter.Until, err = parseAuditTime("until", o.Until, now); err != nil {
		return err
	}
	if o.Filter.Since.After(o.Filter.Until) {
		return fmt.Errorf("--since %s is after --until %s: swap them", o.Filter.Since.Format(time.RFC3339), o.Filter.Until.Format(time.RFC3339))
	}
	src, err := o.Scopes(ctx)
	if err != nil {
		return err
	}
	res, err := audit.Collect(ctx, src.scopes, audit.Request{Filter: o.Filter, LogGroup: o.LogGroup})
	var ife *audit.InvalidFilterError
	if errors.As(err, &ife) {
		return fmt.Errorf("--%s %q: a user, principal or instance has no quotes, backslashes or control characters", ife.Field, ife.Value)
	}
	if err != nil {
		return err
	}
	fails := auditFailures(src, res)
	total := 2*len(src.scopes) + len(src.failures)
	if len(fails) >= total {
		return fmt.Errorf("no source could be read, so there is no timeline:\n  %s", strings.Join(fails, "\n  "))
	}
	if o.Output == "json" {
		err = writeAuditJSON(o.IO.Out, res, fails)
	} else {
		err = writeAuditTable(o.IO.Out, res.Entries)
	}
	writeAuditFailures(o.IO.Err, fails, total)
	return err
}

// auditSourceAdvice words a failed source with what the caller needs.
func auditSourceAdvice(se audit.SourceError) string {
	msg := se.Error()
	if strings.Contains(msg, "AccessDenied") {
		if se.Source == "CloudTrail" {
			return msg + " (the caller needs cloudtrail:LookupEvents)"
		}
		return msg + " (the caller needs logs:FilterLogEvents on the log group of --log-group)"
	}
	if strings.Contains(msg, "ResourceNotFound") {
		return msg + " (no such log group: is jitssh-host shipping to CloudWatch Logs? see --log-group and docs/audit.md)"
	}
	return msg
}

func writeAuditJSON(w io.Writer, res *audit.Result, fails []string) error {
	out := struct {
		Entries []audit.Entry `json:"entries"`
		Errors  []string      `json:"errors,omitempty"`
		Stats   audit.Stats   `json:"stats"`
	}{Entries: res.Entries, Stats: res.Stats}
	if out.Entries == nil {
		out.Entries = []audit.Entry{}
	}
	out.Errors = fails
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeAuditTable(w io.Writer, entries []audit.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tWHAT\tPRINCIPAL\tOS USER@INSTANCE\tDETAIL")
	for _, e := range entries {
		where := e.Instance
		if e.OSUser != "" {
			where = e.OSUser + "@" + e.Instance
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02 15:04:05"), auditWhat(e), orDash(auditWho(e.Principal)), orDash(where), auditDetail(e))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// auditWho shortens an ARN to ACCOUNT:KIND/NAME….
func auditWho(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) == 6 {
		return f[4] + ":" + f[5]
	}
	return arn
}

func auditWhat(e audit.Entry) string {
	what := string(e.Kind)
	switch e.Kind {
	case audit.KindAccess:
		what = auditAccessWhat(e)
	case audit.KindInstanceEvent:
		what = e.Event
	case audit.KindRevoke:
		what = "revoke " + e.Event
	}
	if e.Denied {
		what += " DENIED"
	}
	for _, g := range e.Gaps {
		what += " GAP:" + string(g)
	}
	return what
}

// auditAccessWhat names the parts of an access seen: the push (CloudTrail),
// the key served and the login (the instance): push+key-served+login, …
func auditAccessWhat(e audit.Entry) string {
	var parts []string
	if !slices.Contains(e.Gaps, audit.GapNoTrail) {
		parts = append(parts, "push")
	}
	if e.KeyServed != nil {
		parts = append(parts, "key-served")
	}
	if e.Login != nil {
		parts = append(parts, "login")
	}
	return strings.Join(parts, "+")
}

func auditDetail(e audit.Entry) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("request", e.RequestID)
	add("command", e.CommandID)
	add("of", e.Subject)
	add("key", e.Fingerprint)
	add("session", e.SessionID)
	if e.Login != nil {
		add("login", e.Login.UTC().Format("15:04:05"))
	}
	if e.Logout != nil {
		add("logout", e.Logout.UTC().Format("15:04:05"))
		add("duration", e.Duration.Round(time.Second).String())
	} else if e.Login != nil {
		add("logout", "open")
	}
	if e.Denied {
		add("error", e.ErrorCode+": "+e.Error)
	}
	add("detail", e.Detail)
	return strings.Join(parts, " ")
}
