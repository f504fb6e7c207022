package apis

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
)

// CloudTrail's JSON 1.1 target prefixes: the long one of its model (the
// aws CLI v1) and the short one newer SDKs send; AWS accepts both.
const (
	cloudTrailTarget      = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
	cloudTrailTargetShort = "CloudTrail_20131101"
)

// LookupEventsRate is LookupEvents' limit: 2 calls a second per account
// and region, beyond which AWS answers ThrottlingException.
const LookupEventsRate = 2

// lookupLimiter is a token bucket per account and region (capacity and
// refill LookupEventsRate a second).
type lookupLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// allow takes a token of key's bucket at now, or says the call is over
// the limit.
func (l *lookupLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: LookupEventsRate, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(LookupEventsRate, b.tokens+now.Sub(b.last).Seconds()*LookupEventsRate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (h *handler) routeCloudTrail(c *call) (any, error) {
	if c.proto != awsproto.JSON11 {
		return nil, awsproto.Errorf("InvalidAction", "Service %s speaks AWS JSON 1.1; send X-Amz-Target.", c.service)
	}
	target := c.r.Header.Get("X-Amz-Target")
	if c.r.Method == "POST" && (target == cloudTrailTarget+".LookupEvents" || target == cloudTrailTargetShort+".LookupEvents") {
		c.op = "LookupEvents"
		return h.lookupEvents(c)
	}
	return nil, awsproto.Errorf("UnknownOperationException", "Unknown operation %s", target)
}

// lookupEvent is one element of LookupEvents' Events.
type lookupEvent struct {
	EventID         string           `json:"EventId"`
	EventName       string           `json:"EventName"`
	ReadOnly        string           `json:"ReadOnly"`
	AccessKeyID     string           `json:"AccessKeyId,omitempty"`
	EventTime       float64          `json:"EventTime"`
	EventSource     string           `json:"EventSource"`
	Username        string           `json:"Username,omitempty"`
	Resources       []trail.Resource `json:"Resources"`
	CloudTrailEvent string           `json:"CloudTrailEvent"`
}

type lookupEventsOutput struct {
	Events    []lookupEvent `json:"Events"`
	NextToken string        `json:"NextToken,omitempty"`
}

// trailElements keeps the events out of the LookupEvents record (AWS
// records no response elements for it, and copying the trail into itself
// would grow it without bound).
func (lookupEventsOutput) trailElements() any { return nil }

func ctInvalid(code, msg string) error { return &awsproto.Error{Code: code, Message: msg} }

// lookupEvents serves CloudTrail LookupEvents over the sandbox's trail:
// one lookup attribute, a time range, at most 50 events a page, newest
// first, at most 2 calls a second per account and region.
func (h *handler) lookupEvents(c *call) (any, error) {
	q, err := parseLookupEvents(c.body)
	if err != nil {
		return nil, err
	}
	if err := h.authorize(c, "cloudtrail:LookupEvents", "*", nil); err != nil {
		return nil, err
	}
	q.Scope = trail.ScopeKey(h.world.Account, h.world.Region)
	if !h.lookups.allow(q.Scope, time.Now()) {
		return nil, &awsproto.Error{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	found, next, err := h.opts.Trail.Lookup(q)
	if errors.Is(err, trail.ErrBadToken) {
		return nil, ctInvalid("InvalidNextTokenException", "Invalid NextToken: it was not returned by a LookupEvents call with the same parameters.")
	}
	if err != nil {
		return nil, err
	}
	out := lookupEventsOutput{Events: make([]lookupEvent, 0, len(found)), NextToken: next}
	for _, f := range found {
		res := f.Resources
		if res == nil {
			res = []trail.Resource{}
		}
		out.Events = append(out.Events, lookupEvent{EventID: f.EventID, EventName: f.EventName, ReadOnly: strconv.FormatBool(f.ReadOnly),
			AccessKeyID: f.AccessKeyID, EventTime: float64(f.Time.Unix()), EventSource: f.EventSource, Username: f.Username,
			Resources: res, CloudTrailEvent: f.JSON})
	}
	return out, nil
}

// parseLookupEvents validates a LookupEvents body as CloudTrail does.
func parseLookupEvents(body []byte) (trail.Query, error) {
	var q trail.Query
	in, err := parseJSONObject(body)
	if err != nil {
		return q, err
	}
	attrs, err := in.objList("LookupAttributes")
	if err != nil {
		return q, err
	}
	if len(attrs) > 1 {
		return q, ctInvalid("InvalidLookupAttributesException", "You can only specify one lookup attribute.")
	}
	if len(attrs) == 1 {
		key, err := attrs[0].str("AttributeKey")
		if err != nil {
			return q, err
		}
		val, err := attrs[0].str("AttributeValue")
		if err != nil {
			return q, err
		}
		if key == nil || val == nil {
			return q, ctInvalid("InvalidLookupAttributesException", "A lookup attribute needs both AttributeKey and AttributeValue.")
		}
		a, ok := trail.ParseAttribute(*key)
		if !ok {
			return q, ctInvalid("InvalidLookupAttributesException", "Invalid AttributeKey "+strconv.Quote(*key)+": use EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource or AccessKeyId.")
		}
		if len(*val) < 1 || len(*val) > 2000 {
			return q, ctInvalid("InvalidLookupAttributesException", "AttributeValue must be 1 to 2000 characters long.")
		}
		if a == trail.AttrReadOnly && *val != "true" && *val != "false" {
			return q, ctInvalid("InvalidLookupAttributesException", "The ReadOnly attribute value must be true or false.")
		}
		q.HasAttr, q.Attr, q.Value = true, a, *val
	}
	if q.Start, err = ctTime(in, "StartTime"); err != nil {
		return q, err
	}
	if q.End, err = ctTime(in, "EndTime"); err != nil {
		return q, err
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.Start.After(q.End) {
		return q, ctInvalid("InvalidTimeRangeException", "Start time must be before end time.")
	}
	if cat, err := in.str("EventCategory"); err != nil {
		return q, err
	} else if cat != nil && *cat != "insight" {
		return q, ctInvalid("InvalidEventCategoryException", "Invalid EventCategory "+strconv.Quote(*cat)+": the only value is insight.")
	} else if cat != nil {
		return q, ctInvalid("InvalidEventCategoryException", "The sandbox records no CloudTrail Insights events.")
	}
	max, err := in.int("MaxResults")
	if err != nil {
		return q, err
	}
	q.Max = 50
	if max != nil {
		if *max < 1 || *max > 50 {
			return q, ctInvalid("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
		}
		q.Max = int(*max)
	}
	tok, err := in.str("NextToken")
	if err != nil {
		return q, err
	}
	if tok != nil {
		if *tok == "" {
			return q, ctInvalid("InvalidNextTokenException", "NextToken must not be empty.")
		}
		q.Token = *tok
	}
	return q, nil
}

// ctTime reads a JSON 1.1 timestamp (epoch seconds, possibly fractional).
func ctTime(in jsonObject, name string) (time.Time, error) {
	raw := in[name]
	if isNull(raw) {
		return time.Time{}, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f < 0 || f > 1e11 {
		return time.Time{}, serializationError("Expected a timestamp (epoch seconds) for %s.", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
