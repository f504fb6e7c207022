package apis

import (
	"strconv"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Limits of DescribeSessions (the SSM API model's).
const (
	describeSessionsMax     = 200
	describeSessionsDefault = 20
	describeSessionsFilters = 6
)

type sessionDescription struct {
	SessionID    string   `json:"SessionId"`
	Target       string   `json:"Target"`
	Status       string   `json:"Status"`
	StartDate    float64  `json:"StartDate"`
	EndDate      *float64 `json:"EndDate,omitempty"`
	DocumentName string   `json:"DocumentName"`
	Owner        string   `json:"Owner"`
	Reason       string   `json:"Reason,omitempty"`
}

// describeSessionsInput is DescribeSessions' request.
type describeSessionsInput struct {
	state   string
	max     int
	start   int
	filters map[string]string
}

func parseDescribeSessions(body []byte) (*describeSessionsInput, error) {
	in, err := parseJSONObject(body)
	if err != nil {
		return nil, err
	}
	state, err := in.str("State")
	if err != nil {
		return nil, err
	}
	maxResults, err := in.int("MaxResults")
	if err != nil {
		return nil, err
	}
	token, err := in.str("NextToken")
	if err != nil {
		return nil, err
	}
	filters, err := in.objList("Filters")
	if err != nil {
		return nil, err
	}
	var v validation
	if v.required(state, "state") && *state != "Active" && *state != "History" {
		v.fail(state, "state", "satisfy enum value set: [Active, History]")
	}
	if maxResults != nil && (*maxResults < 1 || *maxResults > describeSessionsMax) {
		n := strconv.FormatInt(*maxResults, 10)
		v.fail(&n, "maxResults", "have value between 1 and 200")
	}
	if len(filters) > describeSessionsFilters {
		n := strconv.Itoa(len(filters))
		v.fail(&n, "filters", "have length less than or equal to 6")
	}
	if err := v.err("ValidationException"); err != nil {
		return nil, err
	}
	r := &describeSessionsInput{state: *state, max: describeSessionsDefault, filters: map[string]string{}}
	if maxResults != nil {
		r.max = int(*maxResults)
	}
	if token != nil {
		n, err := strconv.Atoi(*token)
		if err != nil || n < 0 {
			return nil, awsproto.Errorf("InvalidNextToken", "The specified token is not valid.")
		}
		r.start = n
	}
	for _, f := range filters {
		k, err := f.str("key")
		if err != nil {
			return nil, err
		}
		val, err := f.str("value")
		if err != nil {
			return nil, err
		}
		if k == nil || val == nil || *val == "" {
			return nil, awsproto.Errorf("ValidationException", "A session filter needs a key and a non-empty value.")
		}
		switch *k {
		case "InvokedAfter", "InvokedBefore":
			if _, err := time.Parse(time.RFC3339, *val); err != nil {
				return nil, awsproto.Errorf("InvalidFilterValue", "The filter value %s is not a date and time such as 2018-08-29T00:00:00Z.", *val)
			}
		case "Target", "Owner", "Status", "SessionId":
		default:
			return nil, awsproto.Errorf("InvalidFilterKey", "The filter key %s is not valid.", *k)
		}
		r.filters[*k] = *val
	}
	return r, nil
}

// describeSessions serves ssm:DescribeSessions: every principal's
// sessions (the caller needs ssm:DescribeSessions, whose resource is *),
// Active or History, with SSM's filters and pagination.
func (h *handler) describeSessions(c *call) (any, error) {
	in, err := parseDescribeSessions(c.body)
	if err != nil {
		return nil, err
	}
	if err := h.authorize(c, "ssm:DescribeSessions", "*", nil); err != nil {
		return nil, err
	}
	var match []sessionDescription
	for _, s := range h.world.SessionList() {
		if s.Active != (in.state == "Active") {
			continue
		}
		d := describeSession(s)
		if sessionMatches(d, s, in.filters) {
			match = append(match, d)
		}
	}
	if in.start > len(match) {
		return nil, awsproto.Errorf("InvalidNextToken", "The specified token is not valid.")
	}
	out := struct {
		Sessions  []sessionDescription `json:"Sessions"`
		NextToken *string              `json:"NextToken,omitempty"`
	}{Sessions: match[in.start:min(in.start+in.max, len(match))]}
	if out.Sessions == nil {
		out.Sessions = []sessionDescription{}
	}
	if in.start+in.max < len(match) {
		t := strconv.Itoa(in.start + in.max)
		out.NextToken = &t
	}
	return out, nil
}

func describeSession(s world.SessionInfo) sessionDescription {
	d := sessionDescription{SessionID: s.ID, Target: s.Target, Status: "Connected", StartDate: epoch(s.Started),
		DocumentName: s.DocumentName, Owner: s.Caller, Reason: s.Reason}
	if !s.Active {
		d.Status = "Terminated"
		if !s.Ended.IsZero() {
			e := epoch(s.Ended)
			d.EndDate = &e
		}
	}
	return d
}

// sessionMatches applies DescribeSessions' filters; the dates are ISO
// 8601 (2018-08-29T00:00:00Z), as SSM wants them.
func sessionMatches(d sessionDescription, s world.SessionInfo, filters map[string]string) bool {
	for k, v := range filters {
		switch k {
		case "InvokedAfter", "InvokedBefore":
			t, _ := time.Parse(time.RFC3339, v) // checked by parseDescribeSessions
			if k == "InvokedAfter" && s.Started.Before(t) || k == "InvokedBefore" && s.Started.After(t) {
				return false
			}
		case "Target":
			if d.Target != v {
				return false
			}
		case "Owner":
			if d.Owner != v {
				return false
			}
		case "Status":
			if d.Status != v {
				return false
			}
		case "SessionId":
			if d.SessionID != v {
				return false
			}
		}
	}
	return true
}
