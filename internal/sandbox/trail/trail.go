// Package trail writes the sandbox's CloudTrail: one JSON object per API
// call, per line, with CloudTrail's record fields (eventTime, eventSource,
// eventName, userIdentity, sourceIPAddress, requestParameters,
// responseElements, errorCode, errorMessage, requestID, eventID, …) plus
// sandboxAuthorization, the policy decisions behind the outcome, and answers
// LookupEvents from an in-memory index of it (store.go). Secrets
// never reach it: signatures are not request parameters and session tokens
// are hidden as AWS hides them.
package trail

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Event is one CloudTrail record.
type Event struct {
	EventVersion       string       `json:"eventVersion"`
	UserIdentity       UserIdentity `json:"userIdentity"`
	EventTime          string       `json:"eventTime"`
	EventSource        string       `json:"eventSource"`
	EventName          string       `json:"eventName"`
	AWSRegion          string       `json:"awsRegion"`
	SourceIPAddress    string       `json:"sourceIPAddress"`
	UserAgent          string       `json:"userAgent"`
	ErrorCode          string       `json:"errorCode,omitempty"`
	ErrorMessage       string       `json:"errorMessage,omitempty"`
	RequestParameters  any          `json:"requestParameters"`
	ResponseElements   any          `json:"responseElements"`
	RequestID          string       `json:"requestID"`
	EventID            string       `json:"eventID"`
	ReadOnly           bool         `json:"readOnly"`
	EventType          string       `json:"eventType"`
	ManagementEvent    bool         `json:"managementEvent"`
	RecipientAccountID string       `json:"recipientAccountId"`
	EventCategory      string       `json:"eventCategory"`
	// Authorization lists the sandbox's policy decisions for the call, in
	// evaluation order (not a CloudTrail field).
	Authorization any `json:"sandboxAuthorization,omitempty"`
}

// UserIdentity is CloudTrail's userIdentity element.
type UserIdentity struct {
	Type        string `json:"type,omitempty"` // IAMUser, AssumedRole, or empty when unauthenticated
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	// SessionContext is set for temporary credentials.
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
}

// SessionContext is CloudTrail's sessionContext of temporary credentials:
// who issued them (a role, for role sessions) and their attributes.
type SessionContext struct {
	SessionIssuer *SessionIssuer `json:"sessionIssuer,omitempty"`
	Attributes    SessionAttrs   `json:"attributes"`
}

// SessionIssuer is the role whose session made the call.
type SessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// SessionAttrs are a session's creation date and whether it was
// authenticated with MFA ("true" or "false", as CloudTrail writes them).
type SessionAttrs struct {
	CreationDate     string `json:"creationDate"`
	MFAAuthenticated string `json:"mfaAuthenticated"`
}

// WithSession adds the session context of temporary credentials issued
// at issued, with MFA or not; for a role session (principal id
// AROA…:SESSION) the role is the issuer.
func (u UserIdentity) WithSession(issued time.Time, mfa bool) UserIdentity {
	sc := &SessionContext{Attributes: SessionAttrs{CreationDate: issued.UTC().Format("2006-01-02T15:04:05Z"), MFAAuthenticated: fmt.Sprint(mfa)}}
	if u.Type == "AssumedRole" {
		f := strings.SplitN(u.ARN, ":", 6)
		parts := strings.Split(f[5], "/")
		roleID, _, _ := strings.Cut(u.PrincipalID, ":")
		sc.SessionIssuer = &SessionIssuer{Type: "Role", PrincipalID: roleID, ARN: "arn:" + f[1] + ":iam::" + f[4] + ":role/" + parts[1],
			AccountID: f[4], UserName: parts[1]}
	}
	u.SessionContext = sc
	return u
}

// Identity returns the userIdentity of a caller from its ARN.
func Identity(arn, principalID, account, accessKeyID string) UserIdentity {
	u := UserIdentity{PrincipalID: principalID, ARN: arn, AccountID: account, AccessKeyID: accessKeyID}
	f := strings.SplitN(arn, ":", 6)
	if len(f) == 6 {
		switch {
		case f[2] == "iam" && strings.HasPrefix(f[5], "user/"):
			u.Type = "IAMUser"
			u.UserName = f[5][strings.LastIndex(f[5], "/")+1:]
		case f[2] == "sts" && strings.HasPrefix(f[5], "assumed-role/"):
			u.Type = "AssumedRole"
		case f[5] == "root":
			u.Type = "Root"
		}
	}
	return u
}

// New returns an event for a call with the fields every record shares.
func New(t time.Time, service, op, region, account string) Event {
	return Event{
		EventVersion:       "1.09",
		EventTime:          t.UTC().Format("2006-01-02T15:04:05Z"),
		EventSource:        service + ".amazonaws.com",
		EventName:          op,
		AWSRegion:          region,
		ReadOnly:           strings.HasPrefix(op, "Describe") || strings.HasPrefix(op, "Get") || strings.HasPrefix(op, "List"),
		EventType:          "AwsApiCall",
		ManagementEvent:    true,
		RecipientAccountID: account,
		EventCategory:      "Management",
	}
}

// Log appends events to a JSON-lines file. It is safe for concurrent use;
// a nil *Log discards.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	path string
	rf   *os.File // for lookups (store.go)
	ix   *index
}

// Open opens (creating, 0600) the log file at path for appending.
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open CloudTrail log: %w", err)
	}
	l := &Log{f: f, path: path}
	if err := l.openRead(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// Path returns the file's path.
func (l *Log) Path() string { return l.path }

// Write appends e as one line.
func (l *Log) Write(e Event) error {
	if l == nil {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode CloudTrail event: %w", err)
	}
	b = append(b, '\n')
	if _, ok := e.RequestParameters.(map[string]any); !ok && e.RequestParameters != nil {
		// the index reads resources from the parameters' JSON form
		var v struct {
			P map[string]any `json:"requestParameters"`
		}
		if json.Unmarshal(b, &v) == nil {
			e.RequestParameters = v.P
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("write CloudTrail log: %w", err)
	}
	l.ix.add(&e, l.ix.size, len(b))
	return nil
}

// Close closes the file.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rf.Close()
	return l.f.Close()
}

// HiddenValue replaces secrets in responseElements, as CloudTrail does.
const HiddenValue = "Value hidden due to security reasons."

// Elements converts an API's JSON input or output to CloudTrail's
// parameter form: field names start with a lower-case letter, nested
// objects and lists are kept, and the named secret fields are hidden.
// It returns nil for empty input.
func Elements(body []byte, secret ...string) any {
	if len(body) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil
	}
	return lowerKeys(v, secret)
}

func lowerKeys(v any, secret []string) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return nil
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			hide := false
			for _, s := range secret {
				hide = hide || s == k
			}
			if hide {
				out[lowerFirst(k)] = HiddenValue
				continue
			}
			out[lowerFirst(k)] = lowerKeys(val, secret)
		}
		return out
	case []any:
		for i := range x {
			x[i] = lowerKeys(x[i], secret)
		}
		return x
	}
	return v
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}
