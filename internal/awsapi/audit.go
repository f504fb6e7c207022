package awsapi

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/jitssh/jitssh/internal/audit"
)

// AuditTrail returns the CloudTrail side of audit: LookupEvents, 50
// records a page.
func (c *Client) AuditTrail() audit.Trail { return auditTrail{c.cloudtrail()} }

// AuditLogs returns the instance-event side of audit: FilterLogEvents.
func (c *Client) AuditLogs() audit.Logs { return auditLogs{c.logs()} }

type auditTrail struct{ c *cloudtrail.Client }

func (t auditTrail) LookupPage(ctx context.Context, q audit.LookupQuery, token string) ([]audit.TrailEvent, string, error) {
	in := &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(50)}
	if q.Attr != "" {
		in.LookupAttributes = []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKey(q.Attr), AttributeValue: aws.String(q.Value)}}
	}
	if !q.Start.IsZero() {
		in.StartTime = aws.Time(q.Start)
	}
	if !q.End.IsZero() {
		in.EndTime = aws.Time(q.End)
	}
	if token != "" {
		in.NextToken = aws.String(token)
	}
	out, err := t.c.LookupEvents(ctx, in)
	if err != nil {
		return nil, "", explain("cloudtrail:LookupEvents", err)
	}
	evs := make([]audit.TrailEvent, 0, len(out.Events))
	for _, e := range out.Events {
		te, err := audit.ParseTrailEvent(aws.ToString(e.CloudTrailEvent))
		if err != nil {
			continue // a record this version cannot read is not a gap in access
		}
		evs = append(evs, te)
	}
	return evs, aws.ToString(out.NextToken), nil
}

type auditLogs struct{ c *cloudwatchlogs.Client }

func (l auditLogs) FilterPage(ctx context.Context, q audit.LogQuery, token string) ([]audit.HostEvent, string, error) {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(q.Group), LogStreamNames: q.Streams}
	if q.Pattern != "" {
		in.FilterPattern = aws.String(q.Pattern)
	}
	if !q.Start.IsZero() {
		in.StartTime = aws.Int64(q.Start.UnixMilli())
	}
	if !q.End.IsZero() {
		in.EndTime = aws.Int64(q.End.Add(time.Millisecond - 1).UnixMilli())
	}
	if token != "" {
		in.NextToken = aws.String(token)
	}
	out, err := l.c.FilterLogEvents(ctx, in)
	if err != nil {
		return nil, "", explain("logs:FilterLogEvents", err)
	}
	evs := make([]audit.HostEvent, 0, len(out.Events))
	for _, e := range out.Events {
		he, err := audit.ParseHostEvent(aws.ToString(e.Message), aws.ToString(e.LogStreamName), aws.ToString(e.EventId))
		if err != nil {
			continue
		}
		evs = append(evs, he)
	}
	return evs, aws.ToString(out.NextToken), nil
}
