package apis

import (
	"net/url"
	"regexp"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Constraints from the SSM 2014-11-06 API model.
var (
	documentARNPattern = regexp.MustCompile(`^[a-zA-Z0-9_\-.:/]{3,128}$`)
	reasonPattern      = regexp.MustCompile(`^.{1,256}$`)
)

// sessionOutput is the response of StartSession and ResumeSession.
type sessionOutput struct {
	SessionID  string  `json:"SessionId"`
	StreamURL  *string `json:"StreamUrl,omitempty"`
	TokenValue *string `json:"TokenValue,omitempty"`
}

// streamURL returns the data-channel URL for session id.
func (h *handler) streamURL(c *call, id string) string {
	if h.opts.StreamURL != nil {
		return h.opts.StreamURL(id)
	}
	return "ws://" + c.r.Host + "/v1/data-channel/" + url.PathEscape(id) + "?role=publish_subscribe"
}

// startSession serves ssm:StartSession.
func (h *handler) startSession(c *call) (any, error) {
	in, err := parseJSONObject(c.body)
	if err != nil {
		return nil, err
	}
	target, err := in.str("Target")
	if err != nil {
		return nil, err
	}
	docName, err := in.str("DocumentName")
	if err != nil {
		return nil, err
	}
	reason, err := in.str("Reason")
	if err != nil {
		return nil, err
	}
	params, err := in.strListMap("Parameters")
	if err != nil {
		return nil, err
	}

	if err := validateStartSession(target, docName, reason, params); err != nil {
		return nil, err
	}

	doc := ShellDocument
	if docName != nil {
		doc = documentName(*docName)
	}
	docParams, ok := sessionDocument(doc)
	if !ok {
		return nil, awsproto.Errorf("InvalidDocument", "Document with name %s does not exist or is not a Session Manager document.", doc)
	}
	resolved, err := resolveParameters(doc, docParams, params)
	if err != nil {
		return nil, err
	}

	// Both the instance and the document must be allowed.
	inst, ok := h.world.Instance(*target)
	var keys map[string][]string
	if ok {
		keys = resourceTagKeys(inst, nil)
	}
	if err := h.authorize(c, "ssm:StartSession", h.targetARN(*target), keys); err != nil {
		return nil, err
	}
	if err := h.authorize(c, "ssm:StartSession", h.documentARN(doc), nil); err != nil {
		return nil, err
	}
	if !ok || inst.State != "running" || !inst.SSMOnline {
		return nil, awsproto.Errorf("TargetNotConnected", "%s is not connected.", *target)
	}
	sess := world.Session{
		Target:       inst.ID,
		DocumentName: doc,
		Parameters:   resolved,
		Caller:       c.id.ARN,
		Owner:        c.id.UserID,
		RunAsTag:     c.id.Tags["SSMSessionRunAs"],
	}
	if reason != nil {
		sess.Reason = *reason
	}
	s := h.world.StartSession(sess, sessionName(c.id.ARN))
	u, tok := h.streamURL(c, s.ID), s.Token
	return sessionOutput{SessionID: s.ID, StreamURL: &u, TokenValue: &tok}, nil
}

// validateStartSession checks StartSession's fields as SSM does
// (ValidationException).
func validateStartSession(target, docName, reason *string, params map[string][]string) error {
	var v validation
	if v.required(target, "target") {
		v.length(target, "target", 1, 400)
	}
	v.pattern(docName, "documentName", documentARNPattern.String(), documentARNPattern.MatchString)
	v.length(reason, "reason", 1, 256)
	v.pattern(reason, "reason", reasonPattern.String(), reasonPattern.MatchString)
	for k, vals := range params {
		name := k
		v.length(&name, "parameters", 1, 255)
		for _, val := range vals {
			v.length(&val, "parameters."+k+".member", 1, 65535)
		}
	}
	return v.err("ValidationException")
}

// sessionIDInput decodes and validates {"SessionId": "..."}.
func sessionIDInput(c *call) (string, error) {
	in, err := parseJSONObject(c.body)
	if err != nil {
		return "", err
	}
	id, err := in.str("SessionId")
	if err != nil {
		return "", err
	}
	var v validation
	if v.required(id, "sessionId") {
		v.length(id, "sessionId", 1, 96)
	}
	if err := v.err("ValidationException"); err != nil {
		return "", err
	}
	return *id, nil
}

// resumeSession serves ssm:ResumeSession: a fresh token for a live
// session; a terminated session answers without a token (the plugin then
// reports that the session timed out, ssm-protocol.md §1.3).
func (h *handler) resumeSession(c *call) (any, error) {
	id, err := sessionIDInput(c)
	if err != nil {
		return nil, err
	}
	s, ok := h.world.Session(id)
	if err := h.authorize(c, "ssm:ResumeSession", h.sessionARN(id), sessionKeys(s, ok)); err != nil {
		return nil, err
	}
	if !ok {
		return nil, awsproto.Errorf("DoesNotExistException", "Session with id %s does not exist.", id)
	}
	tok, live := h.world.ResumeSession(id)
	if !live {
		return sessionOutput{SessionID: id}, nil
	}
	u := h.streamURL(c, id)
	return sessionOutput{SessionID: id, StreamURL: &u, TokenValue: &tok}, nil
}

// terminateSession serves ssm:TerminateSession. Like AWS it succeeds for
// unknown and already terminated sessions.
func (h *handler) terminateSession(c *call) (any, error) {
	id, err := sessionIDInput(c)
	if err != nil {
		return nil, err
	}
	s, ok := h.world.Session(id)
	if err := h.authorize(c, "ssm:TerminateSession", h.sessionARN(id), sessionKeys(s, ok)); err != nil {
		return nil, err
	}
	h.world.TerminateSession(id)
	return struct {
		SessionID string `json:"SessionId"`
	}{id}, nil
}

// sessionKeys returns the condition keys of a session resource: the tag
// Session Manager puts on it naming the user id that started it.
func sessionKeys(s *world.Session, ok bool) map[string][]string {
	if !ok || s.Owner == "" {
		return nil
	}
	return map[string][]string{"ssm:resourceTag/aws:ssmmessages:session-id": {s.Owner}}
}
