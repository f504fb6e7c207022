package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/jitssh/jitssh/internal/audit"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
)

// auditScale is the acceptance scale of jitssh audit: 100,000 CloudTrail
// records and 100,000 instance events in a day, 250 people, so one
// person's day is a few hundred of each. The default suite runs a fifth of
// it (20,000 of each, 50 people: the same day per person) to keep its
// time; bench/audit.sh (JITSSH_AUDIT_BENCH_OUT) and BenchmarkAudit run
// the whole and hold the wall time to the bound.
type auditScaleSize struct{ trail, host, users int }

var (
	auditScaleFull    = auditScaleSize{trail: 100_000, host: 100_000, users: 250}
	auditScaleDefault = auditScaleSize{trail: 20_000, host: 20_000, users: 50}
)

const auditScaleUser = "user-0042"

// auditScaleBench reports whether this run is the benchmark's (the whole
// scale, the wall-time bound enforced).
func auditScaleBench() bool { return os.Getenv("JITSSH_AUDIT_BENCH_OUT") != "" }

// auditScaleEnv starts a sandbox whose trail holds the generated day and
// whose log group holds the instances' events for it: for every allowed
// SendSSHPublicKey the key served, the login and the logout, and refused
// keys to fill up to size.host.
func auditScaleEnv(t testing.TB, size auditScaleSize) (*env, time.Time, time.Time) {
	t.Helper()
	end := time.Now().UTC().Truncate(time.Second)
	start := end.Add(-23 * time.Hour)
	spec := trail.GenerateSpec{Count: size.trail, Users: size.users, Start: start, End: end, Seed: 42}
	e := newEnv(t, sshd.Embedded, func(c *sandbox.Config) { c.TrailGenerate = spec })
	spec.Region, spec.Account = e.sb.World.Region, e.sb.World.Account
	gen, err := trail.Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	streams := map[string][]cwtypes.InputLogEvent{}
	n := 0
	add := func(inst string, at time.Time, ev audit.HostEvent) {
		ev.ID, ev.Time, ev.Instance = "ev-"+strconv.Itoa(n), at, inst
		b, _ := json.Marshal(ev)
		streams[inst] = append(streams[inst], cwtypes.InputLogEvent{Message: aws.String(string(b)), Timestamp: aws.Int64(at.UnixMilli())})
		n++
	}
	for _, g := range gen {
		if g.EventName != "SendSSHPublicKey" || g.ErrorCode != "" || n+3 > size.host {
			continue
		}
		at, _ := time.Parse(time.RFC3339, g.EventTime)
		fp, pid := audit.Fingerprint(g.PublicKey), fmt.Sprintf("sshd_pid=%d", n)
		add(g.Instance, at.Add(time.Second), audit.HostEvent{Event: audit.HostKeyServed, OSUser: g.OSUser, Fingerprint: fp, Caller: g.UserIdentity.ARN, RequestID: g.RequestID})
		add(g.Instance, at.Add(2*time.Second), audit.HostEvent{Event: audit.HostSessionOpened, OSUser: g.OSUser, Fingerprint: fp, Detail: pid})
		add(g.Instance, at.Add(62*time.Second), audit.HostEvent{Event: audit.HostSessionClosed, OSUser: g.OSUser, Detail: pid})
	}
	for i := 0; n < size.host; i++ {
		at := start.Add(time.Duration(i) * 23 * time.Hour / time.Duration(size.host))
		add(fmt.Sprintf("i-0f%015x", i%200+1), at, audit.HostEvent{Event: audit.HostKeyRefused, OSUser: fmt.Sprintf("user-%04d", i%size.users+1), Reason: "expired"})
	}
	logs := cloudwatchlogs.NewFromConfig(e.auditSDK(t, "admin"))
	ctx := context.Background()
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/jitssh/instances")}); err != nil {
		t.Fatal(err)
	}
	for inst, evs := range streams {
		slicesSortByTime(evs)
		if _, err := logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/jitssh/instances"), LogStreamName: aws.String(inst)}); err != nil {
			t.Fatal(err)
		}
		for len(evs) > 0 {
			batch := evs[:min(len(evs), 2000)]
			evs = evs[len(batch):]
			if _, err := logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/jitssh/instances"), LogStreamName: aws.String(inst), LogEvents: batch}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := e.auditSDK(t, "admin")
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.vars = append([]string{"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey}, withoutCredentials(e.vars)...)
	return e, start, end
}

func withoutCredentials(vars []string) []string {
	var out []string
	for _, kv := range vars {
		if len(kv) > 6 && (kv[:6] == "AWS_AC" || kv[:6] == "AWS_SE") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// auditRun runs jitssh audit --user auditScaleUser for the day and
// returns its result and wall time.
func auditRun(t testing.TB, e *env, start, end time.Time) (auditJSON, time.Duration) {
	t.Helper()
	begin := time.Now()
	out, err := e.run("jitssh", "audit", "--user", auditScaleUser, "--since", start.Format(time.RFC3339), "--until", end.Format(time.RFC3339), "--output", "json")
	wall := time.Since(begin)
	if err != nil {
		t.Fatal(err)
	}
	var res auditJSON
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return res, wall
}

type auditJSON struct {
	Entries []audit.Entry
	Errors  []string
	Stats   audit.Stats
}

// TestAuditScale: jitssh audit --user for one day over many CloudTrail
// records and instance events reads the person's day (every login joined)
// in as many LookupEvents calls as pages, none throttled; under
// bench/audit.sh, at the acceptance scale (100,000 of each), within
// 1.2 × (pages ÷ 2 a second) + 1 s.
func TestAuditScale(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 200,000 events")
	}
	size := auditScaleDefault
	if auditScaleBench() {
		size = auditScaleFull
	}
	e, start, end := auditScaleEnv(t, size)
	res, wall := auditRun(t, e, start, end)
	pages := res.Stats.TrailPages
	// Calls as the sandbox saw them: its CloudTrail records every
	// LookupEvents call, throttled ones with their error.
	b, err := os.ReadFile(e.sb.CloudTrail)
	if err != nil {
		t.Fatal(err)
	}
	calls := bytes.Count(b, []byte(`"eventName":"LookupEvents"`))
	throttled := bytes.Count(b, []byte(`"errorCode":"ThrottlingException"`))
	bound := time.Duration(1.2*float64(pages)/2*float64(time.Second)) + time.Second
	joined, gaps := 0, 0
	for _, en := range res.Entries {
		if en.Kind == audit.KindAccess && en.Login != nil && en.Logout != nil && en.RequestID != "" {
			joined++
		}
		gaps += len(en.Gaps)
	}
	t.Logf("jitssh audit --user %s: %d entries (%d logins joined, %d gaps), CloudTrail %d pages, %d calls (%d throttled) / %d events, logs %d pages / %d events, wall %v, bound %v",
		auditScaleUser, len(res.Entries), joined, gaps, pages, calls, throttled, res.Stats.TrailEvents, res.Stats.LogPages, res.Stats.LogEvents, wall.Round(time.Millisecond), bound)
	if f := os.Getenv("JITSSH_AUDIT_BENCH_OUT"); f != "" {
		os.WriteFile(f, fmt.Appendf(nil, "pages=%d calls=%d throttled=%d trail_events=%d log_pages=%d log_events=%d entries=%d joined=%d wall=%v bound=%v\n",
			pages, calls, throttled, res.Stats.TrailEvents, res.Stats.LogPages, res.Stats.LogEvents, len(res.Entries), joined, wall.Round(time.Millisecond), bound), 0o644)
	}
	if int64(calls) != pages || throttled != 0 {
		t.Errorf("%d LookupEvents calls (%d throttled) for %d pages: the client did not pace itself", calls, throttled, pages)
	}
	if len(res.Errors) > 0 || joined < 20 || pages < 2 {
		t.Fatalf("errors %v, %d logins joined, %d pages: the day of %s was not read", res.Errors, joined, pages, auditScaleUser)
	}
	// The bound is a benchmark's (bench/audit.sh, docs/benchmarks.md): the
	// default suite shares the machine with other packages' tests.
	if auditScaleBench() && wall > bound {
		t.Fatalf("wall time %v over the bound %v (%d pages)", wall, bound, pages)
	}
}

// BenchmarkAudit times jitssh audit --user over the acceptance scale.
func BenchmarkAudit(b *testing.B) {
	e, start, end := auditScaleEnv(b, auditScaleFull)
	var res auditJSON
	for b.Loop() {
		res, _ = auditRun(b, e, start, end)
	}
	b.ReportMetric(float64(res.Stats.TrailPages), "pages/op")
	b.ReportMetric(float64(res.Stats.LogEvents), "log-events/op")
}
