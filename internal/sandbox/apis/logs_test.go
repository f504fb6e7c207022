package apis

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

func (e *env) cwlogs(id world.Identity) *cloudwatchlogs.Client {
	return cloudwatchlogs.NewFromConfig(e.as(id))
}

// logsEvents returns n events one millisecond apart from base.
func logsEvents(base time.Time, msgs ...string) []cwtypes.InputLogEvent {
	out := make([]cwtypes.InputLogEvent, len(msgs))
	for i, m := range msgs {
		out[i] = cwtypes.InputLogEvent{Timestamp: aws.Int64(base.Add(time.Duration(i) * time.Millisecond).UnixMilli()), Message: aws.String(m)}
	}
	return out
}

func logsSetup(t *testing.T, c *cloudwatchlogs.Client, group string, streams ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range streams {
		if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(s)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLogsGroupsStreamsAndPut(t *testing.T) {
	e := newEnv(t, nil)
	c := e.cwlogs(alice)
	ctx := context.Background()
	logsSetup(t, c, "/jitssh/instances", "i-1", "i-2")

	_, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/jitssh/instances")})
	wantAPIError(t, err, "ResourceAlreadyExistsException", "already exists")
	_, err = c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("bad name")})
	wantAPIError(t, err, "InvalidParameterException", "at 'logGroupName' failed to satisfy constraint")
	_, err = c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/none"), LogStreamName: aws.String("x")})
	wantAPIError(t, err, "ResourceNotFoundException", "log group does not exist")
	_, err = c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/jitssh/instances"), LogStreamName: aws.String("a:b")})
	wantAPIError(t, err, "InvalidParameterException", "logStreamName")

	now := time.Now()
	out, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/jitssh/instances"), LogStreamName: aws.String("i-1"),
		LogEvents: logsEvents(now, "one", "two"), SequenceToken: aws.String("ignored-by-aws-since-2023")})
	if err != nil {
		t.Fatal(err)
	}
	if out.RejectedLogEventsInfo != nil || aws.ToString(out.NextSequenceToken) == "" {
		t.Errorf("PutLogEvents = %+v", out)
	}
	_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/jitssh/instances"), LogStreamName: aws.String("i-9"), LogEvents: logsEvents(now, "x")})
	wantAPIError(t, err, "ResourceNotFoundException", "log stream does not exist")

	groups, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/jitssh")})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToString(groups.LogGroups[0].LogGroupName) != "/jitssh/instances" {
		t.Fatalf("DescribeLogGroups = %+v, %v", groups, err)
	}
	if got := aws.ToString(groups.LogGroups[0].Arn); got != "arn:aws:logs:us-east-1:123456789012:log-group:/jitssh/instances:*" {
		t.Errorf("arn = %s", got)
	}
	streams, err := c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/jitssh/instances"), Limit: aws.Int32(1)})
	if err != nil || len(streams.LogStreams) != 1 || streams.NextToken == nil {
		t.Fatalf("DescribeLogStreams page 1 = %+v, %v", streams, err)
	}
	s1 := streams.LogStreams[0]
	if aws.ToString(s1.LogStreamName) != "i-1" || aws.ToInt64(s1.FirstEventTimestamp) != now.UnixMilli() || aws.ToInt64(s1.LastEventTimestamp) != now.UnixMilli()+1 {
		t.Errorf("stream i-1 = %+v", s1)
	}
	streams, err = c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/jitssh/instances"), NextToken: streams.NextToken})
	if err != nil || len(streams.LogStreams) != 1 || aws.ToString(streams.LogStreams[0].LogStreamName) != "i-2" || streams.NextToken != nil {
		t.Fatalf("DescribeLogStreams page 2 = %+v, %v", streams, err)
	}
}

// TestLogsPutLimits checks PutLogEvents' rules: count, size with 26 bytes
// per event, order, 24-hour span, and too old / too new events rejected by
// index while the others are stored.
func TestLogsPutLimits(t *testing.T) {
	e := newEnv(t, nil)
	c := e.cwlogs(alice)
	ctx := context.Background()
	logsSetup(t, c, "g", "s")
	put := func(ev []cwtypes.InputLogEvent) (*cloudwatchlogs.PutLogEventsOutput, error) {
		return c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), LogEvents: ev})
	}
	now := time.Now()

	// 1,048,576 bytes exactly: 4 events of 262,118 bytes + 26 each.
	big := strings.Repeat("x", 262_144-26)
	if _, err := put(logsEvents(now, big, big, big, big)); err != nil {
		t.Fatalf("a batch of exactly 1,048,576 bytes: %v", err)
	}
	_, err := put(logsEvents(now, big, big, big, big, "y"))
	wantAPIError(t, err, "InvalidParameterException", "Upload too large: 1048603 bytes exceeds limit of 1048576")
	// One event may now be as large as the batch (AWS raised 256 KB to 1 MB).
	if _, err := put(logsEvents(now, strings.Repeat("z", 1_048_576-26))); err != nil {
		t.Fatalf("one event of 1 MB: %v", err)
	}

	many := make([]string, 10_001)
	for i := range many {
		many[i] = "m"
	}
	_, err = put(logsEvents(now, many...))
	wantAPIError(t, err, "InvalidParameterException", "have length less than or equal to 10000")
	if _, err := put(logsEvents(now, many[:10_000]...)); err != nil {
		t.Fatalf("10,000 events: %v", err)
	}

	ev := logsEvents(now, "b", "a")
	ev[0].Timestamp, ev[1].Timestamp = aws.Int64(now.UnixMilli()+5), aws.Int64(now.UnixMilli())
	_, err = put(ev)
	wantAPIError(t, err, "InvalidParameterException", "must be in chronological order")

	ev = logsEvents(now, "first", "last")
	ev[0].Timestamp = aws.Int64(now.Add(-25 * time.Hour).UnixMilli())
	_, err = put(ev)
	wantAPIError(t, err, "InvalidParameterException", "cannot span more than 24 hours")
	// The span counts valid events only: a too-old one does not count.
	ev = logsEvents(now, "ancient", "recent")
	ev[0].Timestamp = aws.Int64(now.Add(-20 * 24 * time.Hour).UnixMilli())
	if out, err := put(ev); err != nil || out.RejectedLogEventsInfo == nil {
		t.Fatalf("a too-old event and a recent one: %+v, %v", out, err)
	}

	_, err = put(logsEvents(now, ""))
	wantAPIError(t, err, "InvalidParameterException", "have length greater than or equal to 1")

	// Too old and too new events are rejected by index; the rest stored.
	ev = logsEvents(now, "old", "ok")
	ev[0].Timestamp = aws.Int64(now.Add(-14*24*time.Hour - time.Minute).UnixMilli())
	ev[1].Timestamp = aws.Int64(now.Add(-14*24*time.Hour + time.Hour).UnixMilli())
	out, err := put(ev)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.RejectedLogEventsInfo; r == nil || aws.ToInt32(r.TooOldLogEventEndIndex) != 0 || r.TooNewLogEventStartIndex != nil {
		t.Errorf("rejected = %+v, want tooOldLogEventEndIndex 0", r)
	}
	ev = logsEvents(now, "ok", "new")
	ev[0].Timestamp = aws.Int64(now.Add(time.Hour).UnixMilli())
	ev[1].Timestamp = aws.Int64(now.Add(2*time.Hour + time.Minute).UnixMilli())
	out, err = put(ev)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.RejectedLogEventsInfo; r == nil || aws.ToInt32(r.TooNewLogEventStartIndex) != 1 || r.TooOldLogEventEndIndex != nil {
		t.Errorf("rejected = %+v, want tooNewLogEventStartIndex 1", r)
	}
	got := 0
	for _, m := range storedMessages(t, c, "g") {
		switch m {
		case "old", "new":
			t.Errorf("rejected event %q was stored", m)
		case "ok":
			got++
		}
	}
	if got != 2 {
		t.Errorf("%d accepted events of a partly rejected batch stored, want 2", got)
	}
}

// storedMessages returns every message of group through FilterLogEvents'
// paginator.
func storedMessages(t *testing.T, c *cloudwatchlogs.Client, group string) []string {
	t.Helper()
	var out []string
	p := cloudwatchlogs.NewFilterLogEventsPaginator(c, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			out = append(out, aws.ToString(ev.Message))
		}
	}
	return out
}

func TestLogsFilter(t *testing.T) {
	e := newEnv(t, nil)
	c := e.cwlogs(alice)
	ctx := context.Background()
	logsSetup(t, c, "g", "i-1", "i-2")
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var msgs1, msgs2 []string
	for i := range 120 {
		kind := []string{"key_served", "session_opened", "session_closed"}[i%3]
		m := fmt.Sprintf(`{"id":"e%03d","kind":%q,"user":"u%d","n":%d}`, i, kind, i%4, i)
		if i%2 == 0 {
			msgs1 = append(msgs1, m)
		} else {
			msgs2 = append(msgs2, m)
		}
	}
	ev1 := logsEvents(base, msgs1...)
	ev2 := logsEvents(base, msgs2...)
	for i := range ev1 { // interleave the streams' timestamps: i-1 even ms, i-2 odd
		ev1[i].Timestamp = aws.Int64(base.UnixMilli() + int64(2*i))
		ev2[i].Timestamp = aws.Int64(base.UnixMilli() + int64(2*i+1))
	}
	for s, ev := range map[string][]cwtypes.InputLogEvent{"i-1": ev1, "i-2": ev2} {
		if _, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String(s), LogEvents: ev}); err != nil {
			t.Fatal(err)
		}
	}
	filter := func(in cloudwatchlogs.FilterLogEventsInput) []cwtypes.FilteredLogEvent {
		t.Helper()
		in.LogGroupName = aws.String("g")
		var out []cwtypes.FilteredLogEvent
		p := cloudwatchlogs.NewFilterLogEventsPaginator(c, &in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page.Events...)
		}
		return out
	}
	all := filter(cloudwatchlogs.FilterLogEventsInput{Limit: aws.Int32(7)})
	if len(all) != 120 {
		t.Fatalf("%d events in pages of 7, want 120", len(all))
	}
	ids := map[string]bool{}
	for i, ev := range all {
		if want := fmt.Sprintf(`"id":"e%03d"`, i); !strings.Contains(aws.ToString(ev.Message), want) {
			t.Fatalf("event %d = %s, want %s (interleaved by timestamp)", i, aws.ToString(ev.Message), want)
		}
		ids[aws.ToString(ev.EventId)] = true
	}
	if len(ids) != 120 {
		t.Errorf("%d distinct event ids, want 120", len(ids))
	}
	if got := filter(cloudwatchlogs.FilterLogEventsInput{FilterPattern: aws.String(`{ $.kind = "session_opened" && $.user = "u1" }`)}); len(got) != 10 {
		t.Errorf("JSON pattern matched %d events, want 10", len(got))
	}
	if got := filter(cloudwatchlogs.FilterLogEventsInput{FilterPattern: aws.String(`{ $.n >= 100 }`)}); len(got) != 20 {
		t.Errorf("numeric pattern matched %d, want 20", len(got))
	}
	if got := filter(cloudwatchlogs.FilterLogEventsInput{FilterPattern: aws.String(`key_served -"u0"`)}); len(got) != 30 {
		t.Errorf("term pattern matched %d, want 30", len(got))
	}
	if got := filter(cloudwatchlogs.FilterLogEventsInput{LogStreamNames: []string{"i-2"}, StartTime: aws.Int64(base.UnixMilli() + 10), EndTime: aws.Int64(base.UnixMilli() + 19)}); len(got) != 5 {
		t.Errorf("stream and time range matched %d, want 5 (11,13,15,17,19)", len(got))
	}
	_, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), FilterPattern: aws.String("{ $.kind = ")})
	wantAPIError(t, err, "InvalidParameterException", "Invalid filter pattern")
	page, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), Limit: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), FilterPattern: aws.String("x"), NextToken: page.NextToken})
	wantAPIError(t, err, "InvalidParameterException", "nextToken is invalid")

	// GetLogEvents: newest first page without a token, then backwards.
	get, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("i-1"), Limit: aws.Int32(50)})
	if err != nil || len(get.Events) != 50 || !strings.Contains(aws.ToString(get.Events[49].Message), `"e118"`) {
		t.Fatalf("GetLogEvents = %d events, %v", len(get.Events), err)
	}
	back, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("i-1"), Limit: aws.Int32(50), NextToken: get.NextBackwardToken})
	if err != nil || len(back.Events) != 10 || !strings.Contains(aws.ToString(back.Events[0].Message), `"e000"`) {
		t.Fatalf("GetLogEvents backwards = %d events, %v", len(back.Events), err)
	}
	head, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("i-1"), StartFromHead: aws.Bool(true), Limit: aws.Int32(60)})
	if err != nil || len(head.Events) != 60 {
		t.Fatalf("GetLogEvents from head = %d, %v", len(head.Events), err)
	}
	end, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("i-1"), NextToken: head.NextForwardToken})
	if err != nil || len(end.Events) != 0 || aws.ToString(end.NextForwardToken) != aws.ToString(head.NextForwardToken) {
		t.Fatalf("GetLogEvents at the end = %d events, token %s (was %s), %v", len(end.Events), aws.ToString(end.NextForwardToken), aws.ToString(head.NextForwardToken), err)
	}
}

// TestLogsIAM checks that the logs: actions are authorized on AWS's
// resource ARNs: an instance role's grant of CreateLogStream and
// PutLogEvents on one group allows exactly that.
func TestLogsIAM(t *testing.T) {
	doc := policy.Document{Version: policy.Version, Statement: []policy.Statement{{Effect: policy.Allow,
		Action:   policy.Strings{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
		Resource: policy.Strings{"arn:aws:logs:*:*:log-group:/jitssh/instances:*"}}}}
	shipper := world.Identity{AccessKeyID: "AKIASANDBOXSHIPPER01", SecretAccessKey: "shipper/secret/key/0123456789abcdefghij",
		ARN: "arn:aws:sts::123456789012:assumed-role/web/i-1", UserID: "AROAWEB:i-1", Policies: []policy.Document{doc}}
	e := newEnvWith(t, world.Config{Identities: []world.Identity{alice, shipper}})
	admin, c := e.cwlogs(alice), e.cwlogs(shipper)
	ctx := context.Background()
	logsSetup(t, admin, "/jitssh/instances")
	logsSetup(t, admin, "/other")
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/jitssh/instances"), LogStreamName: aws.String("i-1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/jitssh/instances"), LogStreamName: aws.String("i-1"), LogEvents: logsEvents(time.Now(), "hi")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/other"), LogStreamName: aws.String("i-1")})
	wantAPIError(t, err, "AccessDeniedException", "is not authorized to perform: logs:CreateLogStream on resource: arn:aws:logs:us-east-1:123456789012:log-group:/other:log-stream:i-1")
	_, err = c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/jitssh/instances")})
	wantAPIError(t, err, "AccessDeniedException", "logs:FilterLogEvents")
	_, err = c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/mine")})
	wantAPIError(t, err, "AccessDeniedException", "logs:CreateLogGroup")
}

// TestLogsKnobs checks the throttle and fail knobs on CloudWatch Logs:
// ThrottlingException (400) and ServiceUnavailableException (500), for a
// period ("for:") and then not, and that the SDK's standard retryer
// retries both; PutLogEvents leaves no CloudTrail record, CreateLogGroup
// does.
func TestLogsKnobs(t *testing.T) {
	var tab knobs.Table
	dir := t.TempDir()
	tl, err := trail.Open(filepath.Join(dir, "trail.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	e := newEnvWith(t, world.Config{}, func(o *Options) { o.Knobs = &tab; o.Trail = tl })
	c := e.cwlogs(alice)
	ctx := context.Background()
	logsSetup(t, c, "g", "s")
	put := func() error {
		_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), LogEvents: logsEvents(time.Now(), "m")})
		return err
	}
	if err := tab.SetThrottle(map[string]string{"logs:PutLogEvents": "for:300ms"}); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, put(), "ThrottlingException", "Rate exceeded")
	time.Sleep(400 * time.Millisecond)
	if err := put(); err != nil {
		t.Fatalf("after the throttling period: %v", err)
	}
	if err := tab.SetFail(map[string]string{"logs:*": "next:1"}); err != nil {
		t.Fatal(err)
	}
	resp := e.raw(&alice, "logs", map[string]string{"X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Content-Type": "application/x-amz-json-1.1"}, "{}")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("failed call: HTTP %d, want 500", resp.StatusCode)
	}
	var body struct {
		Type string `json:"__type"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if !strings.HasSuffix(body.Type, "ServiceUnavailableException") {
		t.Errorf("failed call: __type %q, want ServiceUnavailableException", body.Type)
	}
	// The SDK's standard retryer rides over both.
	retrying := cloudwatchlogs.NewFromConfig(e.as(alice), func(o *cloudwatchlogs.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 5
			so.MaxBackoff = 50 * time.Millisecond
		})
	})
	if err := tab.SetFail(map[string]string{"logs:*": "next:2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := retrying.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil {
		t.Errorf("the standard retryer over two ServiceUnavailableExceptions: %v", err)
	}
	tl.Close()
	data, err := os.ReadFile(filepath.Join(dir, "trail.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"eventName":"CreateLogGroup"`) || strings.Contains(string(data), `"eventName":"PutLogEvents"`) {
		t.Errorf("CloudTrail should record CreateLogGroup and not PutLogEvents:\n%s", data)
	}
}

// TestLogsAWSCLI drives the sandbox's CloudWatch Logs with the pip aws
// CLI: create-log-group, create-log-stream, put-log-events,
// filter-log-events with a JSON pattern.
func TestLogsAWSCLI(t *testing.T) {
	e := newEnv(t, nil)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := awsCLI(t, e, alice, alice.SecretAccessKey, args...)
		if code != 0 {
			t.Fatalf("aws %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	run("logs", "create-log-group", "--log-group-name", "/jitssh/instances")
	run("logs", "create-log-stream", "--log-group-name", "/jitssh/instances", "--log-stream-name", "i-1")
	ts := time.Now().UnixMilli()
	events := fmt.Sprintf(`[{"timestamp":%d,"message":"{\"kind\":\"session_opened\",\"user\":\"alice\"}"},{"timestamp":%d,"message":"{\"kind\":\"key_served\",\"user\":\"bob\"}"}]`, ts, ts+1)
	out := run("logs", "put-log-events", "--log-group-name", "/jitssh/instances", "--log-stream-name", "i-1", "--log-events", events)
	if !strings.Contains(out, "nextSequenceToken") {
		t.Errorf("put-log-events printed %s", out)
	}
	out = run("logs", "filter-log-events", "--log-group-name", "/jitssh/instances", "--filter-pattern", `{ $.user = "alice" }`)
	var res struct {
		Events []struct {
			Message string `json:"message"`
			EventID string `json:"eventId"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("filter-log-events printed %s: %v", out, err)
	}
	if len(res.Events) != 1 || !strings.Contains(res.Events[0].Message, "session_opened") {
		t.Errorf("filter-log-events = %s", out)
	}
	_, errOut, code := awsCLI(t, e, alice, alice.SecretAccessKey, "logs", "put-log-events", "--log-group-name", "/jitssh/instances", "--log-stream-name", "nope", "--log-events", events)
	if code == 0 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Errorf("put-log-events to a missing stream: exit %d: %s", code, errOut)
	}
}

// TestLogsRegional: each (account, region) world of an organization has
// its own CloudWatch Logs, as on AWS: a group made in us-west-2 is not in
// us-east-1, and its ARN names its region.
func TestLogsRegional(t *testing.T) {
	e := newOrgEnv(t)
	west := cloudwatchlogs.NewFromConfig(e.in(orgWest, credsOf(alice)))
	east := cloudwatchlogs.NewFromConfig(e.in(testRegion, credsOf(alice)))
	ctx := context.Background()
	if _, err := west.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/jitssh/instances")}); err != nil {
		t.Fatal(err)
	}
	g, err := west.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil || len(g.LogGroups) != 1 || !strings.HasPrefix(aws.ToString(g.LogGroups[0].Arn), "arn:aws:logs:"+orgWest+":"+testAccount+":") {
		t.Fatalf("us-west-2 groups = %+v, %v", g, err)
	}
	if g, err := east.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil || len(g.LogGroups) != 0 {
		t.Fatalf("us-east-1 sees %+v, %v; want no group", g, err)
	}
}
