// Package audit builds jitssh's access timeline: CloudTrail's records of
// the calls that grant access (SendSSHPublicKey, StartSession,
// TerminateSession, OpenTunnel, SendCommand, read with LookupEvents) joined
// with the instances' own events (jitssh-host's audit events shipped to
// CloudWatch Logs, read with FilterLogEvents) by EC2 Instance Connect
// request id and key fingerprint: IAM principal → key → OS user →
// instance → login, logout, duration. Both sides are read at once, per
// scope (profile and region); LookupEvents is paced to its own limit (2
// calls a second per account and region) by a Limiter rather than by
// failures. What does not join is kept and flagged (Gap), never hidden.
//
// The sources are interfaces (Trail, Logs) the AWS layer implements with
// the SDK's CloudTrail and CloudWatch Logs clients; this package parses,
// plans, joins and filters.
package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TrackedEvents are the CloudTrail event names the timeline follows.
var TrackedEvents = []string{"SendSSHPublicKey", "StartSession", "TerminateSession", "OpenTunnel", "SendCommand"}

// TrailEvent is a CloudTrail record, the fields the timeline uses.
type TrailEvent struct {
	Time      time.Time `json:"time"`
	Name      string    `json:"event_name"`
	Source    string    `json:"event_source"`
	Principal string    `json:"principal,omitempty"` // the caller's ARN
	Username  string    `json:"username,omitempty"`  // LookupEvents' Username
	Account   string    `json:"account,omitempty"`
	Region    string    `json:"region,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	EventID   string    `json:"event_id,omitempty"`
	ErrorCode string    `json:"error_code,omitempty"`
	ErrorMsg  string    `json:"error_message,omitempty"`
	// Instance is the instance the call names (instanceId, target,
	// instanceIds[0]); OSUser and Fingerprint are SendSSHPublicKey's
	// instanceOSUser and the SHA256 fingerprint of its key; SessionID is
	// StartSession's (response) or TerminateSession's (request).
	Instance    string `json:"instance,omitempty"`
	OSUser      string `json:"os_user,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	SessionID   string `json:"session_id,omitempty"`
	// Detail names what else the call was about: OpenTunnel's endpoint,
	// address and port, SendCommand's document.
	Detail string `json:"detail,omitempty"`
	// SendCommand's instanceIds, documentName, comment and command id.
	Instances []string `json:"instances,omitempty"`
	Document  string   `json:"document,omitempty"`
	Comment   string   `json:"comment,omitempty"`
	CommandID string   `json:"command_id,omitempty"`
	// The policy a policy call names (policyName or name, policyId or the
	// created policy's id) and the role of an inline policy.
	PolicyName string `json:"policy_name,omitempty"`
	PolicyID   string `json:"policy_id,omitempty"`
	Role       string `json:"role,omitempty"`
	// Subject is the person a call by someone else acted on (a
	// revocation), set by Collect; "" otherwise.
	Subject string `json:"subject,omitempty"`
}

// Denied reports whether the call was refused by IAM.
func (e TrailEvent) Denied() bool {
	return strings.HasPrefix(e.ErrorCode, "AccessDenied") || e.ErrorCode == "UnauthorizedOperation"
}

// ParseError is a record or event that could not be read.
type ParseError struct {
	What string // "CloudTrail record", "instance event"
	Err  error
}

func (e *ParseError) Error() string { return fmt.Sprintf("unreadable %s: %v", e.What, e.Err) }
func (e *ParseError) Unwrap() error { return e.Err }

// ParseTrailEvent reads a CloudTrail record (LookupEvents' CloudTrailEvent).
func ParseTrailEvent(record string) (TrailEvent, error) {
	var r struct {
		EventTime    time.Time `json:"eventTime"`
		EventSource  string    `json:"eventSource"`
		EventName    string    `json:"eventName"`
		AWSRegion    string    `json:"awsRegion"`
		ErrorCode    string    `json:"errorCode"`
		ErrorMessage string    `json:"errorMessage"`
		RequestID    string    `json:"requestID"`
		EventID      string    `json:"eventID"`
		Recipient    string    `json:"recipientAccountId"`
		UserIdentity struct {
			Type     string `json:"type"`
			ARN      string `json:"arn"`
			UserName string `json:"userName"`
		} `json:"userIdentity"`
		RequestParameters map[string]any `json:"requestParameters"`
		ResponseElements  map[string]any `json:"responseElements"`
	}
	if err := json.Unmarshal([]byte(record), &r); err != nil {
		return TrailEvent{}, &ParseError{What: "CloudTrail record", Err: err}
	}
	if r.EventName == "" {
		return TrailEvent{}, &ParseError{What: "CloudTrail record", Err: errors.New("no eventName")}
	}
	e := TrailEvent{Time: r.EventTime.UTC(), Name: r.EventName, Source: r.EventSource, Principal: r.UserIdentity.ARN,
		Account: r.Recipient, Region: r.AWSRegion, RequestID: r.RequestID, EventID: r.EventID,
		ErrorCode: r.ErrorCode, ErrorMsg: r.ErrorMessage}
	e.Username = r.UserIdentity.UserName
	if e.Username == "" {
		e.Username = SessionName(e.Principal)
	}
	p := r.RequestParameters
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	e.Instance = str(p, "instanceId")
	if e.Instance == "" {
		e.Instance = str(p, "target")
	}
	if ids, ok := p["instanceIds"].([]any); ok && len(ids) > 0 {
		e.Instance, _ = ids[0].(string)
		for _, v := range ids {
			if id, ok := v.(string); ok {
				e.Instances = append(e.Instances, id)
			}
		}
	}
	e.OSUser = str(p, "instanceOSUser")
	if k := str(p, "sSHPublicKey"); k != "" {
		e.Fingerprint = Fingerprint(k)
	}
	switch e.Name {
	case "OpenTunnel":
		e.Detail = strings.TrimSpace(fmt.Sprintf("endpoint=%s address=%s port=%v", str(p, "instanceConnectEndpointId"), str(p, "privateIpAddress"), p["remotePort"]))
	case "SendCommand":
		e.Document, e.Comment = str(p, "documentName"), str(p, "comment")
		e.Detail = "document=" + e.Document
		if cmd, ok := r.ResponseElements["command"].(map[string]any); ok {
			e.CommandID = str(cmd, "commandId")
		}
	}
	e.PolicyName, e.PolicyID, e.Role = firstNonEmpty(str(p, "policyName"), str(p, "name")), str(p, "policyId"), str(p, "roleName")
	if pol, ok := r.ResponseElements["policy"].(map[string]any); ok && e.PolicyID == "" {
		if sum, ok := pol["policySummary"].(map[string]any); ok {
			e.PolicyID = str(sum, "id")
		}
	}
	e.SessionID = str(p, "sessionId")
	if e.SessionID == "" {
		e.SessionID = str(r.ResponseElements, "sessionId")
	}
	return e, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// SessionName is the last part of a principal's ARN: a role session's
// name, an IAM user's name (LookupEvents' Username for them).
func SessionName(arn string) string {
	if !strings.Contains(arn, "/") {
		if strings.HasSuffix(arn, ":root") {
			return "root"
		}
		return ""
	}
	return arn[strings.LastIndex(arn, "/")+1:]
}

// Fingerprint is the SHA256 fingerprint (as ssh-keygen -l prints it) of
// an authorized_keys line "TYPE BASE64 [COMMENT]"; "" when it is not one.
func Fingerprint(key string) string {
	f := strings.Fields(key)
	if len(f) < 2 {
		return ""
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || len(blob) == 0 {
		return ""
	}
	sum := sha256.Sum256(blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// Instance event names (jitssh-host's audit events) the join uses.
const (
	HostKeyServed     = "key-served"
	HostKeyRefused    = "key-refused"
	HostSessionOpened = "session-opened"
	HostSessionClosed = "session-closed"
)

// HostEvent is one of jitssh-host's audit events as shipped to CloudWatch
// Logs (one JSON object a message).
type HostEvent struct {
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	Event       string    `json:"event"`
	Source      string    `json:"source,omitempty"`
	Instance    string    `json:"instance,omitempty"`
	OSUser      string    `json:"os_user"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Caller      string    `json:"caller,omitempty"`
	RequestID   string    `json:"request_id,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Detail      string    `json:"detail,omitempty"`
}

// ParseHostEvent reads an instance event from a log message; stream (the
// instance id, one stream per instance) fills a missing instance, and
// eventID (CloudWatch's) a missing id.
func ParseHostEvent(message, stream, eventID string) (HostEvent, error) {
	var e HostEvent
	if err := json.Unmarshal([]byte(message), &e); err != nil {
		return e, &ParseError{What: "instance event", Err: err}
	}
	if e.Event == "" {
		return e, &ParseError{What: "instance event", Err: errors.New("no event name")}
	}
	if e.Instance == "" {
		e.Instance = stream
	}
	if e.ID == "" {
		e.ID = eventID
	}
	e.Time = e.Time.UTC()
	return e, nil
}

// sshdPID is the sshd_pid=N of a session event's detail ("" if absent):
// a session's open and close events share it.
func (e HostEvent) sshdPID() string {
	for f := range strings.FieldsSeq(e.Detail) {
		if v, ok := strings.CutPrefix(f, "sshd_pid="); ok {
			return v
		}
	}
	return ""
}
