package apis

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// newTrailEnv is newEnv with a CloudTrail log holding the n generated
// records of a day starting at day.
func newTrailEnv(t *testing.T, n int, day time.Time) (*env, []trail.Generated) {
	t.Helper()
	tl, err := trail.Open(filepath.Join(t.TempDir(), "cloudtrail.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	spec := trail.GenerateSpec{Count: n, Users: 20, Instances: 10, Start: day, Region: testRegion, Account: testAccount, Seed: 7}
	gen, err := trail.Generate(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tl.WriteGenerated(spec); err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, world.Config{Instances: testInstances(), Identities: []world.Identity{alice, bob, ctNobody}}, func(o *Options) { o.Trail = tl })
	return e, gen
}

// ctNobody has no policy: LookupEvents is denied.
var ctNobody = world.Identity{AccessKeyID: "AKIASANDBOXNOCT00001", SecretAccessKey: "nopolicy/secret/0123456789abcdefghijklmn",
	ARN: "arn:aws:iam::123456789012:user/nobody", UserID: "AIDANOBODY"}

func (e *env) cloudtrail(id world.Identity) *cloudtrail.Client {
	return cloudtrail.NewFromConfig(e.as(id))
}

// lookupAll pages through LookupEvents, 2 calls a second. A throttled
// call is made again a second later, as a client of AWS's must: the
// limit counts calls as the server handles them, and on a loaded machine
// two calls sent half a second apart can be handled closer together.
func lookupAll(t *testing.T, c *cloudtrail.Client, in *cloudtrail.LookupEventsInput) []cttypes.Event {
	t.Helper()
	var out []cttypes.Event
	for throttled := 0; ; {
		time.Sleep(time.Second / LookupEventsRate)
		page, err := c.LookupEvents(context.Background(), in)
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "ThrottlingException" && throttled < 5 {
			throttled++
			time.Sleep(time.Second)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Events...)
		if page.NextToken == nil {
			return out
		}
		in.NextToken = page.NextToken
	}
}

func TestLookupEventsFilterOrderPages(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	e, gen := newTrailEnv(t, 3000, day)
	ct := e.cloudtrail(alice)
	start, end := day.Add(6*time.Hour), day.Add(18*time.Hour)
	got := lookupAll(t, ct, &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("user-0007")}},
		StartTime:        aws.Time(start), EndTime: aws.Time(end), MaxResults: aws.Int32(7),
	})
	var want []string
	for _, g := range slices.Backward(gen) {
		tm, _ := time.Parse(time.RFC3339, g.EventTime)
		if strings.HasSuffix(g.UserIdentity.ARN, "/user-0007") && !tm.Before(start) && !tm.After(end) {
			want = append(want, g.EventID)
		}
	}
	var ids []string
	for i, ev := range got {
		ids = append(ids, aws.ToString(ev.EventId))
		if i > 0 && ev.EventTime.After(*got[i-1].EventTime) {
			t.Fatalf("event %d is newer than the one before: not newest first", i)
		}
		var rec trail.Event
		if err := json.Unmarshal([]byte(aws.ToString(ev.CloudTrailEvent)), &rec); err != nil || rec.EventID != aws.ToString(ev.EventId) {
			t.Fatalf("CloudTrailEvent is not the record of %s: %v %q", aws.ToString(ev.EventId), err, aws.ToString(ev.CloudTrailEvent))
		}
		if aws.ToString(ev.Username) != "user-0007" {
			t.Fatalf("Username %q", aws.ToString(ev.Username))
		}
	}
	if len(want) < 20 || !slices.Equal(ids, want) {
		t.Fatalf("got %d events, want the %d of user-0007 between 06:00 and 18:00 newest first", len(ids), len(want))
	}

	// by EventName and by ResourceName (the instance of SendSSHPublicKey)
	push := lookupAll(t, ct, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
		AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("SendSSHPublicKey")}}})
	n := 0
	for _, g := range gen {
		if g.EventName == "SendSSHPublicKey" {
			n++
		}
	}
	if len(push) != n {
		t.Fatalf("EventName=SendSSHPublicKey: %d events, want %d", len(push), n)
	}
	inst := aws.ToString(push[0].Resources[0].ResourceName)
	for _, ev := range lookupAll(t, ct, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
		AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(inst)}}}) {
		if !slices.ContainsFunc(ev.Resources, func(r cttypes.Resource) bool { return aws.ToString(r.ResourceName) == inst }) {
			t.Fatalf("ResourceName=%s returned %s without it", inst, aws.ToString(ev.EventId))
		}
	}
}

func ctErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestLookupEventsValidation(t *testing.T) {
	t.Parallel()
	e, _ := newTrailEnv(t, 10, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	ct := e.cloudtrail(alice)
	attr := func(k cttypes.LookupAttributeKey, v string) cttypes.LookupAttribute {
		return cttypes.LookupAttribute{AttributeKey: k, AttributeValue: aws.String(v)}
	}
	now := time.Now()
	for _, tc := range []struct {
		name string
		in   cloudtrail.LookupEventsInput
		code string
	}{
		{"two attributes", cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
			attr(cttypes.LookupAttributeKeyEventName, "A"), attr(cttypes.LookupAttributeKeyUsername, "b")}}, "InvalidLookupAttributesException"},
		{"unknown key", cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{attr("Colour", "x")}}, "InvalidLookupAttributesException"},
		{"ReadOnly not boolean", cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{attr(cttypes.LookupAttributeKeyReadOnly, "yes")}}, "InvalidLookupAttributesException"},
		{"MaxResults 51", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
		{"MaxResults 0", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(0)}, "InvalidMaxResultsException"},
		{"start after end", cloudtrail.LookupEventsInput{StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Hour))}, "InvalidTimeRangeException"},
		{"foreign token", cloudtrail.LookupEventsInput{NextToken: aws.String("bm90LW91cnM")}, "InvalidNextTokenException"},
		{"category", cloudtrail.LookupEventsInput{EventCategory: "management"}, "InvalidEventCategoryException"},
	} {
		time.Sleep(time.Second / LookupEventsRate)
		_, err := ct.LookupEvents(context.Background(), &tc.in)
		if got := ctErrorCode(err); got != tc.code {
			t.Errorf("%s: error %v, want %s", tc.name, err, tc.code)
		}
	}
	// a token is bound to its query
	time.Sleep(time.Second / LookupEventsRate)
	page, err := ct.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(2)})
	if err != nil || page.NextToken == nil {
		t.Fatalf("first page: %v, token %v", err, page)
	}
	time.Sleep(time.Second / LookupEventsRate)
	_, err = ct.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(2), NextToken: page.NextToken,
		LookupAttributes: []cttypes.LookupAttribute{attr(cttypes.LookupAttributeKeyEventName, "StartSession")}})
	if ctErrorCode(err) != "InvalidNextTokenException" {
		t.Fatalf("token of another query: %v, want InvalidNextTokenException", err)
	}
}

func TestLookupEventsThrottleAndAuthz(t *testing.T) {
	t.Parallel()
	e, _ := newTrailEnv(t, 10, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	ct := e.cloudtrail(alice)
	throttled := 0
	begin := time.Now()
	for range 6 {
		_, err := ct.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{})
		if code := ctErrorCode(err); code == "ThrottlingException" {
			throttled++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if throttled < 3 && time.Since(begin) < time.Second {
		t.Fatalf("6 calls in %v: %d throttled, want at least 3 (2 calls a second)", time.Since(begin), throttled)
	}
	time.Sleep(time.Second)
	_, err := e.cloudtrail(ctNobody).LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{})
	if ctErrorCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "cloudtrail:LookupEvents") {
		t.Fatalf("caller without cloudtrail:LookupEvents: %v, want AccessDeniedException naming the action", err)
	}
}

func TestLookupEventsAWSCLI(t *testing.T) {
	t.Parallel()
	e, gen := newTrailEnv(t, 200, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	out, stderr, code := awsCLI(t, e, alice, alice.SecretAccessKey, "cloudtrail", "lookup-events",
		"--lookup-attributes", "AttributeKey=EventName,AttributeValue=StartSession", "--max-items", "5")
	if code != 0 {
		t.Fatalf("aws cloudtrail lookup-events: exit %d: %s", code, stderr)
	}
	var res struct {
		Events []struct {
			EventID   string `json:"EventId"`
			EventName string
		}
		NextToken string
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	newest := ""
	for _, g := range slices.Backward(gen) {
		if g.EventName == "StartSession" {
			newest = g.EventID
			break
		}
	}
	if len(res.Events) != 5 || res.Events[0].EventID != newest || res.NextToken == "" {
		t.Fatalf("aws cloudtrail lookup-events: %s", out)
	}
}

// FuzzParseLookupEvents: any body is either a query within LookupEvents'
// limits or an AWS error, never a panic.
func FuzzParseLookupEvents(f *testing.F) {
	f.Add([]byte(`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"StartSession"}],"MaxResults":50,"StartTime":1.7e9,"EndTime":1.8e9}`))
	f.Add([]byte(`{"NextToken":"x","EventCategory":"insight"}`))
	f.Add([]byte(`{"LookupAttributes":[{"AttributeKey":"ReadOnly","AttributeValue":"true"},{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := parseLookupEvents(body)
		if err != nil {
			var ae *awsproto.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an AWS error", err)
			}
			return
		}
		if q.Max < 1 || q.Max > 50 || (!q.Start.IsZero() && !q.End.IsZero() && q.Start.After(q.End)) || (q.HasAttr && q.Value == "") {
			t.Fatalf("accepted %+v", q)
		}
	})
}

// TestLookupEventsOrgScope: in an organization behind one URL, LookupEvents
// answers each account and region with its own records, and its limit of 2
// calls a second is counted per account and region.
func TestLookupEventsOrgScope(t *testing.T) {
	t.Parallel()
	e := newOrgEnv(t)
	ctx := context.Background()
	// one DescribeInstances in each of the four worlds
	for _, c := range []struct {
		region string
		id     world.Identity
	}{{testRegion, alice}, {orgWest, alice}, {testRegion, memberUser}, {orgWest, memberUser}} {
		if _, err := ec2.NewFromConfig(e.in(c.region, credsOf(c.id))).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	byEvent := func(region string, id world.Identity) []cttypes.Event {
		out, err := cloudtrail.NewFromConfig(e.in(region, credsOf(id))).LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
			AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("DescribeInstances")}}})
		if err != nil {
			t.Fatalf("%s in %s: %v", id.ARN, region, err)
		}
		return out.Events
	}
	// four calls at once: each world's own bucket, none throttled
	for _, c := range []struct {
		region  string
		id      world.Identity
		account string
	}{{testRegion, alice, testAccount}, {orgWest, alice, testAccount}, {testRegion, memberUser, orgMember}, {orgWest, memberUser, orgMember}} {
		evs := byEvent(c.region, c.id)
		if len(evs) != 1 {
			t.Fatalf("%s/%s: %d DescribeInstances records, want its own 1", c.account, c.region, len(evs))
		}
		var rec trail.Event
		if err := json.Unmarshal([]byte(aws.ToString(evs[0].CloudTrailEvent)), &rec); err != nil || rec.RecipientAccountID != c.account || rec.AWSRegion != c.region {
			t.Fatalf("%s/%s got the record of %s/%s (%v)", c.account, c.region, rec.RecipientAccountID, rec.AWSRegion, err)
		}
	}
}
